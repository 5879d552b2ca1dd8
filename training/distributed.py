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

``fsdp: true`` (SFT and reward training; for models whose weights, gradients and AdamW state do not
fit one card) shards the model instead of replicating it: PyTorch's FSDP2 ``fully_shard`` on each
decoder layer, the backbone and head, and the whole model (:meth:`Distributed.shard_model`). The split of the batch and
the global normalisation stay as above; FSDP's reduce-scatter averages the gradients and
:meth:`Distributed.sum_grads` scales that back to their sum. Checkpoints are gathered to a full state dict on rank 0
and saved in the same Hugging Face format; the optimizer state is gathered too, keyed by parameter
name, so a run resumes with the fsdp setting it started with. NCCL on GPU; gloo on CPU works too (the test runs it), though only as a check.
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
    fsdp: bool = False
    """Models are sharded with FSDP (:meth:`shard_model`) rather than replicated."""

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
        """Sum the gradients of `params` over all ranks, in one flat all-reduce (missing grads count as 0).

        Under FSDP its reduce-scatter in backward has averaged them over the ranks already: each rank
        scales its shard back to the sum (FSDP's divide factor 1 would use PREMUL_SUM, which gloo lacks).
        """
        if not self.enabled:
            return
        if self.fsdp:
            for p in params:
                if p.grad is not None:
                    p.grad.mul_(self.world_size)
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

    def shard_model(self, model: Any) -> Any:
        """Under FSDP, shard `model` across the ranks; else `model` as is.

        Units: each decoder layer; each top-level part that shares no weight with another (a reward
        or value model's backbone and score head, which :mod:`training.reward` calls one after the
        other rather than through the model's forward); then the whole model, which keeps the rest
        (a causal LM's tied embedding and output head). Call it after :meth:`broadcast_parameters`:
        FSDP shards what each rank holds.
        """
        if not self.fsdp:
            return model
        from collections import Counter

        from torch.distributed.fsdp import fully_shard

        block_names = set(getattr(model, "_no_split_modules", None) or ())  # e.g. LlamaDecoderLayer
        for module in [m for m in model.modules() if type(m).__name__ in block_names]:
            fully_shard(module)
        parts = [child for child in model.children() if any(True for _ in child.parameters())]
        holders = Counter(id(p) for part in parts for p in part.parameters())
        for part in parts:
            if all(holders[id(p)] == 1 for p in part.parameters()):
                fully_shard(part)
        fully_shard(model)
        return model

    def model_state(self, model: Any) -> dict[str, Any] | None:
        """Under FSDP, the full state dict on rank 0 (on CPU; every rank must call it); else None."""
        if not self.fsdp:
            return None
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        if not self.is_main:
            return None
        # a tied weight once, under the name save_pretrained keeps (the gathered copies share no storage)
        names = {name for name, _ in model.named_parameters()} | {name for name, _ in model.named_buffers()}
        return {k: v for k, v in state.items() if k in names}

    def optimizer_state(self, model: Any, optimizer: Any) -> dict[str, Any] | None:
        """The optimizer's full state dict (gathered to rank 0 under FSDP: every rank must call it)."""
        if not self.fsdp:
            return optimizer.state_dict()
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        state = get_optimizer_state_dict(model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        return state if self.is_main else None

    def load_optimizer_state(self, model: Any, optimizer: Any, state: dict[str, Any]) -> None:
        """Load a full optimizer state dict (saved by :meth:`optimizer_state`), sharding it under FSDP."""
        if not self.fsdp:
            optimizer.load_state_dict(state)
            return
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def _device(self) -> str:
        import torch.distributed as dist

        return f"cuda:{self.local_rank}" if dist.get_backend() == "nccl" else "cpu"


SINGLE = Distributed()


def setup(device: str, batch_sizes: dict[str, int] | None = None, fsdp: bool = False) -> tuple[Distributed, str]:
    """Join torchrun's process group when ``WORLD_SIZE`` > 1; returns the context and this rank's device.

    `batch_sizes` names settings that are split across ranks and so must be multiples of the
    world size. `fsdp` shards the models across the ranks (it needs torchrun).

    Raises:
        ConfigError: a batch size that does not split evenly across the processes, or fsdp without torchrun.
    """
    from training.config import ConfigError

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if fsdp and world_size <= 1:
        raise ConfigError("fsdp: true shards the model across torchrun processes: start the stage with "
                          "`torchrun --nproc_per_node N -m cli.main train ...` (N >= 2), or set fsdp: false")
    if world_size <= 1:
        return SINGLE, device
    context = Distributed(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")), fsdp)
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
