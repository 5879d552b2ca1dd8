"""Hand-checked tests of training.ppo.math: every expected number is worked out in a comment."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from training.ppo.math import (
    center_by_prompt,
    compute_gae,
    compute_token_rewards,
    entropy_from_logits,
    explained_variance,
    kl_penalty,
    logprobs_from_logits,
    masked_mean,
    masked_var,
    masked_whiten,
    missing_eos_penalty,
    policy_loss,
    value_loss,
    whiten_advantages,
)

F64 = torch.float64


def t(values, dtype=F64):
    return torch.tensor(values, dtype=dtype)


def close(actual, expected, atol=1e-9):
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=actual.dtype), rtol=0, atol=atol)


# --- masked statistics -------------------------------------------------------------------------


def test_masked_mean_ignores_padding_and_reduces_per_row():
    x = t([[1.0, 2.0, 3.0, 100.0], [4.0, 5.0, -7.0, 8.0]])
    mask = t([[1, 1, 1, 0], [0, 1, 0, 0]]).bool()
    # all: (1 + 2 + 3 + 5) / 4 = 2.75; rows: (1 + 2 + 3) / 3 = 2 and 5 / 1 = 5
    close(masked_mean(x, mask), 2.75)
    close(masked_mean(x, mask, dim=1), [2.0, 5.0])
    # columns: (1+0)/1, (2+5)/2, 3/1, nothing selected -> 0
    close(masked_mean(x, mask, dim=0), [1.0, 3.5, 3.0, 0.0])


def test_masked_mean_rejects_empty_mask_and_shape_mismatch():
    with pytest.raises(ValueError, match="selects no element"):
        masked_mean(t([1.0, 2.0]), t([0, 0]).bool())
    with pytest.raises(ValueError, match="one shape"):
        masked_mean(t([[1.0, 2.0]]), t([1, 1]).bool())


def test_masked_var_biased_and_unbiased():
    x = t([1.0, 2.0, 3.0, 4.0, 50.0])
    mask = t([1, 1, 1, 1, 0]).bool()
    # mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; biased 5/4, unbiased 5/3
    close(masked_var(x, mask, unbiased=False), 1.25)
    close(masked_var(x, mask), 5.0 / 3.0)
    with pytest.raises(ValueError, match="at least 2"):
        masked_var(x, t([1, 0, 0, 0, 0]).bool())


def test_masked_whiten_small_vector():
    x = t([1.0, 2.0, 3.0, 4.0, 100.0])
    mask = t([1, 1, 1, 1, 0]).bool()
    # mean 2.5, unbiased var 5/3, std sqrt(5/3) = 1.2909944; (x - 2.5) / 1.2909944:
    expected = [-1.1618950, -0.3872983, 0.3872983, 1.1618950, 0.0]
    close(masked_whiten(x, mask), expected, atol=1e-6)
    # shift_mean=False adds the mean back: 2.5 + the above (padding stays 0)
    shifted = [1.3381050, 2.1127017, 2.8872983, 3.6618950, 0.0]
    close(masked_whiten(x, mask, shift_mean=False), shifted, atol=1e-6)


# --- KL and rewards ----------------------------------------------------------------------------


def test_kl_estimators_on_known_probabilities():
    # token 1: p = 0.5, p_ref = 0.25; token 2: p = 0.2, p_ref = 0.4
    logprobs = t([[math.log(0.5), math.log(0.2)]])
    ref_logprobs = t([[math.log(0.25), math.log(0.4)]])
    # k1 = log(p / p_ref): log 2 = 0.6931472, log 0.5 = -0.6931472 (negative per token)
    close(kl_penalty(logprobs, ref_logprobs, "k1"), [[0.6931472, -0.6931472]], atol=1e-7)
    # k3 = (r - 1) - log r, r = p_ref / p: r = 0.5 -> -0.5 + 0.6931472 = 0.1931472;
    #                                       r = 2   ->  1.0 - 0.6931472 = 0.3068528
    close(kl_penalty(logprobs, ref_logprobs, "k3"), [[0.1931472, 0.3068528]], atol=1e-7)
    # identical distributions: both are exactly 0
    close(kl_penalty(logprobs, logprobs, "k3"), [[0.0, 0.0]])
    with pytest.raises(ValueError, match="unknown KL estimator 'k2'"):
        kl_penalty(logprobs, ref_logprobs, "k2")


def test_token_rewards_put_the_score_on_the_last_response_token():
    kl = t([[0.1, 0.2, 0.3], [0.5, -0.2, 9.0]])
    mask = t([[1, 1, 1], [1, 1, 0]]).bool()
    scores = t([1.0, 2.0])
    # beta = 0.5: row 0: -0.05, -0.1, -0.15 + 1.0; row 1: -0.25, +0.1 + 2.0, padding 0
    close(compute_token_rewards(scores, kl, 0.5, mask), [[-0.05, -0.1, 0.85], [-0.25, 2.1, 0.0]])
    # a response mask that starts after prompt positions: the score still lands on the last one
    prompt_then_response = t([[0, 1, 1], [0, 1, 0]]).bool()
    rewards = compute_token_rewards(scores, kl, 0.0, prompt_then_response)
    close(rewards, [[0.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
    with pytest.raises(ValueError, match="at least one response token"):
        compute_token_rewards(scores, kl, 0.5, t([[1, 1, 1], [0, 0, 0]]).bool())
    with pytest.raises(ValueError, match="kl_coef"):
        compute_token_rewards(scores, kl, -0.1, mask)


def test_center_by_prompt_subtracts_each_prompts_mean():
    # two prompts, four replies each: one right reply among three wrong ones, and four alike
    scores = t([1.0, 0.0, 0.0, 0.0, 0.8, 0.8, 0.8, 0.8])
    close(center_by_prompt(scores, 4), [0.75, -0.25, -0.25, -0.25, 0.0, 0.0, 0.0, 0.0])
    close(center_by_prompt(t([3.0, 1.0, -2.0, 0.0]), 2), [1.0, -1.0, -1.0, 1.0])


def test_center_by_prompt_skips_abstaining_replies():
    # prompt 1: two scored replies (0.6, 0.2; mean 0.4) and two abstaining ones (their score is ignored);
    # prompt 2: all abstain; prompt 3: one scored reply, its own mean
    scores = t([0.6, 9.0, 0.2, 0.0, 5.0, 5.0, 0.3, 0.0])
    scored = torch.tensor([True, False, True, False, False, False, True, False])
    close(center_by_prompt(scores, 2, scored)[:2], [0.0, 0.0])  # groups of two: (0.6 | 9.0 abstains)
    close(center_by_prompt(scores, 4, scored), [0.2, 0.0, -0.2, 0.0, 0.0, 0.0, 0.0, 0.0])
    close(center_by_prompt(scores, 4, torch.ones(8, dtype=torch.bool)), center_by_prompt(scores, 4))


@pytest.mark.parametrize("replies", [1, 3])
def test_center_by_prompt_rejects_groups_that_do_not_tile_the_batch(replies):
    with pytest.raises(ValueError, match="groups of >= 2"):
        center_by_prompt(t([1.0, 2.0, 3.0, 4.0]), replies)


def test_missing_eos_penalty():
    scores = t([1.0, 2.0, -1.0])
    has_eos = torch.tensor([True, False, False])
    # 1.0 kept; 2.0 - 1.5 = 0.5; -1.0 - 1.5 = -2.5
    close(missing_eos_penalty(scores, has_eos, 1.5), [1.0, 0.5, -2.5])
    with pytest.raises(ValueError, match=">= 0"):
        missing_eos_penalty(scores, has_eos, -1.0)


# --- GAE and advantage whitening ---------------------------------------------------------------

# Row 0: three response tokens. Row 1: two response tokens and one padding position whose value
# and reward are garbage and must not matter.
GAE_VALUES = t([[0.5, 1.0, 1.5], [0.2, 0.4, 99.0]])
GAE_REWARDS = t([[-0.1, 0.0, 1.0], [0.0, 2.0, 7.0]])
GAE_MASK = t([[1, 1, 1], [1, 1, 0]]).bool()


def test_gae_gamma_1_lambda_1_is_reward_to_go_minus_value():
    advantages, returns = compute_gae(GAE_VALUES, GAE_REWARDS, GAE_MASK, gamma=1.0, lam=1.0)
    # row 0: rewards-to-go 0.9, 1.0, 1.0; minus values 0.5, 1.0, 1.5 -> 0.4, 0.0, -0.5
    # row 1: rewards-to-go 2.0, 2.0;      minus values 0.2, 0.4      -> 1.8, 1.6
    close(advantages, [[0.4, 0.0, -0.5], [1.8, 1.6, 0.0]])
    # returns = advantages + values = the rewards-to-go
    close(returns, [[0.9, 1.0, 1.0], [2.0, 2.0, 0.0]])


def test_gae_gamma_09_lambda_095():
    advantages, returns = compute_gae(GAE_VALUES, GAE_REWARDS, GAE_MASK, gamma=0.9, lam=0.95)
    # gamma * lam = 0.855. Row 0, backwards:
    #   t=2: delta = 1.0 + 0.9*0   - 1.5 = -0.5;  A = -0.5
    #   t=1: delta = 0.0 + 0.9*1.5 - 1.0 = 0.35;  A = 0.35 + 0.855*(-0.5)    = -0.0775
    #   t=0: delta = -0.1 + 0.9*1.0 - 0.5 = 0.3;  A = 0.3 + 0.855*(-0.0775)  = 0.2337375
    # Row 1 (the padding's value 99 and reward 7 are ignored, so V after t=1 is 0):
    #   t=1: delta = 2.0 + 0.9*0   - 0.4 = 1.6;   A = 1.6
    #   t=0: delta = 0.0 + 0.9*0.4 - 0.2 = 0.16;  A = 0.16 + 0.855*1.6 = 1.528
    close(advantages, [[0.2337375, -0.0775, -0.5], [1.528, 1.6, 0.0]])
    # returns = A + V: 0.7337375, 0.9225, 1.0 and 1.728, 2.0
    close(returns, [[0.7337375, 0.9225, 1.0], [1.728, 2.0, 0.0]])


def test_gae_skips_masked_positions_inside_a_row():
    # Left padding (position 0) and a hole (position 2) behave as if those positions were absent:
    # the same as one row with values [1, 2], rewards [0, 3], gamma = lam = 1 -> A = [2, 1].
    values = t([[5.0, 1.0, 8.0, 2.0]])
    rewards = t([[4.0, 0.0, 6.0, 3.0]])
    mask = t([[0, 1, 0, 1]]).bool()
    advantages, returns = compute_gae(values, rewards, mask, gamma=1.0, lam=1.0)
    close(advantages, [[0.0, 2.0, 0.0, 1.0]])
    close(returns, [[0.0, 3.0, 0.0, 3.0]])


def test_gae_rejects_out_of_range_gamma():
    with pytest.raises(ValueError, match="gamma"):
        compute_gae(GAE_VALUES, GAE_REWARDS, GAE_MASK, gamma=1.5, lam=0.95)


def test_whiten_advantages_switch():
    advantages = t([[1.0, 2.0], [3.0, 4.0]])
    mask = t([[1, 1], [1, 1]]).bool()
    # enabled: same numbers as test_masked_whiten_small_vector
    expected = [[-1.1618950, -0.3872983], [0.3872983, 1.1618950]]
    close(whiten_advantages(advantages, mask, True), expected, atol=1e-6)
    # disabled: unchanged except padding, which is zeroed
    close(whiten_advantages(advantages, t([[1, 1], [1, 0]]).bool(), False), [[1.0, 2.0], [3.0, 0.0]])


# --- losses ------------------------------------------------------------------------------------


def _policy_case():
    """Four tokens (advantage, ratio) and one padding position.

    (A=+1, ratio 1.5): unclipped -1.5, clipped -1.2 -> max -1.2   clipping active
    (A=+1, ratio 1.1): unclipped -1.1, clipped -1.1 -> max -1.1   inside the range
    (A=-2, ratio 0.5): unclipped +1.0, clipped +1.6 -> max +1.6   clipping active
    (A=-2, ratio 1.5): unclipped +3.0, clipped +2.4 -> max +3.0   unclipped is the pessimistic one
    """
    old = t([[-1.0, -2.0, -0.5, -3.0, -1.0]])
    ratios = t([[1.5, 1.1, 0.5, 1.5, 1.0]])
    logprobs = (old + ratios.log()).requires_grad_(True)
    advantages = t([[1.0, 1.0, -2.0, -2.0, 50.0]])
    mask = t([[1, 1, 1, 1, 0]]).bool()
    return logprobs, old, advantages, mask


def test_policy_loss_clipped_and_unclipped_tokens():
    logprobs, old, advantages, mask = _policy_case()
    loss, stats = policy_loss(logprobs, old, advantages, mask, clip_range=0.2)
    # (-1.2 - 1.1 + 1.6 + 3.0) / 4 = 2.3 / 4 = 0.575
    close(loss.detach(), 0.575)
    # clipped term strictly larger on tokens 1 and 3: 2 / 4
    close(stats["clip_fraction"], 0.5)
    # k3 per token, (r - 1) - log r: r=1.5 -> 0.5 - 0.4054651 = 0.0945349; r=1.1 -> 0.1 - 0.0953102
    # = 0.0046898; r=0.5 -> -0.5 + 0.6931472 = 0.1931472; mean (0.0945349*2 + 0.0046898
    # + 0.1931472) / 4 = 0.0967267
    close(stats["approx_kl"], 0.0967267, atol=1e-7)
    loss.backward()
    # d loss / d logprob = -A * ratio / 4 where unclipped is active, 0 where clipping is active:
    # token 2: -1 * 1.1 / 4 = -0.275; token 4: 2 * 1.5 / 4 = 0.75; padding gets 0
    close(logprobs.grad, [[0.0, -0.275, 0.0, 0.75, 0.0]])


def test_policy_loss_single_token_cases():
    old = t([[0.0]])
    # inside the range: A = 1, ratio 1.1 -> loss -1.1, nothing clipped
    loss, stats = policy_loss(old + math.log(1.1), old, t([[1.0]]), t([[1]]).bool())
    close(loss, -1.1)
    close(stats["clip_fraction"], 0.0)
    # clipping active: A = 1, ratio 1.5 -> loss -A * 1.2 = -1.2, all clipped
    loss, stats = policy_loss(old + math.log(1.5), old, t([[1.0]]), t([[1]]).bool())
    close(loss, -1.2)
    close(stats["clip_fraction"], 1.0)
    with pytest.raises(ValueError, match="clip_range"):
        policy_loss(old, old, t([[1.0]]), t([[1]]).bool(), clip_range=0.0)


def test_value_loss_clipped():
    old = t([[1.0, 1.0, 1.0, 0.0]])
    values = t([[1.5, 1.1, 1.5, 0.0]])
    returns = t([[2.0, 0.0, 1.3, 9.0]])
    mask = t([[1, 1, 1, 0]]).bool()
    # token 1: unclipped (1.5 - 2)^2 = 0.25; clipped value 1.2 -> (1.2 - 2)^2 = 0.64 -> 0.64 (clipped)
    # token 2: value inside the range: 1.21 both                                    -> 1.21
    # token 3: unclipped (1.5 - 1.3)^2 = 0.04; clipped (1.2 - 1.3)^2 = 0.01          -> 0.04
    # loss = 0.5 * (0.64 + 1.21 + 0.04) / 3 = 0.315; value clip fraction 1/3
    loss, stats = value_loss(values, old, returns, mask, clip_range_value=0.2)
    close(loss, 0.315)
    close(stats["value_clip_fraction"], 1.0 / 3.0)
    # no clipping: 0.5 * (0.25 + 1.21 + 0.04) / 3 = 0.25
    loss, stats = value_loss(values, old, returns, mask, clip_range_value=None)
    close(loss, 0.25)
    close(stats["value_clip_fraction"], 0.0)


# --- logits ------------------------------------------------------------------------------------


def test_logprobs_and_entropy_from_logits():
    # softmax([0, log 3]) = [1/4, 3/4]; softmax of 4 equal logits is uniform
    logits = torch.tensor([[[0.0, math.log(3.0), -1e9, -1e9], [2.0, 2.0, 2.0, 2.0]]])
    labels = torch.tensor([[1, 2]])
    close(logprobs_from_logits(logits, labels), [[math.log(0.75), math.log(0.25)]], atol=1e-6)
    # entropies: -(1/4 log 1/4 + 3/4 log 3/4) = 0.3465736 + 0.2157616 = 0.5623351; log 4 = 1.3862944
    close(entropy_from_logits(logits, torch.tensor([[1, 0]]).bool()), 0.5623351, atol=1e-6)
    both = torch.tensor([[1, 1]]).bool()
    close(entropy_from_logits(logits, both), (0.5623351 + 1.3862944) / 2, atol=1e-6)
    with pytest.raises(ValueError, match="disagree"):
        logprobs_from_logits(logits, torch.tensor([1, 2]))


def test_explained_variance():
    returns = t([[1.0, 2.0, 3.0, 40.0]])
    mask = t([[1, 1, 1, 0]]).bool()
    # perfect critic -> 1; predicting the mean (2) -> 1 - Var[R - 2] / Var[R] = 0
    close(explained_variance(returns.clone(), returns, mask), 1.0)
    close(explained_variance(t([[2.0, 2.0, 2.0, 0.0]]), returns, mask), 0.0)
    # values [1, 1, 1]: residuals [0, 1, 2], biased var 2/3; Var[R] 2/3 -> 1 - 1 = 0
    # values [3, 2, 1]: residuals [-2, 0, 2], var 8/3 -> 1 - 4 = -3
    close(explained_variance(t([[3.0, 2.0, 1.0, 0.0]]), returns, mask), -3.0)


# --- property: masked positions never matter ---------------------------------------------------


@st.composite
def masked_batches(draw):
    """Two copies of float64 [B, T] tensors that differ only where the mask is False.

    Every row has at least one True position and the batch at least two (for unbiased variance).
    """
    b = draw(st.integers(1, 3))
    n_tokens = draw(st.integers(2, 5))
    mask_rows = [
        draw(st.lists(st.booleans(), min_size=n_tokens, max_size=n_tokens).filter(any)) for _ in range(b)
    ]
    mask = torch.tensor(mask_rows)
    if mask.sum() < 2:
        mask[0, :] = True
    finite = st.floats(-3.0, 3.0, allow_nan=False)
    garbage = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(math.nan), st.just(math.inf))

    def draw_tensor(elements):
        flat = draw(st.lists(elements, min_size=b * n_tokens, max_size=b * n_tokens))
        return torch.tensor(flat, dtype=F64).reshape(b, n_tokens)

    def pair():
        clean = draw_tensor(finite)
        return clean, torch.where(mask, clean, draw_tensor(garbage))

    return mask, [pair() for _ in range(4)]


def _outputs(mask, a, b, c, d):
    """Every masked function applied to one version of the data; all tensors in a flat list."""
    out = [masked_mean(a, mask), masked_mean(a, mask, dim=1), masked_var(a, mask)]
    out += [masked_whiten(a, mask)]
    out += [*compute_gae(a, b, mask, gamma=0.9, lam=0.95), whiten_advantages(a, mask, False)]
    out += [compute_token_rewards(masked_mean(c, mask, dim=1), kl_penalty(a, b, "k3"), 0.1, mask)]
    loss, stats = policy_loss(a, b, c, mask)
    out += [loss, *stats.values()]
    loss, stats = value_loss(a, b, c, mask, clip_range_value=0.2)
    out += [loss, *stats.values(), explained_variance(a, d, mask)]
    return out


@settings(max_examples=60, deadline=None)
@given(masked_batches())
def test_values_at_masked_positions_never_change_outputs(batch):
    mask, pairs = batch
    clean = _outputs(mask, *(p[0] for p in pairs))
    dirty = _outputs(mask, *(p[1] for p in pairs))
    for expected, actual in zip(clean, dirty, strict=True):
        torch.testing.assert_close(actual, expected, rtol=0, atol=0, equal_nan=True)
    assert all(torch.isfinite(x).all() for x in clean[4:7])  # GAE and advantages: always finite


def test_garbage_at_masked_positions_gives_no_nan_gradient():
    logprobs = t([[0.1, math.nan]]).requires_grad_(True)
    values = t([[0.5, math.inf]]).requires_grad_(True)
    mask = t([[1, 0]]).bool()
    loss, _ = policy_loss(logprobs, t([[0.0, math.nan]]), t([[1.0, math.nan]]), mask)
    vloss, _ = value_loss(values, t([[0.4, math.nan]]), t([[1.0, math.nan]]), mask, 0.2)
    (loss + vloss).backward()
    assert torch.isfinite(logprobs.grad).all() and torch.isfinite(values.grad).all()
