"""Quick speed check of a running server: one short chat request, then N concurrent ones.

    .venv/bin/python -m loadtests.smoke --base-url http://127.0.0.1:8000 --concurrency 16

Prints the single-request latency and the output-token throughput under concurrency, as
JSON. The full side-by-side comparison with ``vllm serve`` lives in the load-test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import openai

PROMPT = [{"role": "user", "content": "Write a short paragraph about the sea."}]


async def one(client: openai.AsyncOpenAI, model: str, max_tokens: int, seed: int) -> tuple[float, int]:
    started = time.perf_counter()
    r = await client.chat.completions.create(model=model, messages=PROMPT, max_tokens=max_tokens, seed=seed,
                                             temperature=0.8)
    return time.perf_counter() - started, r.usage.completion_tokens


async def run(args: argparse.Namespace) -> dict:
    client = openai.AsyncOpenAI(base_url=f"{args.base_url}/v1", api_key=args.api_key, timeout=600, max_retries=0)
    model = (await client.models.list()).data[0].id
    await one(client, model, 8, 0)  # warm-up
    singles = [await one(client, model, args.short_tokens, i) for i in range(args.repeats)]
    started = time.perf_counter()
    results = await asyncio.gather(*(one(client, model, args.max_tokens, i) for i in range(args.concurrency)))
    wall = time.perf_counter() - started
    tokens = sum(n for _, n in results)
    return {
        "model": model,
        "short_request_tokens": args.short_tokens,
        "short_request_latency_s_median": round(statistics.median(t for t, _ in singles), 3),
        "concurrency": args.concurrency,
        "output_tokens": tokens,
        "wall_s": round(wall, 2),
        "output_tokens_per_s": round(tokens / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", default="none")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64, help="Output tokens per concurrent request")
    parser.add_argument("--short-tokens", type=int, default=16, help="Output tokens of the single request")
    parser.add_argument("--repeats", type=int, default=3, help="Single requests timed (median reported)")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
