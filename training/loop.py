"""The optimization loop every supervised stage shares (SFT, reward model).

A stage supplies what differs (:class:`Stage`: its batches, its loss, its evaluation and how
its checkpoint is written); this module owns what must not differ: gradient accumulation
weighted by tokens or pairs, the learning-rate schedule, gradient clipping, the divergence
guard, metrics (and their TensorBoard events), evaluation, atomic checkpoints and how many are kept,
the best checkpoint by an evaluation metric, plots, and an exact resume.

Data order is a pure function of the step number (:class:`StepSampler`), and the optimizer,
scheduler and random states are saved with each checkpoint, so a run killed at any moment and
started again continues from its last checkpoint with the same step count and the same batches.
A finished run whose max_steps was raised continues the same way; the learning-rate schedule is
then the one of the new max_steps (:func:`resync_schedule`).

Under ``torchrun`` (:mod:`training.distributed`) each rank takes its slice of every micro-batch,
the loss is normalised by the global token or pair count and gradients are summed across ranks,
so N processes take the step one process would; rank 0 alone logs, plots and checkpoints.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from training.config import TrainConfig
from training.distributed import SINGLE, Distributed
from training.models import apply_lora, is_peft, load_model, load_trainable_state, trainable_state
from training.runs import RunDir, capture_rng, plot_metrics, restore_rng

TRAINABLE_FILE = "trainable.safetensors"


class TrainingDiverged(RuntimeError):
    """The loss or gradient went NaN/inf or above max_loss; the last good checkpoint is kept."""


@dataclass
class Evaluation:
    """Held-out metrics (logged as ``eval_*``) and anything the checkpoint needs from them."""

    metrics: dict[str, float]
    extras: dict[str, Any] = field(default_factory=dict)


class Stage(Protocol):
    """What a training stage plugs into :func:`train`."""

    name: str  # "sft", "reward": names progress bars and checkpoint markers
    unit: str  # what the loss averages over: "tokens", "pairs"
    sampler: StepSampler  # which examples each step uses

    def micro_batches(self, step: int) -> list[Any]: ...

    def weight(self, micro_batch: Any) -> float: ...

    def loss(self, model: Any, micro_batch: Any) -> tuple[Any, dict[str, float]]:
        """Summed loss over the micro-batch's units (a tensor), and other per-unit sums."""

    def evaluate(self, model: Any) -> Evaluation: ...

    def write_model(self, model: Any, dest: Path, step: int, evaluation: Evaluation,
                    state_dict: dict[str, Any] | None = None) -> None:
        """Save a servable checkpoint to `dest`; `state_dict`: the full weights of an FSDP-sharded `model`."""


class StepSampler:
    """Example indices of each optimizer step: epochs of seeded permutations, cut into micro-batches."""

    def __init__(self, n_examples: int, batch_size: int, grad_accum_steps: int, seed: int, dist: Distributed = SINGLE):
        assert n_examples > 0
        self.n, self.batch_size, self.accum, self.seed = n_examples, batch_size, grad_accum_steps, seed
        self.dist = dist
        self._perms: dict[int, list[int]] = {}

    def _perm(self, epoch: int) -> list[int]:
        if epoch not in self._perms:
            order = list(range(self.n))
            random.Random(f"{self.seed}:epoch{epoch}").shuffle(order)
            self._perms = {epoch: order}  # one epoch at a time is all a step needs (plus the next)
        return self._perms[epoch]

    def micro_batches(self, step: int) -> list[list[int]]:
        per_step = self.batch_size * self.accum
        positions = range(step * per_step, (step + 1) * per_step)
        indices = [self._perm(p // self.n)[p % self.n] for p in positions]
        return [self.dist.shard(indices[i : i + self.batch_size]) for i in range(0, per_step, self.batch_size)]

    def epoch_of(self, step: int) -> float:
        return step * self.batch_size * self.accum / self.n


def lr_factor(step: int, config: TrainConfig) -> float:
    """Learning-rate multiplier for the optimizer step after `step` scheduler steps."""
    warmup = math.ceil(config.warmup_ratio * config.max_steps)
    if step < warmup:
        return (step + 1) / warmup
    if config.lr_schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, config.max_steps - warmup))
    low = config.min_lr_ratio
    if config.lr_schedule == "linear":
        return low + (1 - low) * (1 - progress)
    return low + (1 - low) * 0.5 * (1 + math.cos(math.pi * progress))


