"""Our PPO step side by side with TRL's PPO trainer, in paired, alternated rounds (issue 19).

    benchmarks/training/setup_trl_ppo.sh    # once: .venv-trl-ppo with TRL 1.12.0 (the last with PPO)
    .venv/bin/python -m benchmarks.training.ppo_vs_trl --name cpu-ppo-vs-trl-2026-12-07 --rounds 3
    .venv/bin/python -m benchmarks.training.ppo_vs_trl --name smoke --model tiny --rounds 1 --steps 1

Both trainers run PPO on the same prompts with the same settings: the parent draws each step's rollout batch
with the project's own code (configs/ppo_tables_cpu.yaml's E2E text-to-table prompts, load_prompts and the
trainer's StepSampler) and writes a plan. Ours runs training.ppo.trainer.run_ppo (the path of `icegrt train
ppo`) in .venv (ppo_ours_worker.py); TRL runs trl.experimental.ppo.PPOTrainer in .venv-trl-ppo
(ppo_trl_worker.py). Settings shared: start model, fp32, full fine-tune (no LoRA), rollout batch, reply length
(max_new_tokens, EOS ignored on both sides so every reply has that many tokens), sampling at temperature 1
without top-k/top-p, PPO epochs, mini-batches, forward/micro-batch size, KL coefficient (fixed) and estimator,
clip ranges, vf_coef, gamma, lambda, learning rate, torch threads; the reward is the project's cell-F1 scorer
on both. Each measurement is a fresh interpreter: W warm-up steps, then K timed steps, each split into
rollout / scoring / forward / epochs / other (benchmarks.training.accounting.PPO_PHASES). In every round both
trainers run back to back, the order alternating round by round. Reported: seconds per step and ms per
generated token, the ratio TRL/ours of seconds per step of every round (above 1: ours faster), its median,
min-max and mean +- SE, and each side's phase breakdown. `results/<name>/`: command.txt, results.json,
table.md, ppo_vs_trl.png, workers.log.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.training.accounting import paired_ratios, ppo_measurement
from benchmarks.training.harness import open_results, past_deadline, run_worker
from loadtests.compare import RESULTS_DIR

ROOT = Path(__file__).resolve().parents[2]
SIDES = ("ours", "trl")
SHARED = ("seed", "rollout_batch_size", "mini_batch_size", "batch_size", "ppo_epochs", "max_new_tokens",
          "max_seq_len", "temperature", "top_p", "learning_rate", "critic_learning_rate", "max_grad_norm",
          "init_kl_coef", "kl_control", "kl_estimator", "clip_range", "clip_range_value", "vf_coef", "gamma",
          "lam", "whiten_advantages", "lora", "dtype", "threads", "critic_init", "reward_model", "task_rewards")


def build_plan(args: argparse.Namespace) -> dict:
    """The config both sides train with, and each step's prompts as our PPO samples them."""
    from common.models import resolve_model
    from training.config import load_config
    from training.loop import StepSampler
    from training.models import load_tokenizer
    from training.ppo.config import PPOConfig
    from training.ppo.prompts import load_prompts

    steps = args.warmup_steps + args.steps
    overrides = {
        "name": "bench", "model": args.model, "reward_model": "none", "critic_init": "sft",
        "rollout_batch_size": args.rollout_batch, "mini_batch_size": args.mini_batch, "batch_size": args.rollout_batch,
        "ppo_epochs": args.ppo_epochs, "max_new_tokens": args.max_new_tokens, "temperature": 1.0, "top_p": 1.0,
        "lora": False, "learning_rate": args.lr, "critic_learning_rate": args.lr, "lr_schedule": "constant",
        "warmup_ratio": 0.0, "kl_control": "fixed", "kl_estimator": "k1", "reward_scaling": "none",
        "missing_eos_penalty": 0.0, "critic_warmup_steps": 0, "eval_prompts": 0, "eval_every": 0,
        "max_steps": steps + 10, "save_every": 1_000_000, "log_every": 1, "threads": args.threads,
        "progress": False, "dtype": "float32", "device": "cpu", "rollout_engine": "hf", "metric_for_best": None,
    }
    config = load_config(PPOConfig, args.config, {**overrides, "runs_dir": "/nonexistent"})
    model_dir = resolve_model(config.model)
    tokenizer = load_tokenizer(model_dir)
    prompts, _, summary = load_prompts(config, tokenizer)
    sampler = StepSampler(len(prompts), config.rollout_batch_size, 1, config.seed)
    # the reference table travels as its fields (tasks.text_to_table.table.Table, a pydantic model)
    plan_steps = [[{"input_ids": list(prompts[i].input_ids), "gold": prompts[i].gold.model_dump(),
                    "source": prompts[i].source} for i in sampler.micro_batches(step)[0]] for step in range(steps)]
    settings = {k: getattr(config, k) for k in SHARED}
    return {"config_file": str(args.config), "config_overrides": overrides, "model_dir": str(model_dir),
            "settings": settings, "threads": args.threads, "warmup_steps": args.warmup_steps,
            "timed_steps": args.steps, "ignore_eos": True, "trl_optim": args.trl_optim,
            "trl_logging_steps": 1, "prompt_summary": summary, "steps": plan_steps}


