"""Inference: the one engine layer below both the server and training (floor 3, ARCHITECTURE.md).

Modules (import what you need; this ``__init__`` imports nothing):

- ``engine``       the `Engine` interface, its plain dataclasses and its two error types
- ``config``       `EngineConfig` and `CpuTuning`: plain typed engine settings that read no environment
- ``vllm_engine``  `engine_args(config)` (the one place vLLM's engine arguments are built) and
                   `VllmEngine`, the `Engine` on vLLM's in-process ``AsyncLLM``
- ``offline``      `offline_llm(config)`: a ``vllm.LLM`` for batch work (sampling, PPO rollouts, evaluation)
- ``generation``   collect a request's output, the output budget, `StructuredGenerator`, `UsageTally`
- ``cpu_tuning``   CPU defaults for vLLM's engine processes (preloads, thread binding)
- ``vllm_plugin``  the ``vllm.general_plugins`` entry point loaded in vLLM's own processes

The server wraps it with HTTP (metrics, error envelopes, ``ICEGRT_*`` settings); training and
evaluation use it directly, each building `EngineConfig` from its own configuration.
"""
