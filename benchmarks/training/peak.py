"""This machine's fp32 matmul peak, measured, and the per-token limit of training a model on it.

    .venv/bin/python -m benchmarks.training.peak --model SmolLM2-135M-Instruct --threads 2 --out peak.json

GEMMs timed with torch.matmul (the kernels training uses): each of the model's linear layers at a
training batch's token count (forward shape), and a large square one. Reported per shape: GFLOP/s
(2*m*n*k flops per call, best of the repeats, and the median). The limit per trained token is
``6 * N / peak`` (forward 2N, backward 4N: input and weight gradients) for full fine-tuning, N the
parameters that matmuls touch per token (tied input embedding counted once, as the LM head); LoRA
skips the frozen weights' gradients, so its limit is ``4 * N / peak`` (the adapters' own flops are
under 1% at rank 8 and left out). Attention's score and value products (4 * layers * seq * hidden per
token, forward) are reported apart: they grow with the sequence length.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def model_shapes(cfg: dict) -> dict:
    """Linear layers (name: (in, out, count)) and the matmul parameter count of a Llama-style config."""
    h, i, v, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
    head_dim = cfg.get("head_dim") or h // cfg["num_attention_heads"]
    q, kv = cfg["num_attention_heads"] * head_dim, cfg["num_key_value_heads"] * head_dim
    linears = {"q_proj": (h, q, layers), "k_proj": (h, kv, layers), "v_proj": (h, kv, layers),
               "o_proj": (q, h, layers), "gate_proj": (h, i, layers), "up_proj": (h, i, layers),
               "down_proj": (i, h, layers), "lm_head": (h, v, 1)}
    params = sum(a * b * n for a, b, n in linears.values())
    return {"linears": linears, "matmul_params": params, "hidden": h, "layers": layers,
            "embedding_params": h * v, "tied_embeddings": bool(cfg.get("tie_word_embeddings"))}


def time_gemm(m: int, k: int, n: int, repeats: int, min_s: float = 0.3) -> dict:
    """GFLOP/s of (m x k) @ (k x n) in fp32: best and median of `repeats` timings of enough calls for min_s."""
    import torch

    a, b = torch.randn(m, k), torch.randn(k, n)
    torch.matmul(a, b)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_s / 3:
        torch.matmul(a, b)
        calls += 1
    per = max(1, calls * 3)
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(per):
            torch.matmul(a, b)
        rates.append(2 * m * k * n * per / (time.perf_counter() - t) / 1e9)
    return {"shape": [m, k, n], "gflops_best": round(max(rates), 2), "gflops_median": round(statistics.median(rates), 2)}


def measure(cfg: dict, tokens: int, threads: int, repeats: int = 5, square: int = 2048) -> dict:
    import torch

    torch.set_num_threads(threads)
    shapes = model_shapes(cfg)
    gemms = {name: time_gemm(tokens, a, b, repeats) for name, (a, b, _n) in shapes["linears"].items()}
    big = time_gemm(square, square, square, repeats)
    # the model's forward matmuls as one workload: total flops over total time at each shape's median rate
    flops = {name: 2 * tokens * a * b * n for name, (a, b, n) in shapes["linears"].items()}
    seconds = sum(flops[name] / (gemms[name]["gflops_median"] * 1e9) for name in flops)
    model_rate = sum(flops.values()) / seconds / 1e9
    peak = max(big["gflops_best"], *(g["gflops_best"] for g in gemms.values()))
    n = shapes["matmul_params"]
    return {
        "threads": threads, "tokens_per_gemm": tokens, "gemms": gemms, f"square_{square}": big,
        "peak_gflops": round(peak, 2), "model_shapes_gflops": round(model_rate, 2),
        "matmul_params": n, "tied_embeddings": shapes["tied_embeddings"],
        "gflop_per_token_full": round(6 * n / 1e9, 4), "gflop_per_token_lora": round(4 * n / 1e9, 4),
        "limit_ms_per_token_full": round(6 * n / (peak * 1e9) * 1e3, 3),
        "limit_ms_per_token_lora": round(4 * n / (peak * 1e9) * 1e3, 3),
        "limit_ms_per_token_full_at_model_shapes": round(6 * n / (model_rate * 1e9) * 1e3, 3),
        "limit_ms_per_token_lora_at_model_shapes": round(4 * n / (model_rate * 1e9) * 1e3, 3),
        "attention_gflop_per_token_forward_per_seq_token": round(4 * shapes["layers"] * shapes["hidden"] / 1e9, 6),
    }


def main(argv: Sequence[str] | None = None) -> int:
    from common.models import resolve_model

    parser = argparse.ArgumentParser(prog="python -m benchmarks.training.peak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="SmolLM2-135M-Instruct")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=2048, help="Rows of each model-shape GEMM (a batch's tokens)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    cfg = json.loads((resolve_model(args.model) / "config.json").read_text())
    result = {"model": args.model, **measure(cfg, args.tokens, args.threads, args.repeats)}
    for name, g in result["gemms"].items():
        print(f"[peak] {name:<10} {g['shape']}: {g['gflops_best']:.1f} GFLOP/s best, {g['gflops_median']:.1f} median")
    print(f"[peak] peak {result['peak_gflops']} GFLOP/s, model shapes {result['model_shapes_gflops']} GFLOP/s; "
          f"limit {result['limit_ms_per_token_full']} ms/token full, {result['limit_ms_per_token_lora']} LoRA", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
