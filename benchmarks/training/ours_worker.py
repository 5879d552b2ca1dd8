"""One measurement of the project's SFT: training.sft.run_sft as `icegrt train sft` runs it, stopped after
warm-up + timed steps; step times are read from the run's own metrics.jsonl (elapsed_s after each step).

    .venv/bin/python -m benchmarks.training.ours_worker --plan plan.json --out result.json

Run by benchmarks.training.sft_vs_trl in a fresh interpreter per measurement.
"""

from __future__ import annotations

import json
import sys

from benchmarks.training.worker_common import run_ours, start


def main(argv: list[str] | None = None) -> int:
    args, plan, started = start(argv)
    from training.config import SFTConfig
    from training.sft import run_sft

    timing, records, summary = run_ours(plan, SFTConfig, run_sft, started)
    args.out.write_text(json.dumps({
        **timing, "label_tokens_per_step": [int(r["tokens"]) for r in records],
        "loss_per_step": [round(r["loss"], 4) for r in records], "train_examples": summary["data"]["train_examples"],
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
