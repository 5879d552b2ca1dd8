"""`Engine` on vLLM's in-process `AsyncLLM` (the same engine `vllm serve` runs), and the one
place vLLM's engine arguments are built from an `EngineConfig` (the server's engine, evaluation's
and, through :mod:`inference.offline`, sampling's, PPO's and general evaluation's)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import typing
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from inference.config import EngineConfig
from inference.cpu_tuning import apply_cpu_tuning
from inference.engine import (
    ChoiceDelta,
    Engine,
    EngineRequestError,
    EngineUnavailableError,
    GenerationChunk,
    GenerationParams,
    TokenLogprob,
)
from inference.vllm_plugin import SERVER_PID_ENV

log = logging.getLogger(__name__)
GIB = 1 << 30


def _on_gpu() -> bool:
    from vllm.platforms import current_platform

    return current_platform.is_cuda_alike()


def engine_args(config: EngineConfig):
    """vLLM's ``AsyncEngineArgs`` for `config` (builds no engine)."""
    from vllm import AsyncEngineArgs
    from vllm.config import StructuredOutputsConfig

    on_gpu = _on_gpu()
    dtype = config.dtype or ("auto" if on_gpu else "float32")
    kwargs = dict(
        model=str(config.model),
        served_model_name=list(config.names),
        dtype=dtype,
        max_model_len=config.max_model_len,
        enforce_eager=config.enforce_eager,
        tensor_parallel_size=config.tensor_parallel_size,
        pipeline_parallel_size=config.pipeline_parallel_size,
        data_parallel_size=config.data_parallel_size,
        data_parallel_backend=config.data_parallel_backend,
        distributed_executor_backend=config.distributed_executor_backend,
        seed=config.seed,
        disable_log_stats=False,
        enable_prefix_caching=True,
        # Structured outputs are generated compact: free whitespace between JSON tokens lets a
        # weak model loop on newlines until max_tokens (seen with SmolLM2 and the tiny model).
        # xgrammar reads this flag engine-wide, not per request.
        structured_outputs_config=StructuredOutputsConfig(backend="xgrammar", disable_any_whitespace=True),
    )
    if config.max_num_seqs is not None:
        kwargs["max_num_seqs"] = config.max_num_seqs
    if on_gpu:
        kwargs["gpu_memory_utilization"] = config.gpu_memory_utilization
    else:
        kwargs["kv_cache_memory_bytes"] = int(config.kv_cache_space * GIB)
        # vLLM 0.32's CPU worker dies ("CPU Generator does not use offset") when a seeded request's
        # prompt is split across engine steps: it rewinds the request's generator, which CPU
        # generators cannot do. Scheduling whole prompts avoids the split.
        kwargs["enable_chunked_prefill"] = False
    if config.lora_modules:
        kwargs.update(enable_lora=True, max_loras=len(config.lora_modules),
                      max_lora_rank=_max_lora_rank(path for _, path in config.lora_modules))
    kwargs.update(config.engine_overrides)  # what the user asked vLLM for by name wins over the project's choices
    return AsyncEngineArgs(**kwargs)


def _max_lora_rank(adapter_dirs) -> int:
    """The smallest ``max_lora_rank`` vLLM allows that holds every adapter's rank (PEFT's ``r``)."""
    from vllm.config.lora import MaxLoRARanks

    rank = max(int(json.loads((Path(d) / "adapter_config.json").read_text())["r"]) for d in adapter_dirs)
    return next((r for r in typing.get_args(MaxLoRARanks) if r >= rank), rank)


def prepare_processes(config: EngineConfig) -> None:
    """Set `config.cpu_tuning` (on CPU) in this process's environment: call it before the
    engine's processes are spawned, since they inherit it."""
    if config.cpu_tuning is not None and not _on_gpu():
        apply_cpu_tuning(config.cpu_tuning)


def _compact_structural_tag(tag: str) -> str:
    """`tag` with at most one whitespace character at a time inside its JSON contents (tool-call
    arguments; xgrammar's least, 0 is refused), close to how structured outputs are generated here
    (``disable_any_whitespace``, which xgrammar does not apply to structural tags): with free whitespace
    the tiny model loops on newlines inside the arguments until max_tokens."""

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "json_schema" and node.get("style", "json") == "json" \
                    and node.get("max_whitespace_cnt") is None:
                node["max_whitespace_cnt"] = 1
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    parsed = json.loads(tag)
    visit(parsed)
    return json.dumps(parsed)


