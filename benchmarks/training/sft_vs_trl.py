"""Our SFT's training speed side by side with TRL's SFTTrainer, in paired, alternated rounds (issue 19).

    benchmarks/training/setup_trl.sh        # once: .venv-trl with TRL beside the project's torch
    .venv/bin/python -m benchmarks.training.sft_vs_trl --name cpu-sft-vs-trl-2026-12-06 --rounds 3 --modes lora full
    .venv/bin/python -m benchmarks.training.sft_vs_trl --name smoke --model tiny --rounds 1 --warmup-steps 1 --steps 2

Both trainers train the same model on the same batches: the parent draws the data with the project's own
code (the SFT config's mix, prepare_data, StepSampler) and writes a plan with each step's conversations and
our token ids and labels. Ours runs training.sft.run_sft (the path of `icegrt train sft`) in .venv; TRL runs
SFTTrainer in .venv-trl (trl_worker.py) with assistant-only loss, no packing, no padding-free, a sequential
sampler, fp32, AdamW, the same learning rate, batch, max length, LoRA settings and torch thread count. Each
measurement is a fresh interpreter: W warm-up steps, then K timed steps. In every round each mode runs both
trainers back to back, the order alternating round by round (ours first, TRL first, ...), as
loadtests/paired.py does, so drift in what else runs on the machine lands on both. Reported per round:
real (non-pad) and padded tokens/s, ms per real token; per mode the ratio ours/TRL of every round, its median,
min-max and mean +- standard error. `results/<name>/`: command.txt, results.json, table.md, sft_vs_trl.png,
peak.json (this machine's matmul peak, benchmarks.training.peak).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.training.accounting import rates, step_tokens, sum_tokens
from benchmarks.training.harness import (
    ROOT, TRL_PYTHON, VENV_PYTHON, Benchmark, config_overrides, new_parser, parse, plan_header, run,
)
from benchmarks.training.report import plot, render_table

FULL_LR = 2e-5  # full fine-tuning at the LoRA config's 1e-3 could trip our divergence guard in a few steps


def build_plan(args: argparse.Namespace, lora: bool) -> dict:
    """The config both sides train with, and each step's examples as our SFT draws them."""
    from common.models import resolve_model
    from training.config import SFTConfig, load_config
    from training.data.chat import encode_conversation
    from training.data.sources import build_mix
    from training.loop import StepSampler
    from training.models import load_tokenizer
    from training.sft import prepare_data

    overrides = config_overrides(args, lora)
    if args.mix:
        overrides["mix"] = args.mix
    if not lora:
        overrides["learning_rate"] = args.full_lr
    config = load_config(SFTConfig, args.config, {**overrides, "runs_dir": "/nonexistent"})
    model_dir = resolve_model(config.model)
    tokenizer = load_tokenizer(model_dir)
    train_set, _, _ = prepare_data(config, tokenizer)
    # the conversations behind train_set, as prepare_data encodes them (checked to be the same)
    conversations, _ = build_mix(config.mix, config.seed)
    kept = [(c, e) for c in conversations[config.eval_examples:]
            if (e := encode_conversation(tokenizer, c.messages, config.max_seq_len)) is not None]
    assert [e.input_ids for _, e in kept] == [e.input_ids for e in train_set], "data drawn differently"
    sampler = StepSampler(len(train_set), config.batch_size, 1, config.seed)
    plan_steps = []
    for step in range(args.warmup_steps + args.steps):
        (indices,) = sampler.micro_batches(step)
        plan_steps.append([{"messages": [{"role": m["role"], "content": m["content"]} for m in kept[i][0].messages],
                            "input_ids": kept[i][1].input_ids, "labels": kept[i][1].labels} for i in indices])
    return {**plan_header(args, config, overrides, model_dir), "steps": plan_steps}


def tokens_per_step(plan: dict) -> list[dict[str, int]]:
    return [step_tokens([(ex["input_ids"], ex["labels"]) for ex in step]) for step in plan["steps"]]


def score(result: dict, plan: dict) -> dict:
    """The measurement's rates over its timed steps, counting the tokens of the plan's batches."""
    if "error" in result:
        return result
    warmup = plan["warmup_steps"]
    per_step = tokens_per_step(plan)
    tokens = sum_tokens(per_step[warmup:])
    checks = {"labels_match_plan": result["label_tokens_per_step"] == [s["labels"] for s in per_step]}
    if "fed_tokens_per_step" in result:
        checks["fed_tokens_match_plan"] = [{k: f[k] for k in ("real", "padded")} for f in result[
            "fed_tokens_per_step"]] == [{k: s[k] for k in ("real", "padded")} for s in per_step]
        checks["examples_differing_from_ours"] = len(result["examples_differing_from_ours"])
    return {**rates(result["timed_seconds"], tokens), "tokens": tokens, "checks": checks,
            **{k: v for k, v in result.items() if k not in ("fed_tokens_per_step",)}}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = new_parser("sft_vs_trl", __doc__, config="configs/sft_cpu.yaml", batch_size=8, max_seq_len=320,
                        threads=2, config_help="SFT config whose data mix, LoRA and learning rate both sides use")
    parser.add_argument("--mix", default=None, help="Override the config's mix (source=count,...)")
    parser.add_argument("--full-lr", type=float, default=FULL_LR, help="Learning rate of the full fine-tune")
    parser.add_argument("--no-peak", action="store_true", help="Skip the matmul peak")
    return parse(parser, argv)


def describe(r: dict) -> str:
    return (f"{r['real_tok_s']:.1f} real tok/s, {r['padded_tok_s']:.1f} padded tok/s, "
            f"{r['ms_per_real_token']:.2f} ms/real token, steps {r['step_seconds']} s, "
            f"checks {r['checks']}, load {r['loadavg_before']}->{r['loadavg_after']}")


def measure_peak(args: argparse.Namespace, out: Path, results: dict) -> None:
    """This machine's matmul peak at the benchmark's batch, into peak.json and the results."""
    if args.no_peak:
        return
    from benchmarks.training.peak import main as peak_main

    peak_main(["--model", args.model, "--threads", str(args.threads), "--tokens",
               str(args.batch_size * args.max_seq_len), "--out", str(out / "peak.json")])
    results["peak"] = json.loads((out / "peak.json").read_text())


BENCHMARK = Benchmark(
    tag="sft_vs_trl", build_plan=build_plan,
    tokens_per_step=tokens_per_step,
    workers={"ours": [VENV_PYTHON, "-m", "benchmarks.training.ours_worker"],
             "trl": [TRL_PYTHON, str(ROOT / "benchmarks/training/trl_worker.py")]},
    score=score, describe=describe, render_table=render_table, plot=plot, figure="real_tok_s",
    prologue=measure_peak)


def main(argv: Sequence[str] | None = None) -> int:
    return run(BENCHMARK, parse_args(argv), argv)


if __name__ == "__main__":
    sys.exit(main())
