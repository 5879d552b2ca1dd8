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
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks.training.accounting import paired_ratios, rates, step_tokens, sum_tokens
from benchmarks.training.report import plot, render_table
from loadtests.compare import RESULTS_DIR, machine

ROOT = Path(__file__).resolve().parents[2]
SIDES = ("ours", "trl")
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

    steps = args.warmup_steps + args.steps
    overrides = {"name": "bench", "model": args.model, "batch_size": args.batch_size, "grad_accum_steps": 1,
                 "max_seq_len": args.max_seq_len, "max_steps": steps + 1, "lr_schedule": "constant",
                 "warmup_ratio": 0.0, "eval_every": 0, "save_every": 1_000_000, "threads": args.threads,
                 "progress": False, "overwrite": True, "dtype": "float32", "lora": lora, "device": "cpu",
                 "gradient_checkpointing": False}
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
    for step in range(steps):
        (indices,) = sampler.micro_batches(step)
        plan_steps.append([{"messages": [{"role": m["role"], "content": m["content"]} for m in kept[i][0].messages],
                            "input_ids": kept[i][1].input_ids, "labels": kept[i][1].labels} for i in indices])
    settings = {k: getattr(config, k) for k in (
        "seed", "batch_size", "max_seq_len", "learning_rate", "weight_decay", "max_grad_norm", "lora", "lora_r",
        "lora_alpha", "lora_dropout", "lora_target_modules", "dtype", "threads")}
    return {"mode": "lora" if lora else "full", "config_file": str(args.config),
            "config_overrides": overrides, "model_dir": str(model_dir), "settings": settings,
            "threads": args.threads, "warmup_steps": args.warmup_steps, "timed_steps": args.steps,
            "trl_optim": args.trl_optim, "trl_logging_steps": args.trl_logging_steps, "steps": plan_steps}


def run_side(side: str, plan_file: Path, log: Path, timeout: float) -> dict:
    """One measurement in a fresh interpreter; its result (or the error)."""
    out = plan_file.with_name(f"{side}-{time.monotonic_ns()}.json")
    python = ROOT / (".venv" if side == "ours" else ".venv-trl") / "bin" / "python"
    cmd = ([str(python), "-m", "benchmarks.training.ours_worker"] if side == "ours"
           else [str(python), str(ROOT / "benchmarks/training/trl_worker.py")]) + ["--plan", str(plan_file),
                                                                                   "--out", str(out)]
    return run_worker(side, cmd, plan_file, out, log, timeout)


def run_worker(side: str, cmd: list[str], plan_file: Path, out: Path, log: Path, timeout: float) -> dict:
    """Run a worker command (one side's measurement; it writes its result to `out`) with the plan's thread
    count, offline, its output appended to `log`; its result with the load average before and after."""
    threads = str(json.loads(plan_file.read_text())["threads"])
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "TOKENIZERS_PARALLELISM": "false",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    load_before = os.getloadavg()[0]
    with log.open("a") as handle:
        handle.write(f"\n=== {side} {datetime.now(timezone.utc).isoformat()} {shlex.join(cmd)}\n")
        handle.flush()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=timeout)
    if proc.returncode != 0 or not out.exists():
        return {"error": f"{side} exited {proc.returncode}; see {log.name}"}
    result = json.loads(out.read_text())
    result["loadavg_before"], result["loadavg_after"] = round(load_before, 2), round(os.getloadavg()[0], 2)
    return result


