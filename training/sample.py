"""``icegrt sample``: k diverse replies per prompt from a checkpoint, with in-process vLLM.

Prompts come from a JSONL file (``--prompts``: one object per line with ``messages`` (or
``prompt``) ending in a user turn, and optionally ``id``, ``source``, ``reference``, ``gold``) or
from the project's prompt sources, exactly as PPO draws them
(:func:`training.ppo.prompts.draw_prompts`: ``--prompt-source sft`` with ``--prompt-mix``, or
``preference``). Each prompt is rendered with the model's chat template and sampled ``k`` times
with ``SamplingParams(n=k, temperature, top_p, seed)`` on an engine set up as the server's
(:mod:`inference.offline`, configured by :func:`engine_config` from this command's settings only). The seed of a prompt is derived from ``--seed`` and the prompt's
id, so its replies do not depend on which other prompts are in the file.

Output: one JSON object per prompt (written atomically when all are done)::

    {"prompt_id": "gsm8k-12", "prompt": [messages], "source": "gsm8k", "task": "gsm8k",
     "reference": "... #### 18", "gold": null,
     "responses": [{"response_id": "gsm8k-12#0", "text": ..., "finish_reason": "stop", "num_tokens": 41}, ...],
     "model": "runs/sft_tiny/checkpoint",
     "sampling": {"n": 4, "temperature": 1.0, "top_p": 1.0, "max_tokens": 256, "seed": 7390...}}

``task`` names the scorer `icegrt rank --by scorer` uses (:data:`training.rank.scorers.SCORERS`),
or is null for sources without one. Prompts longer than ``max_model_len - max_tokens`` tokens
are skipped and counted.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.jsonl import write_jsonl_atomically
from inference.config import EngineConfig
from training.config import ConfigError, SourceMix

_ROLES = {"system", "user", "assistant"}


class SampleConfig(BaseModel):
    """Settings of `icegrt sample` (each a ``--flag``; a YAML file with ``--config``)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field("SmolLM2-135M-Instruct", description="Model to sample from: a known name or a checkpoint directory")
    output: Path = Field(..., description="JSONL file to write (one record per prompt, with its k replies)")
    prompts: Path | None = Field(
        None, description="JSONL file of prompts ({messages: [...]} or {prompt: [...]}, optional id/source/reference/gold); "
                          "without it prompts come from prompt_source"
    )
    prompt_source: Literal["sft", "preference"] = Field(
        "sft", description="Without --prompts: sft = the SFT data sources (prompt_mix), preference = preference_prompts' prompts"
    )
    prompt_mix: SourceMix = Field(
        {"gsm8k": 8, "e2e_text_to_table": 8}, description="Prompts drawn from each SFT data source (source=count,...)"
    )
    preference_prompts: list[str] = Field(["dpo_en_demo"], min_length=1, description="Preference pair sources for prompt_source preference")
    limit: int | None = Field(None, ge=1, description="Sample at most this many prompts (the first ones)")
    k: int = Field(4, ge=2, le=64, description="Replies per prompt (at least 2: a ranking needs two)")
    temperature: float = Field(1.0, gt=0, le=10.0, description="Sampling temperature (> 0: the replies should differ)")
    top_p: float = Field(1.0, gt=0, le=1.0, description="Nucleus sampling threshold")
    max_tokens: int = Field(256, ge=1, le=16384, description="Most tokens per reply")
    seed: int = Field(0, ge=0, description="Seed; each prompt's sampling seed is derived from it and the prompt id")
    max_model_len: int | None = Field(None, ge=16, description="Engine context window (default: the model's own)")
    enforce_eager: bool = Field(True, description="Skip torch.compile (faster start)")
    kv_cache_space: float = Field(1.0, gt=0, description="CPU only: GiB of KV cache")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = Field(
        None, description="Engine weight dtype (default: float32 on CPU, auto on GPU)"
    )
    progress: bool = Field(True, description="Show a progress bar")


def prompt_seed(seed: int, prompt_id: str) -> int:
    """The sampling seed of one prompt (vLLM gives its i-th reply seed + i)."""
    digest = hashlib.sha256(f"{seed}:{prompt_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _messages(value: Any, where: str) -> tuple[dict, ...]:
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: messages must be a non-empty list of {{role, content}} (or a string)")
    for message in value:
        if not isinstance(message, dict) or message.get("role") not in _ROLES or not isinstance(message.get("content"), str):
            raise ConfigError(f"{where}: each message needs role in {sorted(_ROLES)} and a string content")
    if value[-1]["role"] != "user":
        raise ConfigError(f"{where}: the last message must be a user turn")
    return tuple({"role": m["role"], "content": m["content"]} for m in value)


def read_prompt_file(path: Path) -> list[Any]:
    """Prompts from a JSONL file (see the module docstring), checked line by line."""
    from training.ppo.prompts import Prompt

    if not path.is_file():
        raise ConfigError(f"prompts file {path} does not exist")
    prompts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"{where}: not JSON ({exc})") from None
        if not isinstance(record, dict):
            raise ConfigError(f"{where}: expected an object")
        messages = _messages(record.get("messages", record.get("prompt")), where)
        reference = record.get("reference")
        if reference is not None and not isinstance(reference, str):
            raise ConfigError(f"{where}: reference must be a string")
        prompts.append(Prompt(messages, str(record.get("source") or record.get("task") or "file"),
                              str(record.get("id", f"line-{number}")), gold=record.get("gold"), reference=reference))
    if not prompts:
        raise ConfigError(f"prompts file {path} has no prompts")
    return prompts


