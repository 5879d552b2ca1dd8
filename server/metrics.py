"""Prometheus metrics with the ``icegrt_`` prefix.

vLLM's own engine metrics (``vllm:*``: queue depth, KV-cache usage, prefix-cache hits,
finished requests by reason) register in the same default registry, so ``/metrics`` shows
both without extra wiring.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram

from server.usage import record_tokens

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)
TOKEN_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12)

REQUESTS = Counter("icegrt_requests_total", "HTTP requests by route and status", ["route", "status"])
REQUEST_LATENCY = Histogram(
    "icegrt_request_duration_seconds", "Time from request to last byte", ["route"], buckets=LATENCY_BUCKETS
)
IN_FLIGHT = Gauge("icegrt_requests_in_flight", "HTTP requests being served")
TIME_TO_FIRST_TOKEN = Histogram(
    "icegrt_time_to_first_token_seconds", "Time from request to the first generated token", ["route"],
    buckets=LATENCY_BUCKETS,
)
INTER_TOKEN_LATENCY = Histogram(
    "icegrt_inter_token_latency_seconds", "Time between generated tokens of a streamed request", ["route"],
    buckets=TOKEN_LATENCY_BUCKETS,
)
PROMPT_TOKENS = Counter("icegrt_prompt_tokens_total", "Prompt tokens processed", ["route"])
GENERATION_TOKENS = Counter("icegrt_generation_tokens_total", "Tokens generated", ["route"])
ABORTED = Counter(
    "icegrt_requests_aborted_total", "Generations aborted in the engine because the client went away", ["route"]
)
ENGINE_READY = Gauge(
    "icegrt_engine_ready",
    "1 while the engine is loaded and passes its health check (checked at each scrape), else 0",
)
REJECTED = Counter(
    "icegrt_rejected_requests_total",
    "Requests refused before any work: queue_full (503), rate_limit_requests and rate_limit_tokens (429)",
    ["reason"],
)


class GenerationTimer:
    """Records time to first token and inter-token latency for one request."""

    def __init__(self, route: str, started: float | None = None):
        self.route = route
        self.started = started if started is not None else time.perf_counter()
        self._last: float | None = None

    def tokens(self, count: int) -> None:
        """Call whenever `count` new tokens arrive (across all choices)."""
        if count <= 0:
            return
        now = time.perf_counter()
        if self._last is None:
            TIME_TO_FIRST_TOKEN.labels(self.route).observe(now - self.started)
            count -= 1
        elif count:
            gap = (now - self._last) / count
            hist = INTER_TOKEN_LATENCY.labels(self.route)
            for _ in range(count):
                hist.observe(gap)
        self._last = now

    def finish(self, prompt_tokens: int, generated_tokens: int) -> None:
        PROMPT_TOKENS.labels(self.route).inc(prompt_tokens)
        GENERATION_TOKENS.labels(self.route).inc(generated_tokens)
        record_tokens(prompt_tokens, generated_tokens)  # the request's access log line (server.usage)
