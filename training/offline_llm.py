"""In-process vLLM (``vllm.LLM``) for offline work: `icegrt sample` and PPO rollouts.

The engine is configured as the server configures its own (:func:`server.vllm_engine.engine_args`:
dtype, KV cache size on CPU, GPU memory share, prefix caching, structured outputs), so training
samples what the server would return for the same request. Only the arguments that differ from
vLLM's defaults are passed on to ``vllm.LLM``, which rebuilds the same ``EngineArgs`` from them.

vLLM starts its workers with spawn: a script that calls this needs an
``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any


def offline_llm(model_path: Path, *, seed: int = 0, max_model_len: int | None = None, enforce_eager: bool = True,
                kv_cache_space: float = 1.0, gpu_memory_utilization: float = 0.9,
                worker_extension_cls: str | None = None) -> Any:
    """A ``vllm.LLM`` on `model_path` with the server's engine settings.

    Args:
        kv_cache_space: GiB of KV cache on CPU.
        gpu_memory_utilization: share of the GPU vLLM may take (lower it when training shares the GPU).
        worker_extension_cls: qualified name of a class whose methods are added to vLLM's workers
            (called with ``llm.collective_rpc(name, ...)``).
    """
    from vllm import LLM, EngineArgs

    from server.settings import ServerSettings
    from server.vllm_engine import engine_args

    settings = ServerSettings(model=str(model_path), seed=seed, max_model_len=max_model_len, enforce_eager=enforce_eager,
                              kv_cache_space=kv_cache_space, gpu_memory_utilization=gpu_memory_utilization)
    server_args = engine_args(settings, Path(model_path), Path(model_path).name)
    defaults = EngineArgs(model=server_args.model)
    kwargs = {f.name: getattr(server_args, f.name) for f in dataclasses.fields(EngineArgs)
              if getattr(server_args, f.name) != getattr(defaults, f.name)}
    kwargs.update(model=server_args.model, disable_log_stats=True)
    if worker_extension_cls:
        kwargs["worker_extension_cls"] = worker_extension_cls
    return LLM(**kwargs)
