"""PPO rollouts with an in-process vLLM engine (``rollout_engine: vllm``).

:class:`VLLMRollout` implements :class:`training.ppo.rollout.Rollout`. The engine starts from the
actor's start model (:mod:`inference.offline`, the server's engine settings, configured from the PPO
config alone: :func:`training.ppo.rollout_engine.rollout_engine_config`); before sampling,
:meth:`VLLMRollout.load_weights` writes the actor's current weights (LoRA adapters merged into
a copy, :func:`training.models.servable`) as a Hugging Face checkpoint to a scratch directory
(``/dev/shm`` when present) and has every vLLM worker reload its weights from it in place
(:class:`training.ppo.vllm_worker.ActorWeightsExtension`), then drops the prefix cache, whose
KV blocks were computed with the old weights. The trainer calls ``load_weights`` before every
``generate``; a fingerprint of the parameters' in-place version counters skips the write when
the actor has not been updated since the last sync (the PPO step's evaluation chunks, the
critic warm-up steps).

Sampling uses the full distribution after `temperature` and `top_p` (no top-k, no penalties)
and stops at the tokenizer's EOS only (vLLM's own end-of-sequence rule is switched off),
as :class:`~training.ppo.rollout.HFRollout` does, each prompt with its own seed
(``SamplingParams.seed``), so a reply is a function of the weights, its prompt and its seed. Log-probabilities are not taken from
vLLM: the trainer recomputes them with the training model.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inference.config import EngineConfig
from training.ppo.rollout import Generation

WORKER_EXTENSION = "training.ppo.vllm_worker.ActorWeightsExtension"


def _scratch_root() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() else None


def weights_fingerprint(model: Any) -> tuple[int, ...]:
    """Changes whenever a parameter is modified in place (optimizer steps, ``copy_``)."""
    return tuple(p._version for p in model.parameters())


class VLLMRollout:
    """vLLM sampling from the actor's current weights (see the module docstring)."""

    def __init__(self, config: EngineConfig, eos_token_id: int):
        """An engine built from `config` (its model is the actor's start model)."""
        from inference.offline import offline_llm

        self.eos = eos_token_id
        self.llm = offline_llm(config, worker_extension_cls=WORKER_EXTENSION)
        self._scratch = Path(tempfile.mkdtemp(prefix="icegrt-actor-", dir=_scratch_root()))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._scratch, True)  # the engine stops itself when collected
        self._synced: tuple[Any, tuple[int, ...]] | None = None
        self.syncs = 0

    def load_weights(self, model: Any) -> None:
        from training.models import servable

        fingerprint = (id(model), weights_fingerprint(model))
        if self._synced == fingerprint:
            return
        servable(model).save_pretrained(self._scratch)
        self.llm.collective_rpc("icegrt_load_weights", args=(str(self._scratch),))
        self.llm.reset_prefix_cache()
        self._synced = fingerprint
        self.syncs += 1

    def generate(self, prompts: Sequence[Sequence[int]], *, max_new_tokens: int, temperature: float,
                 top_p: float, seeds: Sequence[int], greedy: bool = False) -> list[Generation]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        assert len(seeds) == len(prompts), "one seed per prompt"
        params = [
            SamplingParams(n=1, max_tokens=max_new_tokens, temperature=0.0 if greedy else temperature,
                           top_p=1.0 if greedy else top_p, top_k=0, seed=seed, ignore_eos=True, stop_token_ids=[self.eos],
                           repetition_penalty=1.0, detokenize=False)
            for seed in seeds
        ]
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in prompts], params, use_tqdm=False)
        generations = []
        for output in outputs:
            completion = output.outputs[0]
            ids = list(completion.token_ids)
            finished = completion.finish_reason == "stop"
            if finished and (not ids or ids[-1] != self.eos):
                ids.append(self.eos)  # the reply ends with its EOS, as HFRollout's do
            generations.append(Generation(ids, finished))
        return generations

    def close(self) -> None:
        """Stop the engine and remove the scratch checkpoint."""
        self.llm.llm_engine.engine_core.shutdown()
        self._cleanup()