def _gold_json(gold: Any) -> Any:
    return gold.model_dump(mode="json") if hasattr(gold, "model_dump") else gold


def gather_prompts(config: SampleConfig) -> list[Any]:
    """The prompts to sample, ids checked unique (ConfigError before any engine work)."""
    from training.ppo.prompts import check_prompt_sources, draw_prompts

    if config.prompts is not None:
        prompts = read_prompt_file(config.prompts)
    else:
        check_prompt_sources(config)
        prompts = draw_prompts(config)
    prompts = prompts[: config.limit]
    seen: set[str] = set()
    for prompt in prompts:
        if prompt.id in seen:
            raise ConfigError(f"prompt id {prompt.id!r} appears twice; ids must be unique")
        seen.add(prompt.id)
    return prompts


def engine_config(config: SampleConfig, model_path: Path) -> EngineConfig:
    """The sampling engine's settings: this command's own, never the server's ``ICEGRT_*`` environment."""
    return EngineConfig(model=model_path, dtype=config.dtype, seed=config.seed, max_model_len=config.max_model_len,
                        enforce_eager=config.enforce_eager, kv_cache_space=config.kv_cache_space)


def run_sample(config: SampleConfig) -> dict[str, Any]:
    """Sample as configured, write the JSONL, return a summary."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    from common.models import ModelNotFoundError, resolve_model
    from training.models import load_tokenizer
    from inference.offline import offline_llm
    from training.ppo.prompts import render_prompt
    from training.rank.scorers import SCORERS

    started = time.monotonic()
    if not config.output.parent.is_dir():
        raise ConfigError(f"output directory {config.output.parent} does not exist")
    prompts = gather_prompts(config)
    try:
        model_path = resolve_model(config.model)
    except ModelNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    tokenizer = load_tokenizer(model_path)
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"{model_path} has no chat template; prompts are rendered with it")

    llm = offline_llm(engine_config(config, model_path))
    budget = llm.llm_engine.model_config.max_model_len - config.max_tokens
    kept, inputs, params = [], [], []
    for prompt in prompts:
        ids = render_prompt(tokenizer, prompt.messages)
        if len(ids) <= budget:
            seed = prompt_seed(config.seed, prompt.id)
            kept.append((prompt, seed))
            inputs.append(TokensPrompt(prompt_token_ids=ids))
            params.append(SamplingParams(n=config.k, temperature=config.temperature, top_p=config.top_p,
                                         max_tokens=config.max_tokens, seed=seed))
    if not kept:
        raise ConfigError(f"no prompt fits in max_model_len - max_tokens = {budget} tokens")
    outputs = llm.generate(inputs, params, use_tqdm=config.progress)
    records = []
    for (prompt, seed), output in zip(kept, outputs, strict=True):
        responses = [{"response_id": f"{prompt.id}#{c.index}", "text": c.text, "finish_reason": c.finish_reason,
                      "num_tokens": len(c.token_ids)} for c in sorted(output.outputs, key=lambda c: c.index)]
        records.append({
            "prompt_id": prompt.id, "prompt": list(prompt.messages), "source": prompt.source,
            "task": prompt.source if prompt.source in SCORERS else None, "reference": prompt.reference,
            "gold": _gold_json(prompt.gold), "responses": responses, "model": config.model,
            "sampling": {"n": config.k, "temperature": config.temperature, "top_p": config.top_p,
                         "max_tokens": config.max_tokens, "seed": seed},
        })
    write_jsonl_atomically(records, config.output)
    llm.llm_engine.engine_core.shutdown()
    return {"output": str(config.output), "prompts": len(records), "responses": sum(len(r["responses"]) for r in records),
            "skipped_too_long": len(prompts) - len(kept), "wall_s": round(time.monotonic() - started, 1)}


def add_sample_parser(subparsers) -> None:
    from common.config import add_settings_arguments

    parser = subparsers.add_parser(
        "sample", help="Sample k replies per prompt from a model (vLLM) into JSONL for ranking",
        description="Sample k diverse replies per prompt with in-process vLLM and write them as JSONL with stable "
                    "prompt and response ids (the input of `icegrt rank`).",
    )
    parser.add_argument("--config", type=Path, default=None, help="YAML file of settings; flags given here override it")
    add_settings_arguments(parser, SampleConfig)
    parser.set_defaults(handler=sample_command)


def sample_command(args) -> int:
    import logging

    from training.config import load_config

    logging.basicConfig(level=logging.WARNING)
    overrides = {k: v for k, v in vars(args).items() if k in SampleConfig.model_fields}
    config = load_config(SampleConfig, args.config, overrides)
    summary = run_sample(config)
    print(json.dumps(summary))
    return 0
