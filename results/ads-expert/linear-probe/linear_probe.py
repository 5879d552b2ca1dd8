"""Is ad compliance linearly readable from the model's hidden states? (issue 15 analysis)

For each model: hidden states at the verdict position (the compact prompt + '{"violations":[') from the last
and a middle layer, plus the mean over the prompt; a logistic regression fit on generated train ads, scored
(AUC) on generated dev ads and the hand-written ones (plain, subtle). Compare with the verdict-token AUC.
"""
import json, sys, time
import numpy as np
import torch
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from transformers import AutoModelForCausalLM, AutoTokenizer

from common.models import resolve_model
from tasks.ad_compliance.compact import compact_messages
from tasks.ad_compliance.data import generate_dataset, load_handwritten
from training.data.ad_compliance import AD_SEED
from training.evaluate.ads_probe import decision_tokens

torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
N_TRAIN = int(sys.argv[2]) if len(sys.argv) > 2 else 800
records = generate_dataset(seed=AD_SEED)
train = [r for r in records if r.split == "train"][:N_TRAIN]
dev = [r for r in records if r.split == "dev"]
hand = load_handwritten()


def features(model, tok, recs):
    opening, _, _ = decision_tokens(tok)
    mid = model.config.num_hidden_layers // 2
    out = {"last": [], "mid": [], "mean": []}
    for r in recs:
        text = tok.apply_chat_template(compact_messages(r.ad), tokenize=False, add_generation_prompt=True)
        ids = tok.encode(text, add_special_tokens=False) + opening
        with torch.no_grad():
            hs = model.model(torch.tensor([ids]), output_hidden_states=True).hidden_states  # no lm_head: 49k-wide logits are most of the cost
        out["last"].append(hs[-1][0, -1].numpy()); out["mid"].append(hs[mid][0, -1].numpy())
        out["mean"].append(hs[mid][0].mean(0).numpy())
    return {k: np.stack(v) for k, v in out.items()}


result = {}
for spec in sys.argv[1].split(","):
    t = time.time()
    path = resolve_model(spec)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    f_train, f_dev, f_hand = features(model, tok, train), features(model, tok, dev), features(model, tok, hand)
    y_train = np.array([bool(r.labels) for r in train]); y_dev = np.array([bool(r.labels) for r in dev])
    y_hand = np.array([bool(r.labels) for r in hand]); subtle = np.array([bool(getattr(r, "subtle", False)) for r in hand])
    row = {}
    for k in f_train:
        clf = LogisticRegressionCV(Cs=8, max_iter=3000).fit(f_train[k], y_train)
        p_dev, p_hand = clf.predict_proba(f_dev[k])[:, 1], clf.predict_proba(f_hand[k])[:, 1]
        row[k] = {"dev_auc": round(roc_auc_score(y_dev, p_dev), 3),
                  "hand_plain_auc": round(roc_auc_score(y_hand[~subtle], p_hand[~subtle]), 3),
                  "hand_subtle_auc": round(roc_auc_score(y_hand[subtle], p_hand[subtle]), 3)}
    result[spec] = row
    print(spec, json.dumps(row), f"{time.time() - t:.0f}s", flush=True)
json.dump({"n_train": len(train), "n_dev": len(dev), "n_hand": len(hand), "results": result},
          open(sys.argv[4] if len(sys.argv) > 4 else "linear_probe.json", "w"), indent=1)
