"""Counters read from a server's Prometheus ``/metrics`` around a load run.

vLLM (inside ``icegrt serve`` and in ``vllm serve``) exports its prefix cache as two
counters in tokens: ``vllm:prefix_cache_queries`` (prompt tokens looked up) and
``vllm:prefix_cache_hits`` (those found cached). Their growth over a run gives the run's
hit rate. Servers without ``/metrics`` (the transformers baseline) give None.
"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

PREFIX_QUERIES = "vllm:prefix_cache_queries"
PREFIX_HITS = "vllm:prefix_cache_hits"


def counters(text: str) -> dict[str, float]:
    """Every sample in `text` summed over its labels, by name less any ``_total`` suffix."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            name = sample.name.removesuffix("_total")
            totals[name] = totals.get(name, 0.0) + sample.value
    return totals


async def scrape(client: httpx.AsyncClient) -> dict[str, float] | None:
    """The server's counters, or None when it has no readable /metrics."""
    try:
        response = await client.get("/metrics")
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return counters(response.text)


def prefix_cache(before: dict[str, float] | None, after: dict[str, float] | None) -> dict | None:
    """Prefix-cache queries, hits (tokens) and hit rate between two scrapes; None without them."""
    if not before or not after or PREFIX_QUERIES not in after:
        return None
    queries = after[PREFIX_QUERIES] - before.get(PREFIX_QUERIES, 0.0)
    hits = after.get(PREFIX_HITS, 0.0) - before.get(PREFIX_HITS, 0.0)
    return {"queries": int(queries), "hits": int(hits), "hit_rate": round(hits / queries, 4) if queries else None}


def bucket_count(text: str, name: str, le: str, **labels: str) -> float:
    """Cumulative count of histogram `name` at bucket `le` for samples carrying `labels`, summed."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name == f"{name}_bucket" and sample.labels.get("le") == le
                    and all(sample.labels.get(k) == v for k, v in labels.items())):
                total += sample.value
    return total
