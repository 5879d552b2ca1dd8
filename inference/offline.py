"""In-process vLLM (``vllm.LLM``) for offline work: `icegrt sample`, PPO rollouts, general evaluation.

The engine is configured as the server configures its own (:func:`inference.vllm_engine.engine_args`:
dtype, KV cache size on CPU, GPU memory share, prefix caching, structured outputs), so training
samples what the server would return for the same request. Only the arguments that differ from
vLLM's defaults are passed on to ``vllm.LLM``, which rebuilds the same ``EngineArgs`` from them.

vLLM starts its workers with spawn: a script that calls this needs an
``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from inference.config import EngineConfig


def offline_llm_kwargs(config: EngineConfig, *, worker_extension_cls: str | None = None) -> dict[str, Any]:
    """The keyword arguments :func:`offline_llm` gives ``vllm.LLM`` (builds no engine).

    Args:
        worker_extension_cls: qualified name of a class whose methods are added to vLLM's workers
            (called with ``llm.collective_rpc(name, ...)``).
    """
    from vllm import EngineArgs

    from inference.vllm_engine import engine_args

    server_args = engine_args(config)
    defaults = EngineArgs(model=server_args.model)
    kwargs = {f.name: getattr(server_args, f.name) for f in dataclasses.fields(EngineArgs)
              if getattr(server_args, f.name) != getattr(defaults, f.name)}
    kwargs.update(model=server_args.model, disable_log_stats=True)
    if worker_extension_cls:
        kwargs["worker_extension_cls"] = worker_extension_cls
    return kwargs


def offline_llm(config: EngineConfig, *, worker_extension_cls: str | None = None) -> Any:
    """A ``vllm.LLM`` built from `config` (see :func:`offline_llm_kwargs`)."""
    from vllm import LLM

    from inference.vllm_engine import prepare_processes

    kwargs = offline_llm_kwargs(config, worker_extension_cls=worker_extension_cls)
    prepare_processes(config)
    return LLM(**kwargs)
