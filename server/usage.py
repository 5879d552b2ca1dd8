"""Token usage: each request's, for its access log line, and ``icegrt usage`` over those lines.

Per request: `server.middleware.RequestMiddleware` opens a `RequestUsage` for every request
(`begin_request`); every engine call the request makes reports its tokens through `record_tokens`
(`server.metrics.GenerationTimer.finish` does, so every generating route counts), and the access
line carries the sums as ``prompt_tokens`` and ``completion_tokens``. A context variable carries
the request's `RequestUsage` to the route, its streaming body and its worker threads (they all
run in copies of the request's context, and share the one mutable object).

``icegrt usage --log FILE [--since DATE] [--json]``: the access lines of ``icegrt serve``'s JSON
logs (`server.logs`), summed per key id and UTC day: requests and tokens. Reads several files,
gzip-compressed ones (rotated logs) and stdin (``-``, or no ``--log``); other lines are skipped
and counted.
"""

from __future__ import annotations

import argparse
import contextvars
import datetime as dt
import gzip
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from common.errors import UserError

ACCESS_LOGGER = "icegrt.access"


# ---- one request's tokens -------------------------------------------------------------


@dataclass
class RequestUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


_CURRENT: contextvars.ContextVar[RequestUsage | None] = contextvars.ContextVar("icegrt_request_usage", default=None)


def begin_request() -> tuple[RequestUsage, contextvars.Token]:
    """A fresh `RequestUsage` for the request being served in this context; `end_request` the token."""
    usage = RequestUsage()
    return usage, _CURRENT.set(usage)


def end_request(token: contextvars.Token) -> None:
    _CURRENT.reset(token)


def record_tokens(prompt_tokens: int, completion_tokens: int) -> None:
    """Add one engine call's tokens to the current request's usage (nothing outside a request)."""
    usage = _CURRENT.get()
    if usage is not None:
        usage.prompt_tokens += prompt_tokens
        usage.completion_tokens += completion_tokens


# ---- icegrt usage -----------------------------------------------------------------------


@dataclass
class UsageRow:
    day: str
    """UTC date, YYYY-MM-DD."""
    key_id: str | None
    """`server.tenancy.key_id` of the request's API key; None: no key (a server without keys, open routes, 401s)."""
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, requests: int, prompt_tokens: int, completion_tokens: int) -> None:
        self.requests += requests
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens


@dataclass
class UsageReport:
    rows: list[UsageRow]
    """Per (day, key id), sorted by day then key id."""
    access_lines: int
    skipped_lines: int
    """Lines that are not access lines (other log lines, text, torn lines); blank lines are not counted."""

    def total(self) -> UsageRow:
        total = UsageRow("total", None)
        for row in self.rows:
            total.add(row.requests, row.prompt_tokens, row.completion_tokens)
        return total

    def as_dict(self) -> dict:
        return {"rows": [asdict(r) for r in self.rows], "total": asdict(self.total()) | {"day": None},
                "access_lines": self.access_lines, "skipped_lines": self.skipped_lines}


def _access_record(line: str) -> dict | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("logger") != ACCESS_LOGGER or "time" not in record:
        return None
    return record


def _day(timestamp: str) -> dt.date:
    moment = dt.datetime.fromisoformat(timestamp)
    return (moment.astimezone(dt.UTC) if moment.tzinfo else moment).date()


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def summarize(lines: Iterable[str], since: dt.date | None = None) -> UsageReport:
    """Requests and tokens per (UTC day, key id) of the access lines among `lines`, from `since` on."""
    rows: dict[tuple[str, str | None], UsageRow] = {}
    access = skipped = 0
    for line in lines:
        if not line.strip():
            continue
        record = _access_record(line)
        try:
            day = _day(record["time"]) if record is not None else None
        except (TypeError, ValueError):
            day = None
        if day is None:
            skipped += 1
            continue
        access += 1
        if since is not None and day < since:
            continue
        key = (day.isoformat(), record.get("key_id"))
        row = rows.setdefault(key, UsageRow(*key))
        row.add(1, _count(record.get("prompt_tokens")), _count(record.get("completion_tokens")))
    ordered = sorted(rows.values(), key=lambda r: (r.day, r.key_id or ""))
    return UsageReport(ordered, access, skipped)


def format_table(report: UsageReport) -> str:
    header = ("day", "key_id", "requests", "prompt_tokens", "completion_tokens")
    rows = [(r.day, r.key_id or "(no key)", r.requests, r.prompt_tokens, r.completion_tokens) for r in report.rows]
    sums = report.total()
    total = ("total", "", sums.requests, sums.prompt_tokens, sums.completion_tokens)
    widths = [max(len(str(row[i])) for row in [header, *rows, total]) for i in range(len(header))]

    def line(cells: tuple) -> str:
        return "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *map(line, rows), rule, line(total)])


def _lines(sources: list[str]) -> Iterator[str]:
    for source in sources or ["-"]:
        if source == "-":
            yield from sys.stdin
            continue
        path = Path(source)
        try:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
                yield from handle
        except OSError as exc:
            raise UserError(f"cannot read {path}: {exc}") from None


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def add_usage_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "usage", help="Requests and tokens per API key id and day, from icegrt serve's JSON logs",
        description="Sum the access lines of icegrt serve's logs (one JSON object a line) per key id "
                    "(key_ + 16 hex digits of the key's SHA-256, never the key) and UTC day: requests, prompt "
                    "and completion tokens. Other lines are skipped.")
    parser.add_argument("--log", action="append", default=[], metavar="FILE",
                        help="A server log (repeatable; .gz read as gzip; - or none: stdin)")
    parser.add_argument("--since", type=_date, default=None, metavar="DATE",
                        help="Only days from DATE (YYYY-MM-DD, UTC) on")
    parser.add_argument("--json", action="store_true", help="One JSON object (rows, total, line counts) instead of a table")
    parser.set_defaults(handler=usage_command)


def usage_command(args: argparse.Namespace) -> int:
    report = summarize(_lines(args.log), args.since)
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print(format_table(report))
        print(f"({report.access_lines} access lines, {report.skipped_lines} other lines skipped)", file=sys.stderr)
    return 0
