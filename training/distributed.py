"""Data-parallel training under ``torchrun`` (gloo on CPU, NCCL on GPU).

``torchrun --nproc_per_node N -m cli.main train sft --config ...`` starts N copies of a stage;
each finds ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` in its environment and :func:`setup` joins
them into one process group. Without ``WORLD_SIZE`` (or with 1) nothing changes: the
single-process path is the same code with :data:`SINGLE`.

How a step is split, so that N processes compute the step one process would (same global batch,
same update, up to floating-point summation order):

- every micro-batch of the config's ``batch_size`` examples is cut into N equal slices, one per
  rank (:meth:`Distributed.shard`); ``batch_size`` must be a multiple of N;
- the loss is normalised by the *global* count of tokens or pairs (:meth:`Distributed.sum`), and
  gradients are summed across ranks (:meth:`Distributed.sum_grads`) before clipping, so every
  replica takes the same optimizer step and stays identical (its parameters are broadcast from
  rank 0 once, at the start);
- rank 0 alone shows progress, writes metrics.jsonl, plots and checkpoints; the others wait at a
  barrier while it writes, and read the same checkpoint when resuming.

The gradient sum is done by hand (one flat all-reduce per step) rather than by wrapping the model
in DDP: a stage keeps calling its model directly (PEFT and reward-head helpers need the plain
module), and gradient accumulation over micro-batches needs no ``no_sync`` bookkeeping.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Distributed:
    """This process's place among the data-parallel processes (rank 0 of 1 when alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that shows progress and writes the run directory."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def shard(self, items: Sequence[T]) -> list[T]:
        """This rank's contiguous slice of `items` (rank order = the items' order)."""
        n = len(items)
        return list(items[self.rank * n // self.world_size : (self.rank + 1) * n // self.world_size])

    def sum(self, value: float) -> float:
        """`value` summed over all ranks."""
        return self.sum_dict({"value": value})["value"] if self.enabled else value

    def sum_dict(self, values: dict[str, float]) -> dict[str, float]:
        """Each value summed over all ranks (every rank must pass the same keys)."""
        if not self.enabled:
            return values
        import torch
        import torch.distributed as dist

        keys = sorted(values)
        tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=self._device())
        dist.all_reduce(tensor)
        return dict(zip(keys, tensor.tolist(), strict=True))

    def sum_grads(self, params: Iterable[Any]) -> None:
        """Sum the gradients of `params` over all ranks, in one flat all-reduce (missing grads count as 0)."""
        if not self.enabled:
            return
        import torch
        import torch.distributed as dist

        params = list(params)
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        dist.all_reduce(flat)
        offset = 0
        for p in params:
            p.grad.copy_(flat[offset : offset + p.numel()].view_as(p.grad))
            offset += p.numel()

    def broadcast_parameters(self, model: Any) -> None:
        """Make every replica start from rank 0's parameters and buffers."""
        if not self.enabled:
            return
        import torch
        import torch.distributed as dist

        with torch.no_grad():
            for tensor in [*model.parameters(), *model.buffers()]:
                dist.broadcast(tensor.data, src=0)

    def broadcast(self, obj: T) -> T:
        """Rank 0's `obj` (picklable), on every rank."""
        if not self.enabled:
            return obj
        import torch.distributed as dist

        holder = [obj]
        dist.broadcast_object_list(holder, src=0)
        return holder[0]

    def gather(self, items: list[T]) -> list[T]:
        """Every rank's `items` (picklable; tensors on CPU), concatenated in rank order, on every rank."""
        if not self.enabled:
            return items
        import torch.distributed as dist

        parts: list[Any] = [None] * self.world_size
        dist.all_gather_object(parts, items)
        return [item for part in parts for item in part]

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def _device(self) -> str:
        import torch.distributed as dist

        return f"cuda:{self.local_rank}" if dist.get_backend() == "nccl" else "cpu"


SINGLE = Distributed()


def setup(device: str, batch_sizes: dict[str, int] | None = None) -> tuple[Distributed, str]:
    """Join torchrun's process group when ``WORLD_SIZE`` > 1; returns the context and this rank's device.

    `batch_sizes` names settings that are split across ranks and so must be multiples of the
    world size.

    Raises:
        ConfigError: a batch size that does not split evenly across the processes.
    """
    from training.config import ConfigError

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return SINGLE, device
    context = Distributed(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    uneven = {k: v for k, v in (batch_sizes or {}).items() if v % world_size}
    if uneven:
        details = ", ".join(f"{k}={v}" for k, v in uneven.items())
        raise ConfigError(f"{details} must be a multiple of the {world_size} torchrun processes (each takes an equal share)")
    import torch
    import torch.distributed as dist

    if device.startswith("cuda"):
        torch.cuda.set_device(context.local_rank)
        device = f"cuda:{context.local_rank}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return context, device


def teardown() -> None:
    """Leave the process group, if this process joined one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
