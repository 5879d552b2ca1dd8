"""How many train ads a checkpoint flags with greedy replies: the collapse check of results/ppo-domain.

    .venv/bin/python results/ppo-domain/greedy_flags.py runs/ppo_domain_cpu/checkpoint

Every 15th compact ad prompt of configs/ppo_domain_cpu.yaml's train prompts (40 ads, 19 violating), one
greedy reply each (64 tokens at most). Prints each ad's gold verdict, the reply's and the reply, then how
many replies flag anything and the verdict accuracy. SFT (runs/sft_cpu): 19 of 40 flagged, 0.75.
"""

import json
import sys

import torch
from transformers import AutoModelForCausalLM

from training.config import load_config
from training.models import load_tokenizer
from training.ppo.config import PPOConfig
from training.ppo.prompts import load_prompts


def main(checkpoint: str) -> None:
    # the prompts of configs/ppo_domain_cpu.yaml, tokenized by the checkpoint's own tokenizer
    config = load_config(PPOConfig, "configs/ppo_domain_cpu.yaml", {"runs_dir": "/tmp/unused", "model": checkpoint})
    tokenizer = load_tokenizer(config.model)
    train, _, _ = load_prompts(config, tokenizer)
    ads = [p for p in train if p.source == "ad_compliance_compact"][::15][:40]
    model = AutoModelForCausalLM.from_pretrained(checkpoint).eval()
    flagged = right = 0
    for prompt in ads:
        ids = torch.tensor([list(prompt.input_ids)])
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=64, do_sample=False)
        text = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        try:
            flags = bool(json.loads(text).get("violations"))
        except (ValueError, AttributeError):
            flags = False
        flagged += flags
        right += flags == bool(prompt.gold.labels)
        print(bool(prompt.gold.labels), flags, text[:100].replace("\n", " "))
    print(f"flagged {flagged}/{len(ads)}, verdict accuracy {right / len(ads):.2f}, "
          f"violating {sum(bool(p.gold.labels) for p in ads)}")


if __name__ == "__main__":
    main(sys.argv[1])
