"""Our reward-model training speed side by side with TRL's RewardTrainer, in paired, alternated rounds (issue 19).

    benchmarks/training/setup_trl.sh        # once: .venv-trl with TRL beside the project's torch
    .venv/bin/python -m benchmarks.training.rm_vs_trl --name cpu-rm-vs-trl-2026-12-08 --rounds 3 --modes lora full \\
        --threads 1
    .venv/bin/python -m benchmarks.training.rm_vs_trl --name smoke --model tiny --rounds 1 --warmup-steps 1 --steps 2

Both trainers train the same model on the same pairs: the parent draws them with the project's own code (the
reward config's pair sources, training.reward.prepare_pairs, StepSampler) and writes a plan with each step's
pairs as text and as our token ids (prompt cut from the left at max length, the reply's end kept). Ours runs
training.reward.run_reward (the path of `icegrt train reward`) in .venv (rm_ours_worker.py); TRL runs
RewardTrainer in .venv-trl (rm_trl_worker.py) on those ids, with a sequential sampler, fp32, the same
learning rate, batch of pairs, max length, LoRA settings (the score head fully trained on both sides) and
torch thread count, the same Bradley-Terry loss (no centering term, no margin). A step is one batch of pairs,
no gradient accumulation. Each measurement is a fresh interpreter: W warm-up steps, then K timed steps, in
rounds run as benchmarks.training.harness does. Checked per measurement: the pairs each step fed (row by row)
and their real and padded tokens equal the plan's; on TRL's side also that its own tokenization of each pair
equals ours and that its classifier reads each row's score at the last real token, as ours does. Reported per
round: pairs/s, real (non-pad: chosen + rejected) and padded tokens/s, ms per pair, the first step's loss of
each side; per mode the ratio ours/TRL of pairs/s (the same as of real tokens/s) of every round, its median,
min-max and mean +- standard error. `results/<name>/`: command.txt, results.json, table.md, rm_vs_trl.png.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence

from benchmarks.training.accounting import pair_rates, pair_step_tokens, sum_tokens
from benchmarks.training.harness import (
    ROOT, TRL_PYTHON, VENV_PYTHON, Benchmark, config_overrides, new_parser, parse, plan_header, run,
)
from benchmarks.training.rm_report import render_plot, render_table


def build_plan(args: argparse.Namespace, lora: bool) -> dict:
    """The config both sides train with, and each step's pairs as our reward stage draws them."""
    from common.models import resolve_model
    from training.config import RewardConfig, load_config
    from training.data.chat import encode_prompt_response
    from training.data.preference import load_pairs
    from training.loop import StepSampler
    from training.models import load_tokenizer
    from training.reward import prepare_pairs

    overrides = config_overrides(args, lora)
    config = load_config(RewardConfig, args.config, {**overrides, "runs_dir": "/nonexistent"})
    model_dir = resolve_model(config.model)
    tokenizer = load_tokenizer(model_dir)
    train_pairs = prepare_pairs(config, tokenizer).train
    # the pairs behind train_pairs, drawn as prepare_pairs draws them (each one used checked to encode the same)
    texts = [p for p in load_pairs(config.pairs) if p.split == "train"][: config.max_train_pairs]
    random.Random(config.seed).shuffle(texts)
    sampler = StepSampler(len(train_pairs), config.batch_size, 1, config.seed)
    plan_steps = []
    for step in range(args.warmup_steps + args.steps):
        (indices,) = sampler.micro_batches(step)
        plan_steps.append([{"prompt": [dict(m) for m in texts[i].prompt], "chosen": texts[i].chosen,
                            "rejected": texts[i].rejected, "chosen_ids": train_pairs[i][0],
                            "rejected_ids": train_pairs[i][1]} for i in indices])
        for i in indices:
            encoded = tuple(encode_prompt_response(tokenizer, texts[i].prompt, reply, config.max_seq_len)
                            for reply in (texts[i].chosen, texts[i].rejected))
            assert encoded == train_pairs[i], f"pair {i} drawn differently from prepare_pairs"
    return {**plan_header(args, config, overrides, model_dir), "steps": plan_steps}


def tokens_per_step(plan: dict) -> list[dict[str, int]]:
    return [pair_step_tokens([(p["chosen_ids"], p["rejected_ids"]) for p in step]) for step in plan["steps"]]


def score(result: dict, plan: dict) -> dict:
    """The measurement's rates over its timed steps, counting the pairs and tokens of the plan's batches, and
    its checks (each True when it passes)."""
    if "error" in result:
        return result
    per_step = tokens_per_step(plan)
    checks = {"pairs_match_plan": result["pairs_match_plan"],
              "fed_tokens_match_plan": result["fed_tokens_per_step"]
              == [{"real": s["real"], "padded": s["padded"]} for s in per_step]}
    if result["side"] == "trl":
        checks["tokenized_like_ours"] = not result["pairs_tokenized_differently"]
        checks["scored_at_last_token"] = result["rows_scored_elsewhere"] == 0
    tokens = sum_tokens(per_step[plan["warmup_steps"]:])
    return {**pair_rates(result["timed_seconds"], tokens), "tokens": tokens, "checks": checks,
            **{k: v for k, v in result.items() if k != "fed_tokens_per_step"}}


def describe(r: dict) -> str:
    return (f"{r['pairs_s']:.3f} pairs/s, {r['real_tok_s']:.1f} real tok/s, {r['padded_tok_s']:.1f} padded tok/s, "
            f"steps {r['step_seconds']} s, losses {r['loss_per_step']}, checks {r['checks']}, "
            f"load {r['loadavg_before']}->{r['loadavg_after']}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    return parse(new_parser("rm_vs_trl", __doc__, config="configs/reward_cpu.yaml", batch_size=8, max_seq_len=256,
                            threads=1, config_help="Reward config whose pairs, learning rate and LoRA settings "
                            "both sides use"), argv)


BENCHMARK = Benchmark(
    tag="rm_vs_trl", build_plan=build_plan,
    tokens_per_step=tokens_per_step,
    workers={"ours": [VENV_PYTHON, "-m", "benchmarks.training.rm_ours_worker"],
             "trl": [TRL_PYTHON, str(ROOT / "benchmarks/training/rm_trl_worker.py")]},
    score=score, describe=describe, render_table=render_table, plot=render_plot, figure="pairs_s")


def main(argv: Sequence[str] | None = None) -> int:
    return run(BENCHMARK, parse_args(argv), argv)


if __name__ == "__main__":
    sys.exit(main())
