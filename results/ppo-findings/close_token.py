"""Does PPO move the list-closing token everywhere, or only at the verdict? (candidate 3 of README.md)

In the compact answer one token, ``]}``, both closes an empty list (the "no violation" verdict, right after
``{"violations":[``) and closes a list after its last finding. Over the generated dev ads that break a
policy, teacher-forcing each one's gold answer, this reads the log-odds of closing against going on at
two places: the verdict (``]}`` against opening a finding) and right after the first finding (``]}``
against a comma that opens another), and pairs each checkpoint with the start model per ad. If PPO had
learned "close the list sooner" after findings and the weights carried it to the verdict, the second
shift would be at least as large as the first.

Usage: python close_token.py START_MODEL CHECKPOINT [CHECKPOINT ...] > close_token.json
"""

from __future__ import annotations

import json
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from common.models import resolve_model
from tasks.ad_compliance.compact import compact_answer, compact_messages
from tasks.ad_compliance.data import generate_dataset
from training.data.ad_compliance import AD_SEED, compact_findings
from training.evaluate.ads_probe import OPENING
from training.evaluate.stats import paired_difference

CLOSE, NEXT_FINDING = "]}", ',{"policy_id":"'


def decision(tokenizer, prefix: str, first: str, second: str) -> tuple[list[int], int, int]:
    """The tokens both continuations share, and the token where `first` and `second` part."""
    a = tokenizer.encode(prefix + first, add_special_tokens=False)
    b = tokenizer.encode(prefix + second, add_special_tokens=False)
    common = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
    return a[:common], a[common], b[common]


def log_odds(model, prompt_ids: list[int], shared: list[int], first: int, second: int) -> float:
    with torch.no_grad():
        logits = model(torch.tensor([prompt_ids + shared])).logits[0, -1].float()
    return (logits[first] - logits[second]).item()


def read(path, ads) -> list[dict]:
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    rows = []
    for ad in ads:
        text = tokenizer.apply_chat_template(compact_messages(ad.ad), tokenize=False, add_generation_prompt=True)
        prompt_ids = tokenizer.encode(text, add_special_tokens=False)
        after_first = compact_answer(compact_findings(ad)[:1]).removesuffix(CLOSE)
        rows.append({"id": ad.id,
                     "verdict": log_odds(model, prompt_ids, *decision(tokenizer, OPENING, CLOSE, '{"policy_id":"')),
                     "after_first": log_odds(model, prompt_ids, *decision(tokenizer, after_first, CLOSE, NEXT_FINDING))})
        print(f"{path}: {len(rows)}/{len(ads)}", file=sys.stderr, end="\r")
    return rows


def main(start: str, *checkpoints: str) -> None:
    ads = [r for r in generate_dataset(seed=AD_SEED) if r.split == "dev" and r.labels]
    base = read(resolve_model(start), ads)
    report = {"ads": len(ads), "start": start, "what": "log-odds of closing the list, paired shift against the start",
              "start_mean": {k: sum(r[k] for r in base) / len(base) for k in ("verdict", "after_first")}, "runs": {}}
    for checkpoint in checkpoints:
        rows = read(resolve_model(checkpoint), ads)
        report["runs"][checkpoint] = {k: paired_difference([r[k] for r in rows], [r[k] for r in base])
                                      for k in ("verdict", "after_first")}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:])