def _sampling_params(params: GenerationParams):
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

    structured = None
    if params.json_schema is not None:
        structured = StructuredOutputsParams(json=params.json_schema)
    elif params.json_object:
        structured = StructuredOutputsParams(json_object=True)
    elif params.structural_tag is not None:
        structured = StructuredOutputsParams(structural_tag=_compact_structural_tag(params.structural_tag))
    return SamplingParams(
        n=params.n,
        max_tokens=params.max_tokens,
        temperature=params.temperature,
        top_p=params.top_p,
        top_k=params.top_k,
        min_p=params.min_p,
        presence_penalty=params.presence_penalty,
        frequency_penalty=params.frequency_penalty,
        repetition_penalty=params.repetition_penalty,
        seed=params.seed,
        stop=list(params.stop) or None,
        logprobs=params.logprobs,
        prompt_logprobs=params.prompt_logprobs,
        logit_bias=params.logit_bias,
        structured_outputs=structured,
        skip_special_tokens=params.skip_special_tokens,
        output_kind=RequestOutputKind.DELTA,
    )


MIN_LOGPROB = -9999.0
"""What a log probability of -inf is reported as (JSON has no infinity; vLLM's server does the same)."""


def _logprobs(sample_logprobs, token_ids: Sequence[int]) -> list[TokenLogprob]:
    """vLLM gives, per position, a dict of token id -> Logprob holding the sampled token and the top-k."""
    out = []
    for token_id, position in zip(token_ids, sample_logprobs):
        chosen = position[token_id]
        ranked = sorted(
            ((lp.rank or 0, lp.decoded_token or "", max(lp.logprob, MIN_LOGPROB))
             for tid, lp in position.items() if lp.rank),
        )
        top = tuple((tok, lp) for _, tok, lp in ranked)
        out.append(TokenLogprob(chosen.decoded_token or "", max(chosen.logprob, MIN_LOGPROB), top))
    return out


def _prompt_logprobs(tokenizer, prompt_logprobs, prompt_token_ids: Sequence[int]) -> list[TokenLogprob] | None:
    """vLLM's prompt logprobs (None for the first token, which nothing precedes) as one entry per token."""
    if not prompt_logprobs or not prompt_token_ids:
        return None
    first = TokenLogprob(tokenizer.decode([prompt_token_ids[0]]), None)
    return [first, *_logprobs(list(prompt_logprobs)[1:], prompt_token_ids[1:])]


def _load_chat_template(template: str | None) -> str | None:
    """`template` read from its file when it names one, as ``vllm serve --chat-template`` does."""
    if template is None:
        return None
    from vllm.renderers.chat_utils import load_chat_template

    return load_chat_template(template)


