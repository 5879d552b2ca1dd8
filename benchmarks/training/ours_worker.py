"""One measurement of the project's SFT: training.sft.run_sft as `icegrt train sft` runs it, stopped after
warm-up + timed steps; step times are read from the run's own metrics.jsonl (elapsed_s after each step).

    .venv/bin/python -m benchmarks.training.ours_worker --plan plan.json --out result.json

Run by benchmarks.training.sft_vs_trl in a fresh interpreter per measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    plan = json.loads(args.plan.read_text())
    started = time.perf_counter()

    import torch

    from training.config import SFTConfig, load_config
    from training.sft import run_sft

    warmup, steps = plan["warmup_steps"], plan["timed_steps"]
    with tempfile.TemporaryDirectory(prefix="icegrt-sft-bench-") as scratch:
        config = load_config(SFTConfig, plan["config_file"], {**plan["config_overrides"], "runs_dir": scratch})
        summary = run_sft(config, stop_after=warmup + steps)
        lines = [json.loads(x) for x in (Path(scratch) / config.name / "metrics.jsonl").read_text().splitlines()]
    records = [r for r in lines if "loss" in r and "elapsed_s" in r]
    assert [r["step"] for r in records] == list(range(1, warmup + steps + 1)), [r["step"] for r in records]
    elapsed = [0.0] + [r["elapsed_s"] for r in records]
    result = {
        "side": "ours", "threads": torch.get_num_threads(), "torch": torch.__version__,
        "timed_seconds": elapsed[warmup + steps] - elapsed[warmup],
        "step_seconds": [round(b - a, 3) for a, b in zip(elapsed, elapsed[1:], strict=False)],
        "label_tokens_per_step": [int(r["tokens"]) for r in records],
        "loss_per_step": [round(r["loss"], 4) for r in records],
        "process_seconds": round(time.perf_counter() - started, 1),
        "train_examples": summary["data"]["train_examples"],
    }
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
