"""What one refusal costs: CPU milliseconds of the API process and of the client per 429.

    .venv/bin/python -m loadtests.refusal_cost --requests 1000

Starts ``icegrt serve`` (tiny model by default) with two API keys and a rate limit, spends key
A's bucket, then sends A's requests (``--concurrency`` in flight) and divides the CPU time the
server's API process and this client used by the number of refusals. The figure says how much
of a core a client over its limit takes from the engine at a given flood rate: the
noisy-neighbour benchmark's (`loadtests/admission.py`) explanation in numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import httpx

from loadtests.admission import KEY_A, KEY_B, server, server_pid
from loadtests.compare import running


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(base_url: str, model: str, requests: int, concurrency: int) -> dict:
    pid = server_pid(base_url)
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=30) as client:
        while 429 not in statuses:  # spend A's bucket
            statuses[(await client.post("/v1/chat/completions", json=body)).status_code] += 1
        statuses.clear()
        server_before, client_before = cpu_seconds(pid), own_cpu_seconds()
        slots = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with slots:
                statuses[(await client.post("/v1/chat/completions", json=body)).status_code] += 1

        await asyncio.gather(*(one() for _ in range(requests)))
        server_ms, client_ms = 1000 * (cpu_seconds(pid) - server_before), 1000 * (own_cpu_seconds() - client_before)
    return {"requests": requests, "statuses": {str(k): v for k, v in statuses.items()},
            "server_cpu_ms_per_request": round(server_ms / requests, 3),
            "client_cpu_ms_per_request": round(client_ms / requests, 3)}


def main(argv: Sequence[str] | None = None) -> int:
    from common.models import resolve_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rate-limit-rpm", type=int, default=2)
    args = parser.parse_args(argv)
    settings = argparse.Namespace(max_model_len=2048, kv_cache_space=1.0, enforce_eager=True, server_cpus=None)
    model_dir = resolve_model(args.model)
    with tempfile.TemporaryDirectory(prefix="icegrt-refusal-cost-") as scratch:
        target = server(model_dir, model_dir.name, settings, Path(scratch), "--api-key", KEY_A, KEY_B,
                        "--rate-limit-rpm", str(args.rate_limit_rpm))
        with running(target, Path(scratch) / "server.log", 900) as (base_url, _):
            result = asyncio.run(measure(base_url, model_dir.name, args.requests, args.concurrency))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
