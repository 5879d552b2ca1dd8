"""The four PPO models (actor, frozen reference, critic, reward) and their forward passes.

    actor      ``*ForCausalLM`` from the start model (ICE-Instruct), or the run's last
               checkpoint when resuming; optionally LoRA (training.models.apply_lora)
    reference  the start model again, frozen. With LoRA it is not a second copy: it is the actor
               with its adapters switched off (``disable_adapter``), which is the start model
    critic     a scalar head on a transformer (``*ForSequenceClassification``, one label) read
               at every position: from the reward model (``critic_init: reward``, its score head
               included) or from the start model with a new head (``critic_init: sft``);
               LoRA when ``lora`` is on (the head stays fully trainable)
    reward     ICE-Reward, frozen (absent for a task-reward-only run)

Forward passes work on a :class:`training.ppo.rollout.SequenceBatch`: logits are computed only
from the first reply position on (``logits_to_keep``), which matters for long prompts (the
ad-compliance prompt is ~2,300 tokens, its reply 64-256), and divided by the sampling
temperature, so log-probabilities and KL refer to the distribution the replies were drawn from.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from training.distributed import SINGLE, Distributed
from training.loop import prepare_model
from training.models import apply_lora, is_peft, load_model, load_tokenizer, load_trainable_state, trainable_state
from training.ppo.config import PPOConfig
from training.ppo.math import entropy_from_logits, logprobs_from_logits
from training.ppo.rollout import SequenceBatch
from training.reward import token_scores
from training.runs import RunDir

CRITIC_FILE = "critic.safetensors"


@dataclass
class PPOModels:
    actor: Any
    critic: Any
    reference: Any | None  # None: the actor with its LoRA adapters off
    reward_model: Any | None
    reward_tokenizer: Any | None

    @contextmanager
    def reference_model(self) -> Iterator[Any]:
        """The frozen reference to run forward passes with."""
        if self.reference is not None:
            yield self.reference
        else:
            with self.actor.disable_adapter():
                yield self.actor


def _frozen(model: Any) -> Any:
    model.eval()
    model.requires_grad_(False)
    return model


def build_critic(config: PPOConfig, run: RunDir, start_step: int, source: Path, device: str) -> Any:
    """The critic from `source` (reward model or start model), with its saved state when resuming."""
    from safetensors.torch import load_file, load_model as load_weights

    torch.manual_seed(config.seed + 1)  # a new value head or LoRA init is the same for a given seed
    critic = load_model(source, "reward", config)
    if config.lora:
        critic = apply_lora(critic, config, "reward")
    if start_step:
        path = run.state_dir / CRITIC_FILE
        if config.lora:
            load_trainable_state(critic, load_file(path))
        else:
            load_weights(critic, path)
    return critic.to(device)


def save_critic(critic: Any, dest: Path) -> None:
    from safetensors.torch import save_file, save_model

    if is_peft(critic):
        save_file(trainable_state(critic), dest / CRITIC_FILE)
    else:
        save_model(critic, str(dest / CRITIC_FILE))


def build_models(config: PPOConfig, run: RunDir, start_step: int, base: Path, reward_path: Path | None,
                 device: str, dist: Distributed = SINGLE) -> PPOModels:
    """All four models, on `device`; the actor and critic resume from the run's saved state (rank 0's
    parameters on every rank under torchrun)."""
    actor = prepare_model(config, run, start_step, base, "causal_lm", device, dist)
    reference = None if config.lora else _frozen(load_model(base, "causal_lm", config).to(device))
    critic_source = reward_path if config.critic_init == "reward" else base
    assert critic_source is not None, "the config validator requires reward_model for critic_init reward"
    critic = build_critic(config, run, start_step, critic_source, device)
    dist.broadcast_parameters(critic)
    reward_model = reward_tokenizer = None
    if reward_path is not None and config.reward_weight > 0:
        reward_model = _frozen(load_model(reward_path, "reward", config).to(device))
        reward_tokenizer = load_tokenizer(reward_path)
    return PPOModels(actor, critic, reference, reward_model, reward_tokenizer)


def policy_forward(model: Any, batch: SequenceBatch, temperature: float) -> tuple[Tensor, Tensor]:
    """Log-probabilities [B, T] of the batch's tokens and the logits [B, T, V] they come from.

    Grid column j is the token at sequence position start + 1 + j (see SequenceBatch); the logits
    are divided by `temperature`.
    """
    width = batch.input_ids.shape[1]
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                   logits_to_keep=width - batch.start, use_cache=False).logits
    logits = logits[:, :-1].float() / temperature
    return logprobs_from_logits(logits, batch.input_ids[:, batch.start + 1 :]), logits


def token_values(critic: Any, batch: SequenceBatch) -> Tensor:
    """Critic values [B, T]: grid column j is the value of the state before its token is chosen."""
    return token_scores(critic, batch.input_ids, batch.attention_mask)[:, batch.start : -1]


@torch.no_grad()
def rollout_forward(models: PPOModels, batch: SequenceBatch, temperature: float, actor: bool = True) -> dict[str, Tensor]:
    """Phase 4 for one micro-batch: reference log-probabilities and values, and with `actor` the actor's
    log-probabilities and entropy sum (without it, the sampler gave them: HFRollout)."""
    for model in (models.actor, models.critic):
        model.eval()
    out = {}
    if actor:
        out["logprobs"], logits = policy_forward(models.actor, batch, temperature)
        out["entropy_sum"] = entropy_from_logits(logits, batch.mask) * batch.mask.sum()
        del logits
    with models.reference_model() as reference:
        out["ref_logprobs"], _ = policy_forward(reference, batch, temperature)
    out["values"] = token_values(models.critic, batch)
    return out