def build_optimizer(model: Any, config: TrainConfig, learning_rate: float | None = None) -> tuple[Any, Any]:
    """AdamW (no weight decay on biases and norms) and its warmup + decay schedule."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=learning_rate or config.learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    return optimizer, scheduler


def prepare_model(config: TrainConfig, run: RunDir, start_step: int, base: Path, kind: str, device: str,
                  dist: Distributed = SINGLE) -> Any:
    """The model to train: the base (plus fresh LoRA) for a new run, the last checkpoint for a resumed one
    (the same on every rank: rank 0's parameters are broadcast)."""
    import torch
    from safetensors.torch import load_file

    torch.manual_seed(config.seed)  # a new reward head or LoRA init is the same for a given seed
    source = run.checkpoint_dir if start_step and not config.lora else base
    model = load_model(source, kind, config)
    if config.lora:
        model = apply_lora(model, config, kind)
        if start_step:
            load_trainable_state(model, load_file(run.state_dir / TRAINABLE_FILE))
    model = model.to(device)
    dist.broadcast_parameters(model)
    return dist.shard_model(model)


def finite_metrics(record: dict[str, Any]) -> dict[str, Any]:
    """`record` with NaN/inf floats replaced by None, so metrics.jsonl stays valid JSON."""
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in record.items()}


def _accumulate(model: Any, stage: Stage, micro_batches: list[Any], trainable: list[Any],
                dist: Distributed) -> dict[str, float]:
    """Backward over this rank's micro-batches, normalised by the global unit count; gradients summed over ranks."""
    total = dist.sum(sum(stage.weight(m) for m in micro_batches))
    sums: dict[str, float] = defaultdict(float, loss=0.0)
    for micro_batch in micro_batches:
        loss_sum, extra = stage.loss(model, micro_batch)
        (loss_sum / total).backward()
        sums["loss"] += loss_sum.item()
        for key, value in extra.items():
            sums[key] += value
    dist.sum_grads(trainable)
    sums = dist.sum_dict(dict(sums))
    return {**{k: v / total for k, v in sums.items()}, stage.unit: total}


def clip_gradients(params: list[Any], limit: float) -> float:
    """Clip the gradients' total norm to `limit`; returns the norm before clipping (a plain float under FSDP too)."""
    import torch

    norm = torch.nn.utils.clip_grad_norm_(params, limit)
    return (norm.full_tensor() if hasattr(norm, "full_tensor") else norm).item()  # FSDP: a replicated DTensor


def divergence_error(run: RunDir, stage_name: str, step: int, what: str, value: float, limit: str,
                     dist: Distributed = SINGLE) -> TrainingDiverged:
    """Log the divergence to metrics.jsonl (rank 0) and build the error that stops the run."""
    saved = run.saved_step()
    kept = f"the last good checkpoint (step {saved}) is kept in {run.checkpoint_dir}" if saved else "no checkpoint had been written yet"
    if dist.is_main:
        run.metrics.append(finite_metrics({"step": step, "event": "diverged", what: float(value)}))
    return TrainingDiverged(
        f"{stage_name} stopped at step {step}: {what} is {value} ({limit}); {kept}. "
        "Lower learning_rate, lengthen the warmup or check the data, then rerun (it resumes from that checkpoint)."
    )


def _save(run: RunDir, stage: Stage, model: Any, optimizer: Any, scheduler: Any, step: int, evaluation: Evaluation,
          dist: Distributed) -> None:
    """Rank 0 writes the checkpoint (under FSDP every rank first helps gather the full state dicts)."""
    import torch
    from safetensors.torch import save_file

    model_state, optimizer_state = dist.model_state(model), dist.optimizer_state(model, optimizer)
    if not dist.is_main:
        return

    def write_state(dest: Path) -> None:
        torch.save(optimizer_state, dest / "optimizer.pt")
        torch.save(scheduler.state_dict(), dest / "scheduler.pt")
        torch.save(capture_rng(), dest / "rng.pt")
        if is_peft(model):
            save_file(trainable_state(model), dest / TRAINABLE_FILE)

    run.save(step, lambda dest: stage.write_model(model, dest, step, evaluation, model_state), write_state)
    plot_metrics(run.metrics_file, run.plots_dir)


def _save_best(run: RunDir, stage: Stage, model: Any, step: int, evaluation: Evaluation, saved: bool,
               dist: Distributed) -> None:
    """Make best/ this step's model when its evaluation improves metric_for_best (rank 0 decides and writes;
    linked from the checkpoint just `saved`, else written, every rank helping to gather it under FSDP)."""
    value = run.improves_best({f"eval_{k}": v for k, v in evaluation.metrics.items()}) if dist.is_main else None
    if dist.broadcast(value) is None:
        return
    model_state = None if saved else dist.model_state(model)
    if dist.is_main:
        write = None if saved else (lambda dest: stage.write_model(model, dest, step, evaluation, model_state))
        run.save_best(step, value, write)
    dist.barrier()


