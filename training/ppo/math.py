"""The PPO math, as pure PyTorch functions.

Shape letters used in the docstrings:
    B   batch size (number of prompt + response sequences)
    T   number of token positions scored per sequence (aligned with the actions: position t holds
        the log-probability, value, reward and KL of the token generated at step t)
    V   vocabulary size

Masks are boolean (or 0/1) tensors of the same shape as the data they select; True marks a real
response token. Every masked function reads the data only where the mask is True: whatever sits
at masked-out positions (padding, prompt tokens, even NaN) never changes a result, and per-token
outputs are 0 there. Masks need not be contiguous, so right padding, left padding and gaps all work.

The order in which a PPO step uses these functions (as in TRL's old `PPOTrainer.step`):
    1. scores from the reward model -> `missing_eos_penalty`, then reward scaling
       (`training.ppo.reward_scaling`), then (with several replies per prompt) `center_by_prompt`
    2. per-token KL to the reference model -> `kl_penalty`, then `compute_token_rewards` with the
       coefficient from a KL controller (`training.ppo.kl`)
    3. `compute_gae` -> advantages and returns; `whiten_advantages` (on or off)
    4. minibatch epochs: `policy_loss` + `value_loss` (+ `entropy_from_logits` for logging)
"""

from typing import Literal

import torch
from torch import Tensor

KLEstimator = Literal["k1", "k3"]


def _check_same_shape(**tensors: Tensor) -> None:
    """Raise ValueError unless all the named tensors have one shape (no silent broadcasting)."""
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"expected tensors of one shape, got {shapes}")


