"""What the ours-vs-TRL training benchmarks share (sft_vs_trl, rm_vs_trl; ppo_vs_trl takes the worker runner):
their common options, the config overrides that make our run a bare timed loop, the plan's header, one
fresh-interpreter measurement, and the whole run: :class:`Benchmark` says what differs, :func:`run` does it.

A run: the results folder (command.txt), one plan per mode (``lora``, ``full``) written to a scratch folder,
the rounds, then the plot.

Rounds: in every round each mode runs both trainers back to back, the order alternating round by round (ours
first, TRL first, ...), as loadtests/paired.py does, so drift in what else runs on the machine lands on both.
After every pair the results folder is rewritten (results.json, table.md), so a stopped run keeps its rounds.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks.training.accounting import paired_ratios
from loadtests.compare import RESULTS_DIR, machine

ROOT = Path(__file__).resolve().parents[2]
SIDES = ("ours", "trl")
VENV_PYTHON, TRL_PYTHON = str(ROOT / ".venv/bin/python"), str(ROOT / ".venv-trl/bin/python")
SETTINGS = ("seed", "batch_size", "max_seq_len", "learning_rate", "weight_decay", "max_grad_norm", "lora", "lora_r",
            "lora_alpha", "lora_dropout", "lora_target_modules", "dtype", "threads")
"""The config fields both sides train with, written to the plan for the TRL worker."""


def new_parser(tag: str, doc: str, *, config: str, config_help: str, batch_size: int, max_seq_len: int,
               threads: int) -> argparse.ArgumentParser:
    """The options every paired benchmark takes, with this benchmark's defaults where they differ."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.training.{tag}", description=doc.split("\n\n")[0])
    parser.add_argument("--name", default=None, help="Results folder name under loadtests/results/ (default: "
                        f"the UTC time and {tag.replace('_', '-')})")
    parser.add_argument("--config", type=Path, default=ROOT / config, help=config_help)
    parser.add_argument("--model", default="SmolLM2-135M-Instruct")
    parser.add_argument("--modes", nargs="+", choices=("lora", "full"), default=["lora", "full"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup-steps", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4, help="Timed optimizer steps per measurement")
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--max-seq-len", type=int, default=max_seq_len)
    parser.add_argument("--threads", type=int, default=threads)
    parser.add_argument("--trl-optim", default="adamw_torch_fused",
                        help="TrainingArguments.optim of TRL (its default: adamw_torch_fused)")
    parser.add_argument("--trl-logging-steps", type=int, default=10, help="TRL's logging_steps (its default: 10)")
    parser.add_argument("--deadline", default=None, help="UTC HH:MM: start no round that could end after it")
    parser.add_argument("--timeout", type=float, default=900, help="Seconds per measurement before it is killed")
    parser.add_argument("--note", default="")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    tag = parser.prog.rpartition(".")[2]
    args.name = args.name or datetime.now(timezone.utc).strftime(f"%Y%m%d-%H%M%S-{tag.replace('_', '-')}")
    return args


def config_overrides(args: argparse.Namespace, lora: bool) -> dict:
    """Overrides of a training config that leave one bare loop to time: one micro-batch a step, a constant
    rate, no evaluation or checkpoint before the measurement's last step, fp32 on the CPU."""
    return {"name": "bench", "model": args.model, "batch_size": args.batch_size, "grad_accum_steps": 1,
            "max_seq_len": args.max_seq_len, "max_steps": args.warmup_steps + args.steps + 1,
            "lr_schedule": "constant", "warmup_ratio": 0.0, "eval_every": 0, "save_every": 1_000_000,
            "threads": args.threads, "progress": False, "overwrite": True, "dtype": "float32", "lora": lora,
            "device": "cpu", "gradient_checkpointing": False}


def plan_header(args: argparse.Namespace, config, overrides: dict, model_dir: Path) -> dict:
    """Everything of a plan but its steps: what each worker needs to build its trainer."""
    return {"mode": "lora" if config.lora else "full", "config_file": str(args.config),
            "config_overrides": overrides, "model_dir": str(model_dir),
            "settings": {k: getattr(config, k) for k in SETTINGS}, "threads": args.threads,
            "warmup_steps": args.warmup_steps, "timed_steps": args.steps, "trl_optim": args.trl_optim,
            "trl_logging_steps": args.trl_logging_steps}


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


def past_deadline(deadline: str | None, needed_s: float) -> bool:
    if not deadline:
        return False
    now = datetime.now(timezone.utc)
    hh, mm = (int(x) for x in deadline.split(":"))
    end = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if end < now and (now - end).total_seconds() > 12 * 3600:  # HH:MM of the next day
        end += timedelta(days=1)
    return (end - now).total_seconds() < needed_s


def open_results(args: argparse.Namespace, module: str, argv: Sequence[str] | None) -> tuple[Path, dict]:
    """The results folder (with command.txt) and the results' start: name, command, machine, settings."""
    out = args.results_dir / args.name
    out.mkdir(parents=True, exist_ok=True)
    command = shlex.join([".venv/bin/python", "-m", module, *(sys.argv[1:] if argv is None else argv)])
    (out / "command.txt").write_text(command + "\n")
    return out, {"name": args.name, "command": command, "machine": machine(), "note": args.note,
                 "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}


def run_rounds(args: argparse.Namespace, tag: str, out: Path, results: dict,
               measure: Callable[[str, str], dict], describe: Callable[[dict], str],
               render_table: Callable[[dict], str], figure: str) -> None:
    """Paired, alternated rounds over ``results["modes"]``: `measure(side, mode)` is one scored measurement,
    `describe` its one-line summary; per mode the ratio ours/TRL of `figure` is kept up to date."""
    round_s = None
    for rnd in range(args.rounds):
        if round_s and past_deadline(args.deadline, round_s):
            print(f"[{tag}] deadline {args.deadline}: stopping after {rnd} rounds", flush=True)
            break
        began = time.monotonic()
        order = SIDES if rnd % 2 == 0 else SIDES[::-1]
        for mode, data in results["modes"].items():
            pair = {"round": rnd + 1, "order": list(order)}
            for side in order:
                r = pair[side] = measure(side, mode)
                print(f"[{tag}] round {rnd + 1} {mode:<4} {side:<4} " + (r["error"] if "error" in r else describe(r)),
                      flush=True)
            data["rounds"].append(pair)
            ok = [p for p in data["rounds"] if "error" not in p["ours"] and "error" not in p["trl"]]
            data[f"ratio_{figure}"] = paired_ratios(ok, figure)
            print(f"[{tag}] {mode}: ours/trl {figure} so far {data[f'ratio_{figure}']['ratios']}", flush=True)
            results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
            (out / "results.json").write_text(json.dumps(results, indent=2))
            (out / "table.md").write_text(render_table(results))
        round_s = time.monotonic() - began


@dataclass(frozen=True)
class Benchmark:
    """What one paired benchmark is made of."""

    tag: str  # the module's name under benchmarks.training, also the prefix of its log lines and its plot's name
    build_plan: Callable[[argparse.Namespace, bool], dict]  # (args, lora) -> the plan both workers read
    tokens_per_step: Callable[[dict], list[dict]]  # plan -> the counts of each of its steps
    workers: dict[str, list[str]]  # side -> its worker's command, to which --plan and --out are added
    score: Callable[[dict, dict], dict]  # (worker result, plan) -> the scored measurement
    describe: Callable[[dict], str]  # a scored measurement in one line
    render_table: Callable[[dict], str]
    plot: Callable[[dict, Path], None]
    figure: str  # the scored figure whose ratio ours / TRL is the headline
    prologue: Callable[[argparse.Namespace, Path, dict], None] | None = None  # (args, out, results), before rounds


def run(bench: Benchmark, args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    out, results = open_results(args, f"benchmarks.training.{bench.tag}", argv)
    results["modes"] = {}
    log = out / "workers.log"
    if bench.prologue:
        bench.prologue(args, out, results)
    with tempfile.TemporaryDirectory(prefix=f"{bench.tag}-") as scratch:
        plans, plan_files = {}, {}
        for mode in args.modes:
            plans[mode] = plan = bench.build_plan(args, mode == "lora")
            plan_files[mode] = Path(scratch) / f"plan-{mode}.json"
            plan_files[mode].write_text(json.dumps(plan))
            results["modes"][mode] = {"settings": plan["settings"], "tokens_per_step": bench.tokens_per_step(plan),
                                      "rounds": []}

        def measure(side: str, mode: str) -> dict:
            result_file = Path(scratch) / f"{side}-{time.monotonic_ns()}.json"
            cmd = [*bench.workers[side], "--plan", str(plan_files[mode]), "--out", str(result_file)]
            return bench.score(run_worker(side, cmd, plan_files[mode], result_file, log, args.timeout), plans[mode])

        run_rounds(args, bench.tag, out, results, measure, bench.describe, bench.render_table, bench.figure)
    bench.plot(results, out / f"{bench.tag}.png")
    print(f"[{bench.tag}] wrote {out}", flush=True)
    return 0
