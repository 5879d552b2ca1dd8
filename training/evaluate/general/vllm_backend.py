"""Scoring on vLLM's offline engine: all requests of a run go to the engine in one call.

A log-likelihood request is a prompt of context + continuation tokens generating one token,
with ``prompt_logprobs=1``: vLLM then returns, for every prompt position, the log
probability of the actual token and its rank; the continuation's positions are summed, and
rank 1 everywhere means greedy. vLLM computes these from the raw model outputs (before any
sampling processor), in the model's dtype: float32 on CPU. The engine is built like every other
(:func:`inference.offline.offline_llm`); vLLM does not read the prefix cache for requests
that ask for prompt log probabilities, so every position is computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from inference.config import EngineConfig
from training.evaluate.general.backend import cut_at_stop
from training.evaluate.general.tokenization import encode_pair, truncate_left

KV_CACHE_GIB_CPU = 2.0
"""KV cache on CPU (the engine's default asks for more than a shared 23 GB machine has spare)."""
GPU_MEMORY_UTILIZATION = 0.8


def engine_config(model_path: Path, enforce_eager: bool = False) -> EngineConfig:
    """The scoring engine's settings (float32 on CPU, the checkpoint's dtype on GPU)."""
    return EngineConfig(model=Path(model_path), enforce_eager=enforce_eager, seed=0, kv_cache_space=KV_CACHE_GIB_CPU,
                        gpu_memory_utilization=GPU_MEMORY_UTILIZATION)


class VllmBackend:
    name = "vllm"

    def __init__(self, model_path: Path, *, enforce_eager: bool = False):
        from inference.offline import offline_llm

        self.llm = offline_llm(engine_config(model_path, enforce_eager))
        self.tokenizer = self.llm.get_tokenizer()
        self.max_len = self.llm.llm_engine.model_config.max_model_len

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        pairs = [encode_pair(self.tokenizer, context, continuation) for context, continuation in requests]
        prompts = [TokensPrompt(prompt_token_ids=truncate_left(ctx, cont, self.max_len)) for ctx, cont in pairs]
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=1, detokenize=False)
        outputs = self.llm.generate(prompts, params, use_tqdm=True)
        results = []
        for output, (_, cont) in zip(outputs, pairs):
            positions = output.prompt_logprobs[-len(cont):]
            chosen = [position[token] for position, token in zip(positions, cont)]
            results.append((sum(c.logprob for c in chosen), all(c.rank == 1 for c in chosen)))
        return results

    def generate(self, prompts: Sequence[str], *, max_tokens: int, stop: Sequence[str]) -> list[str]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        token_prompts = [TokensPrompt(prompt_token_ids=self.tokenizer.encode(p)[-(self.max_len - max_tokens):])
                         for p in prompts]
        params = SamplingParams(max_tokens=max_tokens, temperature=0.0, stop=list(stop))
        outputs = self.llm.generate(token_prompts, params, use_tqdm=True)
        return [cut_at_stop(o.outputs[0].text, stop) for o in outputs]

    def close(self) -> None:
        self.llm.llm_engine.engine_core.shutdown()
        del self.llm