class VllmEngine(Engine):
    def __init__(self, llm, served_names: Sequence[str], chat_template: str | None = None,
                 lora_modules: Sequence[tuple[str, Path]] = ()):
        from vllm.lora.request import LoRARequest

        self._llm = llm
        self._tokenizer = self.tokenizer = llm.tokenizer
        self.model_id, *aliases = served_names
        self.aliases = tuple(aliases)
        self.max_model_len = llm.model_config.max_model_len
        self.sampling_defaults = llm.model_config.get_diff_sampling_param()  # honours --generation-config
        self._chat_template = _load_chat_template(chat_template)
        self._lora_requests = {name: LoRARequest(name, number, str(path))
                               for number, (name, path) in enumerate(lora_modules, start=1)}
        self.adapters = tuple(self._lora_requests)

    @classmethod
    async def start(cls, config: EngineConfig) -> "VllmEngine":
        """Build the engine in a worker thread: it takes tens of seconds and must not block the loop."""
        from vllm.v1.engine.async_llm import AsyncLLM

        args = engine_args(config)
        os.environ[SERVER_PID_ENV] = str(os.getpid())  # its engine processes exit with it (inference/vllm_plugin.py)
        prepare_processes(config)
        llm = await asyncio.to_thread(AsyncLLM.from_engine_args, args)
        return cls(llm, config.names, config.chat_template, config.lora_modules)

    def render_chat(self, messages: Sequence[dict[str, Any]], add_generation_prompt: bool = True,
                    tools: Sequence[dict[str, Any]] | None = None) -> str:
        try:
            return self._tokenizer.apply_chat_template(list(messages), tools=list(tools) if tools else None,
                                                       tokenize=False, add_generation_prompt=add_generation_prompt,
                                                       chat_template=self._chat_template)
        except Exception as exc:  # jinja TemplateError and friends: the messages do not fit the template
            raise EngineRequestError(f"the model's chat template rejected the messages: {exc}", "messages") from exc

    def encode(self, text: str) -> list[int]:
        try:
            return self._tokenizer.encode(text, add_special_tokens=False)
        except (TypeError, UnicodeError) as exc:  # lone UTF-16 surrogates (valid JSON escapes, not text)
            raise EngineRequestError(f"the text cannot be tokenized: {exc}") from exc

    def decode(self, token_ids: Sequence[int]) -> str:
        # vLLM's own bound (Renderer.validate_token_ids): the model's vocabulary or the tokenizer's, the larger
        vocab_size = max(self._llm.model_config.get_vocab_size(), self._tokenizer.max_token_id + 1)
        unknown = [token_id for token_id in token_ids if not 0 <= token_id < vocab_size]
        if unknown:
            raise EngineRequestError(f"token ids {unknown[:8]} are outside the vocabulary of {vocab_size} tokens")
        return self._tokenizer.decode(list(token_ids))

    async def generate(
        self, prompt_token_ids: list[int], params: GenerationParams, request_id: str
    ) -> AsyncIterator[GenerationChunk]:
        from vllm.exceptions import VLLMClientError
        from vllm.inputs import TokensPrompt
        from vllm.v1.engine.exceptions import EngineDeadError

        try:
            stream = self._llm.generate(
                TokensPrompt(prompt_token_ids=prompt_token_ids), _sampling_params(params), request_id,
                lora_request=self._lora_requests.get(params.adapter) if params.adapter else None,
            )
            async for output in stream:
                choices = [
                    ChoiceDelta(
                        index=c.index,
                        text=c.text,
                        num_tokens=len(c.token_ids),
                        logprobs=_logprobs(c.logprobs, c.token_ids) if c.logprobs is not None else None,
                        finish_reason=c.finish_reason,
                        token_ids=c.token_ids,
                    )
                    for c in output.outputs
                ]
                if any(c.finish_reason == "error" for c in choices) and (
                        params.json_schema or params.json_object or params.structural_tag):
                    # vLLM compiles the grammar in the engine core and fails the request there (finish_reason
                    # "error") when it cannot, e.g. for {"$ref": "#"}: the schema is at fault, not the server.
                    raise EngineRequestError("the JSON schema cannot be compiled into a grammar", "response_format")
                prompt_logprobs = (_prompt_logprobs(self._tokenizer, output.prompt_logprobs, prompt_token_ids)
                                   if params.prompt_logprobs is not None else None)
                yield GenerationChunk(len(prompt_token_ids), choices, output.finished, prompt_logprobs)
        except EngineRequestError:
            raise
        except (VLLMClientError, ValueError) as exc:
            raise EngineRequestError(str(exc), getattr(exc, "parameter", None)) from exc
        except EngineDeadError as exc:
            raise EngineUnavailableError(f"the engine has died: {exc}") from exc

    async def check_health(self) -> None:
        try:
            await self._llm.check_health()
        except Exception as exc:
            raise EngineUnavailableError(f"engine unhealthy: {exc}") from exc

    def stats(self) -> dict:
        return {"unfinished_requests": self._llm.get_num_unfinished_requests()}

    async def shutdown(self) -> None:
        """Stop reading outputs, then stop the engine processes.

        vLLM's ``AsyncLLM.shutdown`` stops the engine core first and cancels its output reader
        after; run beside the event loop, the reader can see the core die in between and log an
        ``EngineDeadError`` traceback on a clean shutdown. Cancelling the reader first closes that gap.
        """
        reader = getattr(self._llm, "output_handler", None)
        if reader is not None and not reader.done():
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        await asyncio.to_thread(self._llm.shutdown)
        # Drop the engine now: AsyncLLM.__del__ shuts down again, which fails noisily if it
        # only runs during interpreter teardown.
        del self._llm
