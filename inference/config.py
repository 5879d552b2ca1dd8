"""Engine settings as plain typed values: what every vLLM engine of the project is built from.

`EngineConfig` reads no environment: each caller builds it from its own configuration (the
server from its ``ICEGRT_*`` settings, `icegrt sample` and PPO from their YAML configs,
evaluation from its flags), so a variable set for one never changes another's engine.
`inference.vllm_engine.engine_args` turns it into vLLM's engine arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Dtype = Literal["auto", "half", "float16", "bfloat16", "float", "float32"]


@dataclass(frozen=True)
class CpuTuning:
    """CPU-only settings for vLLM's engine processes (see :mod:`inference.cpu_tuning`)."""

    preload_tcmalloc: bool = True
    """Preload tcmalloc (Debian libtcmalloc-minimal4) into the engine's processes."""
    preload_iomp: bool = True
    """Preload Intel OpenMP (PyPI intel-openmp) into the engine's processes."""
    threads_bind: str | None = None
    """``VLLM_CPU_OMP_THREADS_BIND`` (auto, nobind or CPU ids like 0-1); None: vLLM's auto."""
    reserved_cpus: int | None = None
    """``VLLM_CPU_NUM_OF_RESERVED_CPU``; None: 0 where more than one CPU is usable, else vLLM's choice."""
    engine_poll_us: int | None = None
    """Engine processes sleep this many microseconds between checks for a message instead of
    spinning (:mod:`inference.vllm_plugin`); None: spin, vLLM's way."""


@dataclass(frozen=True)
class EngineConfig:
    """One vLLM engine: the model and how to run it. Defaults are the project's, not vLLM's."""

    model: Path
    """Hugging Face checkpoint directory."""
    served_names: tuple[str, ...] = ()
    """Model ids clients may send, the first one reported; empty: the directory's name."""
    dtype: Dtype | None = None
    """Weight dtype; None: float32 on CPU (5x faster than bfloat16 there), auto on GPU."""
    max_model_len: int | None = None
    """Context window in tokens; None: the model's own."""
    enforce_eager: bool = False
    """Skip torch.compile (faster start, slower decoding)."""
    seed: int = 0
    """Engine seed for requests that give none."""
    max_num_seqs: int | None = None
    """Most sequences batched at once; None: vLLM's default."""
    kv_cache_space: float = 2.0
    """CPU only: GiB of memory for the KV cache."""
    gpu_memory_utilization: float = 0.9
    """GPU only: fraction of GPU memory vLLM may use."""
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    data_parallel_size: int = 1
    distributed_executor_backend: Literal["mp", "ray", "uni"] | None = None
    data_parallel_backend: Literal["mp", "ray"] = "mp"
    cpu_tuning: CpuTuning | None = None
    """CPU only: set before the engine's processes start; None leaves vLLM's CPU defaults."""
    chat_template: str | None = None
    """Chat template used instead of the model's (a file or the template itself); None: the model's."""
    lora_modules: tuple[tuple[str, Path], ...] = ()
    """LoRA adapters (PEFT folders) served on top of the model, by name."""
    engine_overrides: dict[str, Any] = field(default_factory=dict)
    """Further ``AsyncEngineArgs`` fields, applied last, over the project's choices above."""

    @property
    def names(self) -> tuple[str, ...]:
        return self.served_names or (Path(self.model).name,)

    @property
    def name(self) -> str:
        return self.names[0]
