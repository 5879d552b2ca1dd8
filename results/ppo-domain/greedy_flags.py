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

from train_ads import train_ads


def main(checkpoint: str) -> None:
    tokenizer, ads = train_ads(checkpoint, 40)
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