def resync_schedule(optimizer: Any, scheduler: Any) -> None:
    """Set the learning rates of a restored optimizer from its schedule as built now, at the restored step.

    A resume with the same max_steps leaves them as saved; a finished run extended to a larger max_steps
    gets the schedule recomputed for the new total (warmup and decay over the new max_steps, as if it had
    been planned from the start) instead of the saved rate, which the old schedule had decayed to its end.
    """
    rates = [base * factor(scheduler.last_epoch) for base, factor in zip(scheduler.base_lrs, scheduler.lr_lambdas,
                                                                          strict=True)]
    for group, rate in zip(optimizer.param_groups, rates, strict=True):
        group["lr"] = rate
    scheduler._last_lr = rates  # what get_last_lr() reports (torch keeps it there)


def restore_state(run: RunDir, optimizer: Any, scheduler: Any, prefix: str = "", model: Any = None,
                  dist: Distributed = SINGLE) -> None:
    """Load an optimizer and its scheduler saved by a checkpoint (`prefix` tells several apart), with the
    learning rates of the schedule as configured now (:func:`resync_schedule`); under FSDP, `model` is the
    sharded model the optimizer updates."""
    import torch

    dist.load_optimizer_state(model, optimizer, torch.load(run.state_dir / f"{prefix}optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(run.state_dir / f"{prefix}scheduler.pt", weights_only=True))
    resync_schedule(optimizer, scheduler)


def train(config: TrainConfig, run: RunDir, model: Any, stage: Stage, start_step: int,
          stop_after: int | None = None, on_step: Callable[[int], None] | None = None,
          dist: Distributed = SINGLE) -> Evaluation | None:
    """Optimize `model` from `start_step` to ``config.max_steps``; returns the last evaluation.

    Under torchrun every rank calls this with its `dist`; the stage's sampler must shard with it.

    `stop_after` ends the loop after that step as a kill would (no extra checkpoint); tests use it.

    Raises:
        TrainingDiverged: a NaN/inf or too large loss or gradient (nothing is saved after it).
    """
    import torch
    from tqdm import tqdm

    # 0. optimizer and schedule, restored with the random state when resuming
    optimizer, scheduler = build_optimizer(model, config)
    if start_step:
        restore_state(run, optimizer, scheduler, model=model, dist=dist)
        restore_rng(torch.load(run.state_dir / "rng.pt", weights_only=False))
    metrics, evaluation, started = run.metrics, None, time.monotonic()
    trainable = [p for p in model.parameters() if p.requires_grad]
    bar = tqdm(total=config.max_steps, initial=start_step, desc=f"{stage.name}", unit="step",
               disable=not (config.progress and dist.is_main))
    model.train()
    for step in range(start_step + 1, config.max_steps + 1):
        # 1. forward and backward over this step's micro-batches, weighted by their units
        record = _accumulate(model, stage, stage.micro_batches(step - 1), trainable, dist)

        # 2. divergence guard, before the optimizer touches the weights
        if not math.isfinite(record["loss"]) or record["loss"] > config.max_loss:
            bar.close()
            raise divergence_error(run, stage.name, step, "loss", record["loss"], f"max_loss {config.max_loss}", dist)
        limit = config.max_grad_norm if config.max_grad_norm > 0 else math.inf
        grad_norm = clip_gradients(trainable, limit)
        if not math.isfinite(grad_norm):
            bar.close()
            raise divergence_error(run, stage.name, step, "grad_norm", grad_norm, "not finite", dist)

        # 3. optimizer and learning-rate schedule
        record.update(grad_norm=grad_norm, lr=scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

        # 4. metrics and progress
        if dist.is_main and (step % config.log_every == 0 or step == config.max_steps):
            elapsed = round(time.monotonic() - started, 3)  # seconds of training in this process
            metrics.append(finite_metrics({"step": step, **record, "epoch": round(stage.sampler.epoch_of(step), 4),
                                    "elapsed_s": elapsed}))
        bar.update(1)
        bar.set_postfix(loss=f"{record['loss']:.4f}")

        # 5. evaluation (also before every checkpoint, which carries its results)
        final, saving = step == config.max_steps, step % config.save_every == 0 or step == config.max_steps
        evaluated = saving or bool(config.eval_every and step % config.eval_every == 0)
        if evaluated:
            evaluation = stage.evaluate(model)
            model.train()
            if dist.is_main:
                metrics.append(finite_metrics({"step": step, **{f"eval_{k}": v for k, v in evaluation.metrics.items()}}))

        # 6. atomic checkpoint and plots; best/ when this evaluation improved metric_for_best
        if saving:
            _save(run, stage, model, optimizer, scheduler, step, evaluation, dist)
            dist.barrier()  # no rank runs ahead of (or resumes from) a checkpoint rank 0 is still writing
        if evaluated and config.metric_for_best is not None:
            _save_best(run, stage, model, step, evaluation, saving, dist)
        if on_step is not None:
            on_step(step)
        if final or (stop_after is not None and step >= stop_after):
            break
    bar.close()
    run.close()
    return evaluation
