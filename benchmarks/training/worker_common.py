"""What the benchmark workers share: how each starts (all of them), how ours is run and reads its step times
from the run's metrics.jsonl (ours_worker.py, rm_ours_worker.py), and how TRL's trainers are set up and watched
(trl_worker.py for SFTTrainer, rm_trl_worker.py for RewardTrainer). The TRL workers run in .venv-trl, so this
module imports the project (run_ours), torch, transformers and TRL only inside its functions.

Every TRL trainer here gets the plan's settings the same way: CPU, fp32, one micro-batch a step, a constant
learning rate, no gradient checkpointing, a sequential sampler over the plan's examples in step order (so each
step gets the batch our sampler drew), no saving or evaluation, TRL's own optimizer and logging defaults unless
the plan overrides them. Step ends are taken by a TrainerCallback; what each step was fed, by a wrapper
around the trainer's collator.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def start(argv: list[str] | None) -> tuple[argparse.Namespace, dict, float]:
    """The worker's --plan and --out, the plan, and the time it started; torch set to the plan's threads."""
    started = time.perf_counter()
    parser = argparse.ArgumentParser()
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    plan = json.loads(args.plan.read_text())
    import torch

    torch.set_num_threads(plan["threads"])
    return args, plan, started


def run_ours(plan: dict, config_class: Any, run_stage: Callable, started: float) -> tuple[dict, list[dict], dict]:
    """Our stage trained as the plan configures it, in a scratch runs_dir, stopped after warm-up + timed steps:
    the measurement's timing (from elapsed_s, the seconds of training logged after every step), the metrics
    records of those steps, and the stage's summary."""
    import tempfile

    import torch
    from training.config import load_config

    warmup, steps = plan["warmup_steps"], plan["timed_steps"]
    with tempfile.TemporaryDirectory(prefix="icegrt-bench-") as scratch:
        config = load_config(config_class, plan["config_file"], {**plan["config_overrides"], "runs_dir": scratch})
        summary = run_stage(config, stop_after=warmup + steps)
        lines = [json.loads(x) for x in (Path(scratch) / config.name / "metrics.jsonl").read_text().splitlines()]
    records = [r for r in lines if "loss" in r and "elapsed_s" in r]
    assert [r["step"] for r in records] == list(range(1, warmup + steps + 1)), [r["step"] for r in records]
    elapsed = [0.0] + [r["elapsed_s"] for r in records]
    timing = {"side": "ours", "threads": torch.get_num_threads(), "torch": torch.__version__,
              "timed_seconds": elapsed[warmup + steps] - elapsed[warmup],
              "step_seconds": [round(b - a, 3) for a, b in zip(elapsed, elapsed[1:], strict=False)],
              "process_seconds": round(time.perf_counter() - started, 1)}
    return timing, records, summary


def fed_tokens(input_ids: Any, attention_mask: Any) -> dict[str, int]:
    """Real and padded tokens of a batch as fed to the model."""
    return {"real": int(attention_mask.sum()), "padded": int(input_ids.numel())}


def fed_rows(input_ids: Any, attention_mask: Any) -> list[list[int]]:
    """The unpadded rows of a right-padded batch."""
    return [row[: int(m.sum())].tolist() for row, m in zip(input_ids, attention_mask, strict=True)]


def pairs_match_plan(batches: list[tuple[Any, Any]], plan: dict) -> bool:
    """Whether the (input_ids, attention_mask) batches fed, one a step, hold the plan's pairs in its order:
    every step's chosen replies, then its rejected ones."""
    steps = plan["steps"]
    return [fed_rows(*b) for b in batches[: len(steps)]] == [
        [p["chosen_ids"] for p in step] + [p["rejected_ids"] for p in step] for step in steps]


def load_tokenizer_and_model(plan: dict, model_class: Any, **kwargs: Any) -> tuple[Any, Any]:
    """The plan's tokenizer and model in fp32, the pad token set as our training sets it; the random state
    seeded first, as ours is, so that a new head starts from the same weights on both sides."""
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(plan["model_dir"])
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    torch.manual_seed(plan["settings"]["seed"])
    model = model_class.from_pretrained(plan["model_dir"], dtype=torch.float32, **kwargs)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = model.config.eos_token_id
    return tokenizer, model


def lora_config(settings: dict, task_type: str, modules_to_save: list[str] | None = None) -> Any:
    """The plan's LoRA as a peft config, or None for a full fine-tune."""
    if not settings["lora"]:
        return None
    from peft import LoraConfig

    return LoraConfig(r=settings["lora_r"], lora_alpha=settings["lora_alpha"], lora_dropout=settings["lora_dropout"],
                      target_modules=settings["lora_target_modules"], task_type=task_type,
                      modules_to_save=modules_to_save)


def training_arguments(plan: dict, output_dir: str) -> dict[str, Any]:
    """The TrainingArguments both TRL configs take from the plan (see the module's docstring)."""
    s = plan["settings"]
    return dict(
        output_dir=output_dir, use_cpu=True, bf16=False, fp16=False, seed=s["seed"],
        per_device_train_batch_size=s["batch_size"], gradient_accumulation_steps=1,
        max_steps=plan["warmup_steps"] + plan["timed_steps"], learning_rate=s["learning_rate"],
        lr_scheduler_type="constant", warmup_steps=0, weight_decay=s["weight_decay"],
        max_grad_norm=s["max_grad_norm"], optim=plan["trl_optim"], gradient_checkpointing=False,
        train_sampling_strategy="sequential", dataloader_num_workers=0, report_to="none", save_strategy="no",
        eval_strategy="no", disable_tqdm=True, logging_steps=plan["trl_logging_steps"],
    )


def step_timer() -> Any:
    """A TrainerCallback whose ``ends`` are the perf_counter times at which the optimizer steps ended."""
    from transformers import TrainerCallback

    class StepTimes(TrainerCallback):
        def __init__(self):
            self.ends = []

        def on_step_end(self, args, state, control, **kwargs):
            self.ends.append(time.perf_counter())

    return StepTimes()


def counting_collator(collate: Callable[[list], dict], fed: list[dict], count: Callable[[dict], dict]) -> Callable:
    """`collate`, appending `count` of every batch it makes to `fed`."""
    def counting(features):
        batch = collate(features)
        fed.append(count(batch))
        return batch

    return counting


def timing_result(plan: dict, ends: list[float], started: float, config: Any) -> dict:
    """The measurement's timing and versions, from the step ends of warm-up + timed steps."""
    import torch
    import transformers
    import trl

    warmup, steps = plan["warmup_steps"], plan["timed_steps"]
    assert len(ends) == warmup + steps, len(ends)
    return {"side": "trl", "threads": torch.get_num_threads(), "torch": torch.__version__, "trl": trl.__version__,
            "transformers": transformers.__version__, "optim": str(config.optim),
            "timed_seconds": ends[warmup + steps - 1] - ends[warmup - 1],
            "step_seconds": [round(b - a, 3) for a, b in zip(ends, ends[1:], strict=False)],
            "process_seconds": round(time.perf_counter() - started, 1)}