def score(result: dict, plan: dict) -> dict:
    """The measurement's rates over its timed steps, counting the tokens of the plan's batches."""
    if "error" in result:
        return result
    warmup = plan["warmup_steps"]
    per_step = [step_tokens([(ex["input_ids"], ex["labels"]) for ex in step]) for step in plan["steps"]]
    tokens = sum_tokens(per_step[warmup:])
    checks = {"labels_match_plan": result["label_tokens_per_step"] == [s["labels"] for s in per_step]}
    if "fed_tokens_per_step" in result:
        checks["fed_tokens_match_plan"] = [{k: f[k] for k in ("real", "padded")} for f in result[
            "fed_tokens_per_step"]] == [{k: s[k] for k in ("real", "padded")} for s in per_step]
        checks["examples_differing_from_ours"] = len(result["examples_differing_from_ours"])
    return {**rates(result["timed_seconds"], tokens), "tokens": tokens, "checks": checks,
            **{k: v for k, v in result.items() if k not in ("fed_tokens_per_step",)}}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.training.sft_vs_trl",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default=None, help="Results folder name under loadtests/results/")
    parser.add_argument("--config", type=Path, default=ROOT / "configs/sft_cpu.yaml",
                        help="SFT config whose data mix, LoRA and learning rate both sides use")
    parser.add_argument("--model", default="SmolLM2-135M-Instruct")
    parser.add_argument("--mix", default=None, help="Override the config's mix (source=count,...)")
    parser.add_argument("--modes", nargs="+", choices=("lora", "full"), default=["lora", "full"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup-steps", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4, help="Timed optimizer steps per measurement")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-seq-len", type=int, default=320)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--full-lr", type=float, default=FULL_LR, help="Learning rate of the full fine-tune")
    parser.add_argument("--trl-optim", default="adamw_torch_fused",
                        help="TrainingArguments.optim of TRL (its default: adamw_torch_fused)")
    parser.add_argument("--trl-logging-steps", type=int, default=10, help="TRL's logging_steps (its default: 10)")
    parser.add_argument("--deadline", default=None, help="UTC HH:MM: start no round that could end after it")
    parser.add_argument("--timeout", type=float, default=900, help="Seconds per measurement before it is killed")
    parser.add_argument("--no-peak", action="store_true", help="Skip the matmul peak")
    parser.add_argument("--note", default="")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    args.name = args.name or datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-sft-vs-trl")
    return args


def past_deadline(deadline: str | None, needed_s: float) -> bool:
    if not deadline:
        return False
    now = datetime.now(timezone.utc)
    hh, mm = (int(x) for x in deadline.split(":"))
    end = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if end < now and (now - end).total_seconds() > 12 * 3600:  # HH:MM of the next day
        end += timedelta(days=1)
    return (end - now).total_seconds() < needed_s


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.results_dir / args.name
    out.mkdir(parents=True, exist_ok=True)
    command = shlex.join([".venv/bin/python", "-m", "benchmarks.training.sft_vs_trl",
                          *(sys.argv[1:] if argv is None else argv)])
    (out / "command.txt").write_text(command + "\n")
    log = out / "workers.log"
    results = {"name": args.name, "command": command, "machine": machine(), "note": args.note,
               "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "modes": {}}
    if not args.no_peak:
        from benchmarks.training.peak import main as peak_main

        peak_main(["--model", args.model, "--threads", str(args.threads), "--tokens",
                   str(args.batch_size * args.max_seq_len), "--out", str(out / "peak.json")])
        results["peak"] = json.loads((out / "peak.json").read_text())
    with tempfile.TemporaryDirectory(prefix="sft-vs-trl-") as scratch:
        plans = {}
        for mode in args.modes:
            plan = build_plan(args, lora=mode == "lora")
            plans[mode] = Path(scratch) / f"plan-{mode}.json"
            plans[mode].write_text(json.dumps(plan))
            per_step = [step_tokens([(ex["input_ids"], ex["labels"]) for ex in s]) for s in plan["steps"]]
            results["modes"][mode] = {"settings": plan["settings"], "tokens_per_step": per_step, "rounds": []}
        round_s = None
        for rnd in range(args.rounds):
            if round_s and past_deadline(args.deadline, round_s):
                print(f"[sft_vs_trl] deadline {args.deadline}: stopping after {rnd} rounds", flush=True)
                break
            began = time.monotonic()
            order = SIDES if rnd % 2 == 0 else SIDES[::-1]
            for mode in args.modes:
                plan = json.loads(plans[mode].read_text())
                pair = {"round": rnd + 1, "order": list(order)}
                for side in order:
                    pair[side] = score(run_side(side, plans[mode], log, args.timeout), plan)
                    r = pair[side]
                    print(f"[sft_vs_trl] round {rnd + 1} {mode:<4} {side:<4} " + (
                        r["error"] if "error" in r else
                        f"{r['real_tok_s']:.1f} real tok/s, {r['padded_tok_s']:.1f} padded tok/s, "
                        f"{r['ms_per_real_token']:.2f} ms/real token, steps {r['step_seconds']} s, "
                        f"checks {r['checks']}, load {r['loadavg_before']}->{r['loadavg_after']}"), flush=True)
                results["modes"][mode]["rounds"].append(pair)
                ok = [p for p in results["modes"][mode]["rounds"] if "error" not in p["ours"] and "error" not in p["trl"]]
                results["modes"][mode]["ratio_real_tok_s"] = paired_ratios(ok, "real_tok_s")
                print(f"[sft_vs_trl] {mode}: ours/trl so far {results['modes'][mode]['ratio_real_tok_s']['ratios']}",
                      flush=True)
                results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
                (out / "results.json").write_text(json.dumps(results, indent=2))
                (out / "table.md").write_text(render_table(results))
            round_s = time.monotonic() - began
    plot(results, out / "sft_vs_trl.png")
    print(f"[sft_vs_trl] wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
