"""One measurement of the project's reward-model stage: training.reward.run_reward as `icegrt train reward` runs
it, stopped after warm-up + timed steps; step times are read from the run's own metrics.jsonl (elapsed_s after
each step). What each step was fed is taken by a wrapper around RewardStage.micro_batches (the batch tensors
are kept and compared with the plan after training, nothing in training/ changes).

    .venv/bin/python -m benchmarks.training.rm_ours_worker --plan plan.json --out result.json

Run by benchmarks.training.rm_vs_trl in a fresh interpreter per measurement.
"""

from __future__ import annotations

import json
import sys

from benchmarks.training.worker_common import fed_tokens, pairs_match_plan, run_ours, start


def main(argv: list[str] | None = None) -> int:
    args, plan, started = start(argv)
    from training.config import RewardConfig
    from training.reward import RewardStage, run_reward

    fed = []
    micro_batches = RewardStage.micro_batches

    def recording(self, step):
        batches = micro_batches(self, step)
        fed.extend((b["input_ids"], b["attention_mask"]) for b in batches)
        return batches

    RewardStage.micro_batches = recording
    timing, records, summary = run_ours(plan, RewardConfig, run_reward, started)
    args.out.write_text(json.dumps({
        **timing, "fed_tokens_per_step": [fed_tokens(*batch) for batch in fed],
        "pairs_match_plan": pairs_match_plan(fed, plan), "pairs_per_step": [int(r["pairs"]) for r in records],
        "loss_per_step": [round(r["loss"], 4) for r in records], "train_pairs": summary["data"]["train_pairs"],
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
