"""Per-request results and the statistics of a load-test run.

The conventions are those of ``vllm bench serve`` (vllm/benchmarks/serve.py and
lib/endpoint_request_func.py), so figures from either tool compare:

- TTFT: from sending the request to the first streamed chunk that carries text (a chunk
  with only the assistant role carries no token; vLLM's server sends it with the first
  token, this server before, so counting it would flatter ours).
- ITL: the gaps between successive streamed chunks after the first (a chunk may hold
  more than one token; the Hugging Face baseline's streamer sends whole words).
- TPOT: ``(e2e - ttft) / (output_tokens - 1)`` per request, over requests with more than
  one output token.
- E2E: from sending the request to its last streamed chunk, or to the whole response for
  requests that are not streamed (those have no TTFT, ITL or TPOT).
- Throughput: completed requests and output tokens over the run's wall time.
- Refusals (429, 503): ``refusal_ms`` from sending to the whole answer, and how many
  carried ``Retry-After``.
- Percentiles interpolate linearly between the closest ranks (numpy's default method).

Output tokens come from the response's ``usage`` (streams ask for it with
``stream_options.include_usage``); a stream without usage counts its text chunks.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

OK = "200"
CANCELLED = "cancelled_at_time_cap"
REFUSALS = frozenset({"429", "503"})
"""Statuses of admission control's refusals; their latency is ``refusal_ms``."""


@dataclass
class RequestResult:
    kind: str
    """Which request of the scenario: chat, long_prompt, ads, table."""
    status: str = "not_sent"
    """The HTTP status, or what went wrong without one: timeout, stream_error, a transport error's name."""
    latency: float | None = None
    ttft: float | None = None
    itl: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    output_tokens: int = 0
    error: str = ""
    retry_after: str | None = None
    """The ``Retry-After`` header of a refusal (429, 503), as sent."""

    @property
    def ok(self) -> bool:
        return self.status == OK

    def as_dict(self) -> dict:
        return asdict(self)


def percentile(values: Sequence[float], p: float) -> float:
    """The `p`-th percentile (0-100), interpolating linearly between the closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def tpot(latency: float, ttft: float, output_tokens: int) -> float | None:
    """Time per output token after the first; None for replies of one token or none."""
    if output_tokens <= 1:
        return None
    return (latency - ttft) / (output_tokens - 1)


def distribution(values: Iterable[float]) -> dict[str, float] | None:
    """Mean and p50/p90/p99 in milliseconds; None without values."""
    seconds = list(values)
    if not seconds:
        return None
    ms = [v * 1000 for v in seconds]
    return {
        "mean": round(sum(ms) / len(ms), 3),
        "p50": round(percentile(ms, 50), 3),
        "p90": round(percentile(ms, 90), 3),
        "p99": round(percentile(ms, 99), 3),
    }


def summarize(results: Sequence[RequestResult], duration_s: float, planned: int) -> dict:
    """The run's report: counts, throughput, latency distributions, errors by status.

    `planned` requests were to be sent; those the time cap kept from being sent are
    ``not_sent``, those it cut short are counted under ``cancelled_at_time_cap``.
    """
    done = [r for r in results if r.ok]
    refused = [r for r in results if r.status in REFUSALS]
    streamed = [r for r in done if r.ttft is not None]
    output_tokens = sum(r.output_tokens for r in done)
    tpots = [t for r in streamed if (t := tpot(r.latency, r.ttft, r.output_tokens)) is not None]
    return {
        "planned": planned,
        "sent": len(results),
        "not_sent": planned - len(results),
        "completed": len(done),
        "failed": len(results) - len(done),
        "errors_by_status": dict(sorted(Counter(r.status for r in results if not r.ok).items())),
        "duration_s": round(duration_s, 3),
        "request_throughput": round(len(done) / duration_s, 4) if duration_s > 0 else 0.0,
        "output_throughput": round(output_tokens / duration_s, 3) if duration_s > 0 else 0.0,
        "total_prompt_tokens": sum(r.prompt_tokens for r in done),
        "total_output_tokens": output_tokens,
        "mean_output_tokens": round(output_tokens / len(done), 2) if done else 0.0,
        "ttft_ms": distribution(r.ttft for r in streamed),
        "tpot_ms": distribution(tpots),
        "itl_ms": distribution(gap for r in streamed for gap in r.itl),
        "e2e_ms": distribution(r.latency for r in done if r.latency is not None),
        "refusal_ms": distribution(r.latency for r in refused if r.latency is not None),
        "refused_with_retry_after": sum(r.retry_after is not None for r in refused),
    }
