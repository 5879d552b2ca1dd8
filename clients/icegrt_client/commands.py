"""``icegrt ads check``: check a JSONL file of ads against a running server.

Each input line is an ad object or ``{"id": ..., "ad": {...}}``; blank lines are skipped. One
output line per ad, in input order: ``{"id", "result"}`` or ``{"id", "error": {message, type,
param, code, status}}``. A bad ad never stops the run. Exit status: 0 when every line was
answered (failed ads included), 1 when the server is unreachable, 2 for usage errors (bad
arguments, unreadable input, rejected API key, unknown policy ids).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from icegrt_client.config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT

if TYPE_CHECKING:
    import httpx

    from icegrt_client.async_client import AsyncIceGrtClient

EXIT_UNREACHABLE = 1
EXIT_USAGE = 2


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_ads_parser(subparsers) -> None:
    parser = subparsers.add_parser("ads", help="Ad-policy compliance checks against a running server")
    sub = parser.add_subparsers(dest="ads_command", required=True)
    check = sub.add_parser("check", help="Check a JSONL file of ads", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("input", type=Path, help="JSONL: one ad object or {\"id\", \"ad\"} per line")
    check.add_argument("--output", "-o", type=Path, required=True, help="JSONL results, one per ad, in input order")
    check.add_argument("--concurrency", type=_positive_int, default=4, help="Ads in flight at once (default: 4)")
    check.add_argument("--base-url", help="Server URL (default: $ICEGRT_BASE_URL or http://127.0.0.1:8000)")
    check.add_argument("--api-key", help="API key (default: $ICEGRT_API_KEY)")
    check.add_argument("--no-suggest", dest="suggest", action="store_false",
                       help="Do not ask for suggested revisions (faster)")
    check.add_argument("--policies", nargs="+", metavar="ID", help="Check only these policy ids (default: all)")
    check.add_argument("--market", help="Market the ads run in, e.g. US")
    check.add_argument("--model", help="Served model name (default: the server's)")
    check.add_argument("--mode", choices=("auto", "rules", "hybrid"), help="Check mode (default: the server's)")
    check.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                       help=f"Seconds per request (default: {DEFAULT_TIMEOUT:g})")
    check.add_argument("--max-retries", type=int, default=DEFAULT_MAX_RETRIES,
                       help=f"Retries on 429/503 per ad (default: {DEFAULT_MAX_RETRIES})")
    check.set_defaults(handler=run_check)


@dataclass
class Job:
    """One non-blank input line: the ad to send, or why it cannot be sent."""

    index: int
    id: Any
    ad: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


def parse_jobs(lines: list[str]) -> list[Job]:
    """Ids default to the 1-based line number; a malformed line becomes a job with an error."""
    jobs: list[Job] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        job = Job(index=len(jobs), id=number)
        jobs.append(job)
        try:
            record = json.loads(line)
        except ValueError as exc:
            job.error = _input_error(f"line {number}: not JSON ({exc})")
            continue
        if isinstance(record, dict) and "ad" in record:
            job.id = record.get("id", number)
            record = record["ad"]
        if isinstance(record, dict):
            job.ad = record
        else:
            job.error = _input_error(f"line {number}: an ad must be a JSON object, got {type(record).__name__}")
    return jobs


def _input_error(message: str) -> dict[str, Any]:
    return {"message": message, "type": "invalid_input", "param": None, "code": None, "status": None}


def run_check(args: argparse.Namespace, transport: httpx.AsyncBaseTransport | None = None) -> int:
    """The ``icegrt ads check`` handler; ``transport`` replaces the network in tests."""
    from icegrt_client.async_client import AsyncIceGrtClient

    try:
        jobs = parse_jobs(args.input.read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError) as exc:
        return _fail(EXIT_USAGE, f"cannot read {args.input}: {exc}")
    try:
        client = AsyncIceGrtClient(args.base_url, args.api_key, timeout=args.timeout, max_retries=args.max_retries,
                                   transport=transport)
    except ValueError as exc:
        return _fail(EXIT_USAGE, str(exc))
    return asyncio.run(_check(args, client, jobs))


def _fail(code: int, message: str) -> int:
    print(f"icegrt ads check: {message}", file=sys.stderr)
    return code


async def _check(args: argparse.Namespace, client: AsyncIceGrtClient, jobs: list[Job]) -> int:
    async with client:
        problem = await _preflight(client, args.policies)
        if problem:
            return _fail(*problem)
        try:
            out = args.output.open("w", encoding="utf-8")
        except OSError as exc:
            return _fail(EXIT_USAGE, f"cannot write {args.output}: {exc}")
        with out:
            lost = await _check_all(client, jobs, args, out)
    if lost:
        return _fail(EXIT_UNREACHABLE, f"{lost} ads failed because the server at {client.config.base_url} "
                                       "became unreachable; their lines in the output carry the error")
    return 0


async def _preflight(client: AsyncIceGrtClient, policies: list[str] | None) -> tuple[int, str] | None:
    """Fail fast, before writing anything, on what would fail every ad: no server, a rejected key,
    no ads endpoint, unknown policy ids. Returns (exit status, message) or None."""
    from icegrt_client.errors import AuthenticationError, ConnectionError, IceGrtError

    try:
        catalogue = await client.ads.policies()
    except ConnectionError as exc:
        return EXIT_UNREACHABLE, str(exc)
    except AuthenticationError as exc:
        return EXIT_USAGE, f"the server rejected the API key (--api-key or $ICEGRT_API_KEY): {exc.message}"
    except IceGrtError as exc:
        return EXIT_UNREACHABLE, f"the server at {client.config.base_url} cannot check ads: {exc}"
    unknown = sorted(set(policies or ()) - {p.id for p in catalogue})
    if unknown:
        return EXIT_USAGE, f"unknown policy ids {', '.join(unknown)}; known: {', '.join(p.id for p in catalogue)}"
    return None


async def _check_all(client: AsyncIceGrtClient, jobs: list[Job], args: argparse.Namespace, out: IO[str]) -> int:
    """Check every job with at most ``args.concurrency`` requests in flight; write results in input
    order as soon as each prefix is complete. Returns how many ads failed on a lost connection.

    A fixed pool of workers pulls from one iterator (rather than one task per ad behind a semaphore),
    so memory stays flat on large files.
    """
    from icegrt_client.errors import ConnectionError, IceGrtError, RequestTimeoutError

    done: dict[int, dict[str, Any]] = {}
    next_to_write = 0
    lost = 0
    pending: Iterator[Job] = iter(jobs)
    progress = _progress_bar(len(jobs))

    async def worker() -> None:
        nonlocal next_to_write, lost
        for job in pending:  # shared iterator: each job goes to exactly one worker
            if job.error is None:
                try:
                    result = await client.ads.check(job.ad, args.market, args.policies, args.suggest, args.model,
                                                     args.mode)
                    done[job.index] = {"id": job.id, "result": result.model_dump(mode="json", exclude_unset=True)}
                except IceGrtError as exc:
                    lost += isinstance(exc, ConnectionError) and not isinstance(exc, RequestTimeoutError)
                    done[job.index] = {"id": job.id, "error": exc.to_dict()}
            else:
                done[job.index] = {"id": job.id, "error": job.error}
            progress.update()
            while next_to_write in done:
                out.write(json.dumps(done.pop(next_to_write), ensure_ascii=False) + "\n")
                next_to_write += 1
            out.flush()

    with progress:
        await asyncio.gather(*(worker() for _ in range(min(args.concurrency, len(jobs)))))
    return lost


class _Count:
    """The progress line when tqdm is not installed (the SDK depends on httpx and pydantic only):
    ``ads check: done/total`` on a terminal's stderr, nothing otherwise."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.shown = sys.stderr.isatty()

    def update(self) -> None:
        self.done += 1
        if self.shown:
            print(f"\rads check: {self.done}/{self.total} ads", end="", file=sys.stderr, flush=True)

    def __enter__(self) -> _Count:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.shown and self.done:
            print(file=sys.stderr)


def _progress_bar(total: int) -> Any:
    """tqdm's bar where tqdm is installed (with ``icegrt`` or the ``openai`` extra), else `_Count`."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _Count(total)
    return tqdm(total=total, unit="ad", desc="ads check", file=sys.stderr)
