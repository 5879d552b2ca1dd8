"""What the compact ad reward pays a checkpoint's sampled replies, by kind of reply (results/ppo-domain).

    .venv/bin/python results/ppo-domain/reward_by_reply.py runs/sft_cpu/checkpoint 1.0 0.7 0.4

For every 15th compact ad prompt of configs/ppo_domain_cpu.yaml's train prompts (24 ads), 4 replies
sampled at each temperature (full distribution, no top-k), each scored by the PPO reward
(tasks.ad_compliance.reward.compact_reward). Printed per (gold: violating or compliant, reply: a finding,
"no violation", or not JSON): count and mean reward. PPO can only learn to tell the two kinds of ads apart
when a finding earns more than "no violation" on violating ads and less on compliant ones.
"""

import collections
import json
import sys

import torch
from transformers import AutoModelForCausalLM

from tasks.ad_compliance.reward import compact_reward
from train_ads import train_ads


def reply_kind(text: str) -> str:
    try:
        return "finding" if json.loads(text).get("violations") else "no violation"
    except (ValueError, AttributeError):
        return "not JSON"


def main(checkpoint: str, temperatures: list[float]) -> None:
    tokenizer, ads = train_ads(checkpoint, 24)
    model = AutoModelForCausalLM.from_pretrained(checkpoint).eval()
    for temperature in temperatures:
        torch.manual_seed(0)
        rewards = collections.defaultdict(list)
        for prompt in ads:
            ids = torch.tensor([list(prompt.input_ids)] * 4)
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=96, do_sample=True,
                                 temperature=temperature, top_p=1.0, top_k=0)
            for row in out[:, ids.shape[1]:].tolist():
                finished = tokenizer.eos_token_id in row
                text = tokenizer.decode(row, skip_special_tokens=True)
                gold = "violating" if prompt.gold.labels else "compliant"
                rewards[(gold, reply_kind(text))].append(compact_reward(text, prompt.gold, finished))
        for (gold, kind), values in sorted(rewards.items()):
            print(f"T={temperature} {gold:<9} {kind:<12} n={len(values):<3} mean reward {sum(values) / len(values):.3f}")


if __name__ == "__main__":
    main(sys.argv[1], [float(t) for t in sys.argv[2:]])
