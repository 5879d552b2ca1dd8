"""Server settings: every field is a ``icegrt serve`` flag and an ``ICEGRT_*`` variable.

Flag names follow ``vllm serve`` where the setting exists there (``--model``, ``--host``,
``--port``, ``--served-model-name``, ``--dtype``, ``--max-model-len``, ``--api-key``,
``--allowed-origins``, ``--chat-template``, ``--enforce-eager``, ``--gpu-memory-utilization``,
``--max-num-seqs``, ``--tensor-parallel-size``, ``--pipeline-parallel-size``,
``--data-parallel-size``, ``--distributed-executor-backend``, ``--data-parallel-backend``, the tool
calling flags ``--enable-auto-tool-choice``, ``--tool-call-parser``, ``--tool-parser-plugin``,
``--tool-strict-level``, ``--exclude-tools-when-tool-choice-none``); every
other engine flag of ``vllm serve`` reaches vLLM unchanged through `engine_args`
(:mod:`server.cli_args` sorts a command line).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_MODEL = "SmolLM2-135M-Instruct"


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/icegrt``, else ``~/.local/share/icegrt``."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "icegrt"


def _json_items(value: str) -> list[str]:
    """The string items of `value` when it is a JSON array of strings, else `value` itself."""
    if value.lstrip().startswith("["):
        try:
            items = json.loads(value)
        except ValueError:
            return [value]
        if isinstance(items, list) and all(isinstance(item, str) for item in items):
            return items
    return [value]


class LoraModule(BaseModel):
    """A LoRA adapter served by name on top of the model (``vllm serve --lora-modules``)."""

    name: str = Field(min_length=1, pattern=r"^\S+$")
    path: Path

    @field_validator("path")
    @classmethod
    def _is_a_peft_folder(cls, path: Path) -> Path:
        if not (path / "adapter_config.json").is_file():
            raise ValueError(f"{path} is not a PEFT LoRA adapter folder (no adapter_config.json)")
        return path.resolve()

    @classmethod
    def parse(cls, value: object) -> object:
        """``name=path`` or vLLM's JSON form ``{"name": ..., "path": ...}`` (its ``base_model_name`` is ignored:
        every adapter here sits on the served model)."""
        if isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"not a JSON object: {exc}") from None
        if isinstance(value, str):
            name, sep, path = value.partition("=")
            if not sep:
                raise ValueError(f"{value!r} is not name=path")
            return {"name": name, "path": path}
        if isinstance(value, dict):
            return {"name": value.get("name"), "path": value.get("path")}
        return value


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ICEGRT_", extra="forbid")

    model: str = Field(
        DEFAULT_MODEL,
        description="Prepared model name (SmolLM2-135M-Instruct, tiny) or a Hugging Face checkpoint directory",
    )
    served_model_name: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Model ids clients may send and /v1/models lists, the first one in responses (several as "
        "vllm serve takes them: repeat or list after the flag, commas in the environment); none: the model's name",
    )
    host: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 for all interfaces")
    port: int = Field(8000, ge=0, le=65535, description="TCP port to listen on")
    dtype: Literal["auto", "half", "float16", "bfloat16", "float", "float32"] | None = Field(
        None, description="Weight dtype (vllm serve's choices); unset means float32 on CPU (5x faster than bfloat16 "
        "there), auto on GPU"
    )
    max_model_len: int | None = Field(
        None, ge=16, description="Context window in tokens; unset uses the model's own"
    )
    kv_cache_space: float = Field(
        2.0, gt=0, description="CPU only: GiB of memory for the KV cache (VLLM_CPU_KVCACHE_SPACE)"
    )
    gpu_memory_utilization: float = Field(
        0.9, gt=0, le=1, description="GPU only: fraction of GPU memory vLLM may use"
    )
    max_num_seqs: int | None = Field(
        None, ge=1, description="Most sequences the engine batches at once; unset uses vLLM's default"
    )
    tensor_parallel_size: int = Field(
        1, ge=1, description="GPUs each model replica is split across, layer by layer (vLLM tensor parallelism)"
    )
    pipeline_parallel_size: int = Field(
        1, ge=1, description="Stages each model replica is split into, e.g. one per node (vLLM pipeline parallelism)"
    )
    data_parallel_size: int = Field(
        1, ge=1, description="Model replicas this server runs, each of tensor x pipeline GPUs (vLLM data parallelism)"
    )
    distributed_executor_backend: Literal["mp", "ray", "uni"] | None = Field(
        None,
        description="How vLLM starts its workers: mp (one node), ray (across the nodes of a Ray cluster), uni "
        "(in-process); unset lets vLLM choose",
    )
    data_parallel_backend: Literal["mp", "ray"] = Field(
        "mp", description="How vLLM starts data-parallel replicas: mp (one node) or ray (across a Ray cluster)"
    )
    chat_template: str | None = Field(
        None, description="Chat template used instead of the model's: a Jinja file, or the template itself"
    )
    enable_auto_tool_choice: bool = Field(
        False, description="Let the model decide when to call tools (tool_choice auto, the default with tools): "
        "its output is parsed for tool calls with --tool-call-parser (vllm serve's flag)"
    )
    tool_call_parser: str | None = Field(
        None, description="vLLM tool parser for the model's tool-call format (hermes, llama3_json, mistral, "
        "pythonic, ... or one registered by --tool-parser-plugin); needed by --enable-auto-tool-choice, and used "
        "then for required and named tool choices too"
    )
    tool_parser_plugin: str | None = Field(
        None, description="Python file registering a tool parser with vLLM's ToolParserManager, for "
        "--tool-call-parser (vllm serve's flag)"
    )
    tool_strict_level: Literal["auto", "function", "parameter"] = Field(
        "auto", description="Floor of vLLM's tool-call grammar (structural tags) with a --tool-call-parser: auto "
        "follows tool_choice and each tool's strict, function constrains every call's markup and name, parameter "
        "also holds arguments to their schema as if every tool were strict"
    )
    exclude_tools_when_tool_choice_none: bool = Field(
        False, description="Leave the tools out of the chat template when tool_choice is none"
    )
    lora_modules: Annotated[list[LoraModule], NoDecode] = Field(
        default_factory=list,
        description="LoRA adapters (PEFT folders, e.g. a run's checkpoint/adapter) served on top of the model and "
        "chosen by a request's model: name=path or vllm serve's JSON form; repeat or list after the flag (commas "
        "in the environment)",
    )
    engine_args: dict[str, Any] = Field(
        default_factory=dict,
        description="More vLLM engine arguments, passed unchanged (a JSON object, e.g. "
        """'{"max_num_batched_tokens": 4096}'); on the command line any vllm serve engine flag does the same""",
    )
    enforce_eager: bool = Field(
        False, description="Skip torch.compile (faster start, slower decoding); tests use it"
    )
    cpu_preload_tcmalloc: bool = Field(
        True, description="CPU only: preload tcmalloc (Debian libtcmalloc-minimal4) into the engine's processes"
    )
    cpu_preload_iomp: bool = Field(
        True, description="CPU only: preload Intel OpenMP (PyPI intel-openmp) into the engine's processes"
    )
    cpu_threads_bind: str | None = Field(
        None, description="CPU only: VLLM_CPU_OMP_THREADS_BIND (auto, nobind or CPU ids like 0-1); unset: vLLM's auto"
    )
    cpu_reserved_cpus: int | None = Field(
        None, ge=0, description="CPU only: VLLM_CPU_NUM_OF_RESERVED_CPU, CPUs kept off the model's threads; unset: "
        "0 where more than one CPU is usable (1.45-1.5x vLLM's one on 2 CPUs), else vLLM's choice"
    )
    cpu_engine_poll_us: int | None = Field(
        None, ge=1, le=100_000, description="CPU only: vLLM's engine processes sleep this many microseconds between "
        "checks for their next message instead of spinning on sched_yield; unset: spin (vLLM's way; see "
        "inference/vllm_plugin.py). Set it (100-200) when other processes share a small CPU machine: a spinning "
        "engine can leave a neighbour seconds waiting for a core; polling costs 4 to 14 per cent of throughput"
    )
    seed: int = Field(0, description="Engine seed for requests that give none")
    api_key: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Accepted API keys, each its own tenant: repeat the flag or separate keys with commas (the "
        "same in the environment); none (and no --api-key-file) means no auth",
    )
    api_key_file: Path | None = Field(
        None, description="File of API keys, one a line: KEY [TENANT] [admin] (# comments); keys naming the same "
        "tenant share its conversations, admin keys see every tenant's (see server/tenancy.py)",
    )
    allow_unauthenticated: bool = Field(
        False, description="Serve without API keys on a non-loopback --host (refused otherwise)"
    )
    metrics_require_auth: bool = Field(False, description="Require an API key for /metrics too")
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="CORS origins allowed to call the API ('*' for any)"
    )
    ads_mode: Literal["auto", "rules", "hybrid"] = Field(
        "auto",
        description="Default mode of /v1/ads/compliance: auto (the model's judgement only for a checkpoint "
        "trained on the task), rules (detectors only), hybrid (rules plus the model's judgement)",
    )
    max_request_body_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, description="Larger request bodies get 413"
    )
    client_header_timeout: float = Field(
        10.0, gt=0, description="Seconds a connection may take to send a request's headers (from opening, or from "
        "the previous response); then it is closed"
    )
    client_body_timeout: float = Field(
        30.0, gt=0, description="Seconds a request may take to send its whole body; then 408"
    )
    max_connections: int = Field(
        2048, ge=1, description="Most open client connections; a new one over it closes the connection that has "
        "waited longest without finishing its request. Kept below the open-file limit (its soft value is raised "
        "at start where allowed)"
    )
    max_conversations_per_key: int | None = Field(
        10_000, ge=1, description="Most conversations one tenant (API key) may keep stored; more is 429; unset: "
        "no limit"
    )
    max_stored_bytes_per_key: int | None = Field(
        512 * 1024 * 1024, ge=1, description="Most bytes of messages one tenant may keep stored; more is 429; unset: "
        "no limit"
    )
    max_system_prompt_bytes: int | None = Field(
        64 * 1024, ge=1, description="Longest system message of a conversation, in UTF-8 bytes; longer is 413"
    )
    max_history_bytes: int | None = Field(
        4 * 1024 * 1024, ge=1, description="Most bytes of messages one conversation may hold; a message past it is "
        "413 (start a new conversation)"
    )
    conversation_ttl: float | None = Field(
        None, gt=0, description="Seconds after its last message an idle conversation is deleted; unset: kept"
    )
    graceful_shutdown_timeout: float = Field(
        60.0, ge=0, description="Seconds in-flight requests may run on after SIGTERM"
    )
    max_queued_requests: int | None = Field(
        None, ge=1,
        description="Most generation requests in flight (running or waiting) at once; more get 503 with "
        "Retry-After; unset means no cap",
    )
    rate_limit_rpm: int | None = Field(
        None, ge=1,
        description="Generation requests per minute per API key (per client IP without keys); more get 429 "
        "with Retry-After; unset means no limit",
    )
    rate_limit_tpm: int | None = Field(
        None, ge=1,
        description="Tokens per minute per API key (per client IP without keys): prompt plus max_tokens charged "
        "up front, the unused part refunded; over it, 429 with Retry-After; unset means no limit",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level")
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Directory of the conversation and feedback database (SQLite file icegrt.db)",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the conversation and feedback store; unset means SQLite in --data-dir"
    )

    @model_validator(mode="after")
    def _auto_tools_need_a_parser(self) -> "ServerSettings":
        if self.enable_auto_tool_choice and not self.tool_call_parser:
            raise ValueError("--enable-auto-tool-choice requires --tool-call-parser")
        return self

    @field_validator("engine_args", mode="before")
    @classmethod
    def _parse_json_object(cls, value: object) -> object:
        """The command line gives the object as JSON text, as the environment does."""
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError(f"not a JSON object: {exc}") from None
        return value

    @field_validator("lora_modules", mode="before")
    @classmethod
    def _parse_lora_modules(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()] if not value.lstrip().startswith("[") \
                else json.loads(value)
        return [LoraModule.parse(item) for item in value] if isinstance(value, list) else value

    @field_validator("api_key", "allowed_origins", "served_model_name", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        """``a,b``, ``["a,b"]`` and ``["a", "b"]`` all mean the two values a and b; a value that is a
        JSON array (``'["*"]'``, the form ``vllm serve --allowed-origins`` takes) means its items."""
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return [part.strip() for item in value for element in _json_items(item)
                    for part in element.split(",") if part.strip()]
        return value
