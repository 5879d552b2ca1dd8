"""Phases 3 and 5 of a PPO step: the score of each reply, and how it is sized before it enters PPO.

The score of a reply combines two terms, each weighted per prompt source (:func:`source_weights`):

- the reward model (ICE-Reward), weight ``reward_weights[source]`` or else ``reward_weight``: the
  reply's text is rendered after its prompt with the reward model's own chat template, exactly as
  its training pairs were (:func:`training.data.chat.encode_prompt_response`, left-truncated to
  ``max_seq_len``), and scored at the last token (:func:`training.reward.reward_scores`);
- the verifiable task reward of the prompt's source (:data:`training.ppo.task_rewards.TASK_REWARDS`:
  ad judgement F1, text-to-table cell F1, GSM8K answer match), weight ``task_rewards[source]``;
  a prompt whose source has no task reward, or that carries no reference, gets none (NaN in
  :func:`task_scores`, 0 in the combined score).

:func:`shape_scores` then applies the missing-EOS penalty and reward size scaling (the paper's
factor; modes in :mod:`training.ppo.reward_scaling`). With ``rm_norm`` the reward model's score is
normalized by its reference statistics before it is combined (the task score is already in
[0, 1]); every other mode scales the combined, penalized score.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from training.ppo.math import missing_eos_penalty
from training.ppo.prompts import Prompt
from training.ppo.reward_scaling import RewardScaler
from training.ppo.task_rewards import TASK_REWARD_PARTS, TASK_REWARDS, TaskReward


def task_scores(prompts: Sequence[Prompt], texts: Sequence[str], finished: Sequence[bool],
                sources: Collection[str], rewards: Mapping[str, TaskReward] = TASK_REWARDS) -> Tensor:
    """[N] each reply's task reward by its prompt's source, for the `sources` given (those with a
    weight); NaN where none applies (another source, or a prompt without a reference). `rewards`:
    the reward of each source (:func:`~training.ppo.task_rewards.configured_task_rewards`)."""
    values = []
    for prompt, text, done in zip(prompts, texts, finished, strict=True):
        value = rewards[prompt.source](prompt, text, done) if prompt.source in sources else None
        values.append(math.nan if value is None else float(value))
    return torch.tensor(values, dtype=torch.float32)


def part_means(prompts: Sequence[Prompt], texts: Sequence[str], finished: Sequence[bool],
               sources: Collection[str]) -> dict[str, float]:
    """``task_part_<source>_<part>``: the mean of each part of a task reward made of parts
    (:data:`~training.ppo.task_rewards.TASK_REWARD_PARTS`) over the replies it applies to."""
    values: dict[str, list[float]] = {}
    for prompt, text, done in zip(prompts, texts, finished, strict=True):
        if prompt.source in sources and prompt.source in TASK_REWARD_PARTS:
            for name, value in TASK_REWARD_PARTS[prompt.source](prompt, text, done).items():
                if value is not None:
                    values.setdefault(f"task_part_{prompt.source}_{name}", []).append(value)
    return {key: sum(v) / len(v) for key, v in values.items()}


def source_weights(sources: Sequence[str], reward_weight: float, reward_weights: Mapping[str, float],
                   task_rewards: Mapping[str, float]) -> tuple[Tensor, Tensor]:
    """([N] reward-model weights, [N] task weights) of replies to prompts of these sources."""
    rm = [reward_weights.get(source, reward_weight) for source in sources]
    task = [task_rewards.get(source, 0.0) for source in sources]
    return torch.tensor(rm, dtype=torch.float32), torch.tensor(task, dtype=torch.float32)


def component_means(rm: Tensor | None, task: Tensor | None, sources: Sequence[str]) -> dict[str, float]:
    """The per-step log of every reward component: ``reward_model_score`` (mean over all replies),
    ``task_score`` (mean over the replies a task reward applies to) and ``task_score_<source>`` per source.

    Args:
        rm: [N] reward-model scores or None; task: [N] task scores, NaN where none applies, or None.
        sources: the N prompts' sources.
    """
    means: dict[str, float] = {}
    if rm is not None:
        means["reward_model_score"] = rm.mean().item()
    if task is not None and not task.isnan().all():
        means["task_score"] = task.nanmean().item()
        for source in dict.fromkeys(sources):
            values = task[[i for i, s in enumerate(sources) if s == source]]
            if not values.isnan().all():
                means[f"task_score_{source}"] = values.nanmean().item()
    return means


@torch.no_grad()
def reward_model_scores(model: Any, tokenizer: Any, prompts: Sequence[Prompt], texts: Sequence[str],
                        max_seq_len: int, batch_size: int, device: str) -> Tensor:
    """[N] reward-model scores of each reply after its prompt, scored in micro-batches."""
    from training.data.chat import encode_prompt_response, pad_batch
    from training.reward import reward_scores

    sequences = [encode_prompt_response(tokenizer, p.messages, t, max_seq_len) for p, t in zip(prompts, texts, strict=True)]
    scores = []
    for begin in range(0, len(sequences), batch_size):
        batch = pad_batch(sequences[begin : begin + batch_size], tokenizer.pad_token_id)
        scores.append(reward_scores(model, batch["input_ids"].to(device), batch["attention_mask"].to(device)).cpu())
    return torch.cat(scores).float()


def shape_scores(rm: Tensor | None, task: Tensor | None, has_eos: Tensor, *, reward_weight: float | Tensor,
                 task_weight: float | Tensor, eos_penalty: float, scaler: RewardScaler,
                 rm_normalizer: RewardScaler | None) -> tuple[Tensor, Tensor]:
    """Combined raw scores and the scaled scores PPO uses (see the module docstring).

    Args:
        rm: [N] reward-model scores, or None when no reward model is used.
        task: [N] task scores (NaN where no task reward applies: a 0 term), or None when none is used.
        has_eos: [N] bool, True where the reply ended with EOS.
        reward_weight, task_weight: weights of the two terms, one for all or [N] per reply
            (:func:`source_weights`).
        eos_penalty: subtracted from the score of a reply without EOS.
        scaler: the configured :class:`RewardScaler` (for rm_norm: mode "none" with the clip).
        rm_normalizer: a :class:`RewardScaler` in mode "rm_norm" (no clip) when reward_scaling is
            rm_norm, else None.

    Returns:
        (raw, scaled): [N] each. raw = weighted sum of the unscaled terms (no penalty): what the
        run reports as its reward; scaled = what enters the per-token rewards.
    """
    assert rm is not None or task is not None, "at least one reward term"
    n = (rm if rm is not None else task).shape[0]
    raw = torch.zeros(n)
    combined = torch.zeros(n)
    if rm is not None:
        raw += reward_weight * rm
        combined += reward_weight * (rm_normalizer.scale(rm) if rm_normalizer is not None else rm)
    if task is not None:
        task = torch.nan_to_num(task, nan=0.0)
        raw += task_weight * task
        combined += task_weight * task
    penalized = missing_eos_penalty(combined, has_eos, eos_penalty)
    return raw, scaler.scale(penalized)


def build_scalers(mode: str, clip: float | None, rm_stats: dict[str, float] | None) -> tuple[RewardScaler, RewardScaler | None]:
    """The scaler and (for rm_norm) the reward-model normalizer of :func:`shape_scores`."""
    if mode == "rm_norm":
        assert rm_stats is not None, "rm_norm needs the reward model's statistics"
        normalizer = RewardScaler("rm_norm", clip=None, rm_mean=float(rm_stats["mean"]), rm_std=float(rm_stats["std"]))
        return RewardScaler("none", clip=clip), normalizer
    return RewardScaler(mode, clip=clip), None
