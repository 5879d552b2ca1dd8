"""One measurement of the project's PPO: training.ppo.trainer.run_ppo as `icegrt train ppo` runs it, stopped
after warm-up + timed steps. Phase times come from timers wrapped around PPOTrainer's own phase methods in this
process (generate, raw_scores, forward_rollout, ppo_epochs; nothing in training/ changes); each step's total
from the run's metrics.jsonl (elapsed_s after each step).

    .venv/bin/python -m benchmarks.training.ppo_ours_worker --plan plan.json --out result.json

Run by benchmarks.training.ppo_vs_trl in a fresh interpreter per measurement.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

NEVER = -1  # an EOS id no token has: every reply runs to max_new_tokens (TRL's default without a stop token)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    plan = json.loads(args.plan.read_text())
    started = time.perf_counter()

    import torch

    from benchmarks.training.accounting import phase_split
    from training.config import load_config
    from training.models import load_tokenizer
    from training.ppo import trainer as ppo
    from training.ppo.config import PPOConfig
    from training.ppo.rollout import HFRollout

    warmup, steps = plan["warmup_steps"], plan["timed_steps"]
    timers: list[dict[str, float]] = []  # per step: phase -> seconds
    seen: list[dict] = []  # per step: the prompts sampled and the reply lengths

    def timed(name: str, method):
        @functools.wraps(method)
        def wrapper(self, *a, **k):
            t0 = time.perf_counter()
            result = method(self, *a, **k)
            timers[-1][name] += time.perf_counter() - t0
            if name == "rollout":
                seen.append({"prompts": [list(s.prompt.input_ids) for s in result],
                             "response_tokens": [len(s.response_ids) for s in result]})
            return result
        return wrapper

    step = ppo.PPOTrainer.step

    @functools.wraps(step)
    def timed_step(self, *a, **k):
        timers.append(defaultdict(float))
        return step(self, *a, **k)

    ppo.PPOTrainer.step = timed_step
    for name, attr in (("rollout", "generate"), ("scoring", "raw_scores"), ("forward", "forward_rollout"),
                       ("epochs", "ppo_epochs")):
        setattr(ppo.PPOTrainer, attr, timed(name, getattr(ppo.PPOTrainer, attr)))

    with tempfile.TemporaryDirectory(prefix="icegrt-ppo-bench-") as scratch:
        config = load_config(PPOConfig, plan["config_file"], {**plan["config_overrides"], "runs_dir": scratch})
        tokenizer = load_tokenizer(Path(plan["model_dir"]))
        rollout = HFRollout(None, NEVER if plan["ignore_eos"] else tokenizer.eos_token_id, tokenizer.pad_token_id,
                            "cpu")
        run_started = time.perf_counter()
        ppo.run_ppo(config, stop_after=warmup + steps, rollout=rollout)
        lines = [json.loads(x) for x in (Path(scratch) / config.name / "metrics.jsonl").read_text().splitlines()]
    records = [r for r in lines if "step_s" in r]
    assert [r["step"] for r in records] == list(range(1, warmup + steps + 1)), [r["step"] for r in records]
    elapsed = [0.0] + [r["elapsed_s"] for r in records]
    totals = [b - a for a, b in zip(elapsed, elapsed[1:], strict=False)]
    result = {
        "side": "ours", "threads": torch.get_num_threads(), "torch": torch.__version__,
        "steps": [phase_split(total, dict(t)) for total, t in zip(totals, timers, strict=True)],
        "step_s_metric": [r["step_s"] for r in records], "rollout_s_metric": [r["rollout_s"] for r in records],
        "response_tokens_per_step": [sum(s["response_tokens"]) for s in seen[: warmup + steps]],
        "response_lengths": [s["response_tokens"] for s in seen[: warmup + steps]],
        "prompts_match_plan": [s["prompts"] for s in seen[: warmup + steps]]
        == [[p["input_ids"] for p in step] for step in plan["steps"]],
        "reward_per_step": [round(r["reward"], 4) for r in records],
        "kl_per_step": [round(r["kl"], 4) for r in records],
        "setup_seconds": round(run_started - started, 1),
        "process_seconds": round(time.perf_counter() - started, 1),
    }
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
