"""Phases 3 and 5 of a PPO step: the score of each reply, and how it is sized before it enters PPO.

The score of a reply combines two sources, each with a weight (``reward_weight``,
``task_weight``):

- the reward model (ICE-Reward): the reply's text is rendered after its prompt with the reward
  model's own chat template, exactly as its training pairs were
  (:func:`training.data.chat.encode_prompt_response`, left-truncated to ``max_seq_len``), and
  scored at the last token (:func:`training.reward.reward_scores`);
- a task scorer (:data:`TASK_REWARDS`), for prompts that carry gold data: ``ad_compliance`` parses
  the reply as a JSON judgement (:func:`tasks.ad_compliance.parser.parse_judgement`) and gives the
  F1 of its policy ids against the ad's gold labels (:func:`tasks.ad_compliance.scorer.example_f1`,
  1.0 when both are empty); an unparsable or cut-off reply scores 0. Prompts without gold data
  get 0 from the task term.

:func:`shape_scores` then applies the missing-EOS penalty and reward size scaling (the paper's
factor; modes in :mod:`training.ppo.reward_scaling`). With ``rm_norm`` the reward model's score is
normalized by its reference statistics before it is combined (the task score is already in
[0, 1]); every other mode scales the combined, penalized score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from training.ppo.math import missing_eos_penalty
from training.ppo.prompts import Prompt
from training.ppo.reward_scaling import RewardScaler


def ad_compliance_reward(prompt: Prompt, text: str, finished: bool) -> float | None:
    """F1 of the reply's policy ids against the ad's gold labels; None for a prompt without an ad."""
    from tasks.ad_compliance.parser import ParseFailure, parse_judgement
    from tasks.ad_compliance.scorer import example_f1

    if prompt.gold is None:
        return None
    judgement = parse_judgement(text, prompt.gold.ad, finish_reason="stop" if finished else "length")
    if isinstance(judgement, ParseFailure):
        return 0.0
    return example_f1(prompt.gold.labels, [v.policy_id for v in judgement.violations])


TASK_REWARDS: dict[str, Callable[[Prompt, str, bool], float | None]] = {
    "ad_compliance": ad_compliance_reward,
}


def task_scores(task: str, prompts: Sequence[Prompt], texts: Sequence[str], finished: Sequence[bool]) -> Tensor:
    """[N] task scores (0 where the task does not apply to a prompt)."""
    scorer = TASK_REWARDS[task]
    values = [scorer(p, t, f) for p, t, f in zip(prompts, texts, finished, strict=True)]
    return torch.tensor([0.0 if v is None else float(v) for v in values], dtype=torch.float32)


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


def shape_scores(rm: Tensor | None, task: Tensor | None, has_eos: Tensor, *, reward_weight: float,
                 task_weight: float, eos_penalty: float, scaler: RewardScaler,
                 rm_normalizer: RewardScaler | None) -> tuple[Tensor, Tensor]:
    """Combined raw scores and the scaled scores PPO uses (see the module docstring).

    Args:
        rm: [N] reward-model scores, or None when no reward model is used.
        task: [N] task scores, or None when no task reward is used.
        has_eos: [N] bool, True where the reply ended with EOS.
        reward_weight, task_weight: weights of the two terms.
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