def run_side(side: str, plan_file: Path, log: Path, timeout: float) -> dict:
    out = plan_file.with_name(f"{side}-{time.monotonic_ns()}.json")
    if side == "ours":
        cmd = [str(ROOT / ".venv/bin/python"), "-m", "benchmarks.training.ppo_ours_worker"]
    else:
        cmd = [str(ROOT / ".venv-trl-ppo/bin/python"), str(ROOT / "benchmarks/training/ppo_trl_worker.py")]
    return run_worker(side, cmd + ["--plan", str(plan_file), "--out", str(out)], plan_file, out, log, timeout)


def score(result: dict, plan: dict) -> dict:
    """The measurement's figures over its timed steps (benchmarks.training.accounting.ppo_measurement)."""
    if "error" in result:
        return result
    expected = plan["settings"]["rollout_batch_size"] * plan["settings"]["max_new_tokens"]
    checks = {"prompts_match_plan": result["prompts_match_plan"],
              "full_length_replies": all(n == expected for n in result["response_tokens_per_step"])}
    return {**ppo_measurement(result["steps"], plan["warmup_steps"], result["response_tokens_per_step"]),
            "checks": checks, **result}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.training.ppo_vs_trl",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default=None, help="Results folder name under loadtests/results/")
    parser.add_argument("--config", type=Path, default=ROOT / "configs/ppo_tables_cpu.yaml",
                        help="PPO config whose prompts (and the settings not overridden here) both sides use")
    parser.add_argument("--model", default="SmolLM2-135M-Instruct")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup-steps", type=int, default=1)
    parser.add_argument("--steps", type=int, default=2, help="Timed PPO steps per measurement")
    parser.add_argument("--rollout-batch", type=int, default=8)
    parser.add_argument("--mini-batch", type=int, default=4)
    parser.add_argument("--ppo-epochs", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-6, help="Learning rate of actor and critic (full fine-tune)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--trl-optim", default="adamw_torch_fused", help="TRL's optim (transformers' default)")
    parser.add_argument("--deadline", default=None, help="UTC HH:MM: start no round that could end after it")
    parser.add_argument("--timeout", type=float, default=1200, help="Seconds per measurement before it is killed")
    parser.add_argument("--note", default="")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    args.name = args.name or datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-ppo-vs-trl")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.training.ppo_report import plot, render_table

    args = parse_args(argv)
    out, results = open_results(args, "benchmarks.training.ppo_vs_trl", argv)
    results["rounds"] = []
    log = out / "workers.log"
    with tempfile.TemporaryDirectory(prefix="ppo-vs-trl-") as scratch:
        plan = build_plan(args)
        plan_file = Path(scratch) / "plan.json"
        plan_file.write_text(json.dumps(plan))
        results["plan"] = {k: plan[k] for k in ("settings", "config_overrides", "warmup_steps", "timed_steps",
                                                 "ignore_eos", "trl_optim", "prompt_summary")}
        results["plan"]["prompt_tokens_per_step"] = [[len(p["input_ids"]) for p in s] for s in plan["steps"]]
        round_s = None
        for rnd in range(args.rounds):
            if round_s and past_deadline(args.deadline, round_s):
                print(f"[ppo_vs_trl] deadline {args.deadline}: stopping after {rnd} rounds", flush=True)
                break
            began = time.monotonic()
            order = SIDES if rnd % 2 == 0 else SIDES[::-1]
            pair = {"round": rnd + 1, "order": list(order)}
            for side in order:
                pair[side] = score(run_side(side, plan_file, log, args.timeout), plan)
                r = pair[side]
                print(f"[ppo_vs_trl] round {rnd + 1} {side:<4} " + (
                    r["error"] if "error" in r else
                    f"{r['s_per_step']:.1f} s/step {r['phases']}, {r['ms_per_response_token']:.0f} ms/token, "
                    f"checks {r['checks']}, load {r['loadavg_before']}->{r['loadavg_after']}"), flush=True)
            results["rounds"].append(pair)
            ok = [p for p in results["rounds"] if "error" not in p["ours"] and "error" not in p["trl"]]
            # seconds per step: TRL / ours, so that above 1 means ours is faster
            results["ratio_trl_over_ours_s_per_step"] = paired_ratios(ok, "s_per_step", ours="trl", theirs="ours")
            print(f"[ppo_vs_trl] TRL/ours s per step so far {results['ratio_trl_over_ours_s_per_step']['ratios']}",
                  flush=True)
            results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
            (out / "results.json").write_text(json.dumps(results, indent=2))
            (out / "table.md").write_text(render_table(results))
            round_s = time.monotonic() - began
    plot(results, out / "ppo_vs_trl.png")
    print(f"[ppo_vs_trl] wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