# --- masked statistics -------------------------------------------------------------------------


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of `x` over the positions where `mask` is True.

    Args:
        x: any shape, e.g. [B, T].
        mask: same shape as `x`.
        dim: reduce this dimension only; None reduces over all elements.

    Returns:
        dim=None: a 0-d tensor. Otherwise `x`'s shape without `dim`; a slice with no True
        position gets 0.

    Raises:
        ValueError: shapes differ, or (dim=None) the mask selects nothing.
    """
    _check_same_shape(x=x, mask=mask)
    mask = mask.bool()
    total = torch.where(mask, x, 0.0)
    if dim is None:
        if not mask.any():
            raise ValueError("masked_mean: the mask selects no element; nothing to average")
        return total.sum() / mask.sum()
    return total.sum(dim) / mask.sum(dim).clamp(min=1)


def masked_var(x: Tensor, mask: Tensor, unbiased: bool = True) -> Tensor:
    """Variance of the elements of `x` where `mask` is True, over all dimensions.

    Args:
        x: any shape, e.g. [B, T] or [B].
        mask: same shape as `x`.
        unbiased: divide by n - 1 (Bessel's correction, as TRL and OpenRLHF do) instead of n.

    Returns:
        A 0-d tensor.

    Raises:
        ValueError: shapes differ, the mask is empty, or `unbiased` with fewer than 2 elements.
    """
    mean = masked_mean(x, mask)
    mask = mask.bool()
    variance = masked_mean(torch.where(mask, (x - mean) ** 2, 0.0), mask)
    if unbiased:
        count = mask.sum()
        if count < 2:
            raise ValueError(
                "masked_var: the unbiased variance needs at least 2 selected elements, got "
                f"{int(count)}; use a larger batch or unbiased=False"
            )
        variance = variance * count / (count - 1)
    return variance


def masked_whiten(x: Tensor, mask: Tensor, shift_mean: bool = True, eps: float = 1e-8) -> Tensor:
    """Normalise the selected elements of `x` to unit variance (and zero mean if `shift_mean`).

    whitened = (x - mean) / sqrt(var + eps), with mean and unbiased var over the selected
    elements; `shift_mean=False` adds the mean back, so only the scale changes.

    Args:
        x: any shape, e.g. [B, T].
        mask: same shape as `x`.
        shift_mean: leave the result centred at 0 (True) or at the original mean (False).
        eps: added to the variance before the square root.

    Returns:
        Same shape as `x`, 0 where the mask is False.
    """
    mean = masked_mean(x, mask)
    variance = masked_var(x, mask, unbiased=True)
    whitened = (x - mean) * torch.rsqrt(variance + eps)
    if not shift_mean:
        whitened = whitened + mean
    return torch.where(mask.bool(), whitened, 0.0)


# --- rewards -----------------------------------------------------------------------------------


def kl_penalty(logprobs: Tensor, ref_logprobs: Tensor, estimator: KLEstimator = "k1") -> Tensor:
    """Per-token estimate of KL(policy || reference) from the sampled tokens' log-probabilities.

    The tokens were sampled from the policy, so each estimator's expectation under the policy is
    the KL for that position (Schulman, "Approximating KL Divergence", 2020):
        k1 = log p - log p_ref                        unbiased, can be negative per token
        k3 = (r - 1) - log r,  r = p_ref / p          unbiased, always >= 0, lower variance
    k1 is what Ziegler et al. 2019, InstructGPT and TRL put in the reward.

    Args:
        logprobs: [B, T] log-probabilities of the sampled tokens under the policy.
        ref_logprobs: [B, T] the same tokens under the frozen reference model.
        estimator: "k1" or "k3".

    Returns:
        [B, T] per-token KL estimates (padding positions hold meaningless values; mask them).
    """
    _check_same_shape(logprobs=logprobs, ref_logprobs=ref_logprobs)
    if estimator == "k1":
        return logprobs - ref_logprobs
    if estimator == "k3":
        log_ratio = ref_logprobs - logprobs
        return torch.expm1(log_ratio) - log_ratio
    raise ValueError(f"unknown KL estimator {estimator!r}; expected 'k1' or 'k3'")


def compute_token_rewards(
    scores: Tensor, kl: Tensor, kl_coef: float, response_mask: Tensor
) -> Tensor:
    """Per-token PPO rewards: a KL penalty at every response token, the score at the last one.

    reward[b, t] = -kl_coef * kl[b, t]              for every response token t
                 + scores[b]                        added at the last response token of row b

    Args:
        scores: [B] sequence scores (after EOS penalty and reward scaling).
        kl: [B, T] per-token KL estimates from `kl_penalty` (detached: rewards carry no gradient).
        kl_coef: the KL coefficient beta (from a KL controller), >= 0.
        response_mask: [B, T] True at response tokens; every row needs at least one.

    Returns:
        [B, T] rewards, 0 outside the response mask.
    """
    _check_same_shape(kl=kl, response_mask=response_mask)
    if scores.shape != kl.shape[:1]:
        raise ValueError(f"scores must have shape [B]={tuple(kl.shape[:1])}, got {tuple(scores.shape)}")
    if kl_coef < 0:
        raise ValueError(f"kl_coef must be >= 0, got {kl_coef}")
    mask = response_mask.bool()
    if not mask.any(dim=1).all():
        raise ValueError("compute_token_rewards: every row needs at least one response token")
    rewards = torch.where(mask, -kl_coef * kl, 0.0)
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    last = torch.where(mask, positions, -1).amax(dim=1, keepdim=True)  # [B, 1]
    return rewards.scatter_add(1, last, scores.to(rewards.dtype).unsqueeze(1))


def missing_eos_penalty(scores: Tensor, has_eos: Tensor, penalty: float) -> Tensor:
    """Subtract `penalty` from the score of every response that did not end with EOS.

    A response cut off by the token budget is usually unfinished (for structured tasks: broken
    JSON); without a penalty the policy can learn to ramble up to the limit.

    Args:
        scores: [B] reward-model scores.
        has_eos: [B] bool, True where the response ended with the EOS token.
        penalty: amount subtracted, >= 0.

    Returns:
        [B] penalised scores.
    """
    _check_same_shape(scores=scores, has_eos=has_eos)
    if penalty < 0:
        raise ValueError(f"missing-EOS penalty must be >= 0 (it is subtracted), got {penalty}")
    return scores - penalty * (~has_eos.bool()).to(scores.dtype)


def center_by_prompt(scores: Tensor, replies_per_prompt: int, scored: Tensor | None = None) -> Tensor:
    """Subtract from each score the mean score of its prompt's replies (a per-prompt baseline).

    The batch holds `replies_per_prompt` consecutive replies to each prompt. Centred, a reply earns
    what it earns beyond its siblings: a prompt all of whose replies score alike teaches nothing, so
    the update follows the differences between replies to one prompt (on ads: flagging this ad or
    not) rather than which prompts happened to be easy (RLOO, Ahmadian et al. 2024; GRPO's group mean).

    Args:
        scores: [B] scaled scores, B a multiple of `replies_per_prompt`.
        replies_per_prompt: group size, >= 2.
        scored: [B] bool, False for a reply that abstains (a task reward's None, no reward model):
            the mean is over the scored replies of each group, and an abstaining reply gets 0. None:
            every reply is scored.

    Returns:
        [B] centred scores; each group's scored replies sum to 0.
    """
    if replies_per_prompt < 2 or scores.shape[0] % replies_per_prompt:
        raise ValueError(f"center_by_prompt needs groups of >= 2 replies dividing the batch, got "
                         f"{replies_per_prompt} for {scores.shape[0]} scores")
    groups = scores.view(-1, replies_per_prompt)
    if scored is None:
        return (groups - groups.mean(dim=1, keepdim=True)).view(-1)
    weights = scored.view(-1, replies_per_prompt).to(scores.dtype)
    means = (groups * weights).sum(dim=1, keepdim=True) / weights.sum(dim=1, keepdim=True).clamp(min=1)
    return ((groups - means) * weights).view(-1)


# --- advantages --------------------------------------------------------------------------------


@torch.no_grad()
def compute_gae(
    values: Tensor, rewards: Tensor, response_mask: Tensor, gamma: float, lam: float
) -> tuple[Tensor, Tensor]:
    """Generalized Advantage Estimation (Schulman et al. 2016), computed backwards in time.

    Over the response tokens of each row, in order (masked positions are skipped entirely):
        delta_t = r_t + gamma * V_{next} - V_t        V_{next} = 0 after the last response token
        A_t     = delta_t + gamma * lam * A_{next}    A_{next} = 0 after the last response token
        R_t     = A_t + V_t                           the value target
    With gamma = lam = 1, A_t is the sum of the rewards from t on minus V_t.

    Args:
        values: [B, T] critic values at the rollout (old values).
        rewards: [B, T] per-token rewards from `compute_token_rewards`.
        response_mask: [B, T] True at response tokens.
        gamma: discount factor in [0, 1].
        lam: GAE lambda in [0, 1].

    Returns:
        (advantages, returns): both [B, T], 0 outside the mask, without gradient.
    """
    _check_same_shape(values=values, rewards=rewards, response_mask=response_mask)
    if not (0.0 <= gamma <= 1.0 and 0.0 <= lam <= 1.0):
        raise ValueError(f"gamma and lam must lie in [0, 1], got gamma={gamma}, lam={lam}")
    mask = response_mask.bool()
    values = torch.where(mask, values, 0.0)
    rewards = torch.where(mask, rewards, 0.0)
    next_value = torch.zeros_like(values[:, 0])
    next_advantage = torch.zeros_like(values[:, 0])
    advantages = torch.zeros_like(values)
    for t in reversed(range(values.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        advantage = delta + gamma * lam * next_advantage
        here = mask[:, t]
        advantages[:, t] = torch.where(here, advantage, 0.0)
        next_value = torch.where(here, values[:, t], next_value)
        next_advantage = torch.where(here, advantage, next_advantage)
    returns = torch.where(mask, advantages + values, 0.0)
    return advantages, returns


def whiten_advantages(advantages: Tensor, mask: Tensor, enabled: bool) -> Tensor:
    """Advantage normalization, one of the paper's factors, as an on/off switch.

    enabled: whiten over all response tokens of the batch (zero mean, unit variance), as TRL and
    OpenRLHF do; this keeps the policy-gradient step size independent of the reward scale.
    disabled: the advantages unchanged (still 0 outside the mask).

    Args:
        advantages: [B, T] from `compute_gae`.
        mask: [B, T] True at response tokens.
        enabled: the switch.

    Returns:
        [B, T] advantages, 0 outside the mask.
    """
    if enabled:
        return masked_whiten(advantages, mask, shift_mean=True)
    _check_same_shape(advantages=advantages, mask=mask)
    return torch.where(mask.bool(), advantages, 0.0)


# --- losses ------------------------------------------------------------------------------------


def policy_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    clip_range: float = 0.2,
) -> tuple[Tensor, dict[str, Tensor]]:
    """PPO's clipped surrogate policy loss, averaged over all response tokens of the batch.

    ratio = exp(logprobs - old_logprobs)
    loss_t = max(-A_t * ratio, -A_t * clip(ratio, 1 - clip_range, 1 + clip_range))

    Args:
        logprobs: [B, T] log-probabilities of the sampled tokens under the current policy
            (with gradient).
        old_logprobs: [B, T] the same under the policy that generated the rollout.
        advantages: [B, T] (whitened or not).
        mask: [B, T] True at response tokens.
        clip_range: epsilon, > 0 (the paper uses 0.2).

    Returns:
        (loss, stats): loss is a 0-d tensor with gradient; stats holds detached 0-d tensors:
            clip_fraction: share of tokens where the clipped term is strictly the larger one,
                i.e. where clipping removed the gradient (TRL's definition).
            approx_kl: KL(old || new) by Schulman's k3 estimator, mean of (ratio - 1) - log ratio
                over tokens; >= 0 and unbiased since the tokens were sampled from the old policy.
    """
    _check_same_shape(logprobs=logprobs, old_logprobs=old_logprobs, advantages=advantages, mask=mask)
    if clip_range <= 0:
        raise ValueError(f"clip_range must be > 0, got {clip_range}")
    mask = mask.bool()
    log_ratio = torch.where(mask, logprobs - old_logprobs, 0.0)
    advantages = torch.where(mask, advantages, 0.0)
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        stats = {
            "clip_fraction": masked_mean((clipped > unclipped).float(), mask),
            "approx_kl": masked_mean(torch.expm1(log_ratio) - log_ratio, mask),
        }
    return loss, stats


def value_loss(
    values: Tensor,
    old_values: Tensor,
    returns: Tensor,
    mask: Tensor,
    clip_range_value: float | None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """PPO's clipped value loss, averaged over all response tokens of the batch.

    clipped_t = old_t + clip(V_t - old_t, -clip_range_value, clip_range_value)
    loss_t = 0.5 * max((V_t - R_t)^2, (clipped_t - R_t)^2)

    Args:
        values: [B, T] current critic values (with gradient).
        old_values: [B, T] critic values at the rollout.
        returns: [B, T] value targets from `compute_gae`.
        mask: [B, T] True at response tokens.
        clip_range_value: > 0, or None for the plain squared error 0.5 * (V_t - R_t)^2.

    Returns:
        (loss, stats): loss is a 0-d tensor with gradient; stats["value_clip_fraction"] is the
        detached share of tokens where the clipped error is strictly the larger one (0 if None).
    """
    _check_same_shape(values=values, old_values=old_values, returns=returns, mask=mask)
    if clip_range_value is not None and clip_range_value <= 0:
        raise ValueError(f"clip_range_value must be > 0 or None, got {clip_range_value}")
    mask = mask.bool()
    values = torch.where(mask, values, 0.0)
    old_values = torch.where(mask, old_values, 0.0)
    returns = torch.where(mask, returns, 0.0)
    unclipped = (values - returns) ** 2
    if clip_range_value is None:
        per_token = unclipped
        clip_fraction = torch.zeros((), device=values.device)
    else:
        change = torch.clamp(values - old_values, -clip_range_value, clip_range_value)
        clipped = (old_values + change - returns) ** 2
        per_token = torch.maximum(unclipped, clipped)
        clip_fraction = masked_mean((clipped > unclipped).float(), mask).detach()
    return 0.5 * masked_mean(per_token, mask), {"value_clip_fraction": clip_fraction}


# --- logits ------------------------------------------------------------------------------------


def logprobs_from_logits(logits: Tensor, labels: Tensor) -> Tensor:
    """Log-probability of each label under the softmax of its logits, computed in float32.

    The caller aligns them: for a causal LM the logits at position i predict token i + 1, so pass
    `logits[:, :-1]` with `input_ids[:, 1:]` (then slice out the response positions).

    Args:
        logits: [B, T, V].
        labels: [B, T] token ids (int64).

    Returns:
        [B, T] float32 log-probabilities, log_softmax(logits)[b, t, labels[b, t]].
    """
    if logits.shape[:-1] != labels.shape:
        raise ValueError(
            f"logits [B, T, V] and labels [B, T] disagree: {tuple(logits.shape)} vs "
            f"{tuple(labels.shape)}"
        )
    logits = logits.float()
    picked = logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def entropy_from_logits(logits: Tensor, mask: Tensor) -> Tensor:
    """Mean entropy (nats) of the per-token distributions over the positions where `mask` is True.

    H_t = logsumexp(z_t) - sum_v softmax(z_t)_v * z_t,v, computed in float32.

    Args:
        logits: [B, T, V].
        mask: [B, T].

    Returns:
        A 0-d tensor (differentiable, so it can also serve as an entropy bonus).
    """
    if logits.shape[:-1] != mask.shape:
        raise ValueError(
            f"logits [B, T, V] and mask [B, T] disagree: {tuple(logits.shape)} vs "
            f"{tuple(mask.shape)}"
        )
    logits = logits.float()
    probs = torch.softmax(logits, dim=-1)
    entropy = torch.logsumexp(logits, dim=-1) - (probs * logits).sum(dim=-1)
    return masked_mean(entropy, mask)


@torch.no_grad()
def explained_variance(values: Tensor, returns: Tensor, mask: Tensor) -> Tensor:
    """How much of the returns' variance the critic explains: 1 - Var[R - V] / Var[R].

    1 is perfect, 0 is no better than predicting the mean, negative is worse than that.

    Args:
        values: [B, T] critic values.
        returns: [B, T] value targets.
        mask: [B, T] True at response tokens.

    Returns:
        A 0-d tensor; NaN or -inf when the selected returns are all equal (Var[R] = 0).
    """
    _check_same_shape(values=values, returns=returns, mask=mask)
    residual_var = masked_var(returns - values, mask, unbiased=False)
    return 1.0 - residual_var / masked_var(returns, mask, unbiased=False)
