"""Hand-checked tests of training.ppo.reward_scaling."""

import math

import pytest
import torch

from training.ppo.reward_scaling import RewardScaler, RunningMoments


def close(actual, expected, atol=1e-6):
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=actual.dtype), rtol=0, atol=atol)


def test_none_passes_scores_through_and_clip_applies():
    scores = torch.tensor([-3.0, 0.5, 4.0])
    close(RewardScaler("none").scale(scores), [-3.0, 0.5, 4.0])
    close(RewardScaler("none", clip=2.0).scale(scores), [-2.0, 0.5, 2.0])


def test_running_std_after_known_batches():
    scaler = RewardScaler("running_std")
    # batch 1 [1, 3]: mean 2, M2 = 1 + 1 = 2, unbiased var 2 / 1 -> std sqrt 2 = 1.4142136
    close(scaler.scale(torch.tensor([1.0, 3.0])), [1 / math.sqrt(2), 3 / math.sqrt(2)])
    # batch 2 [5, 7, 9] merged (Chan): all seen [1, 3, 5, 7, 9], mean 5,
    # M2 = 16 + 4 + 0 + 4 + 16 = 40, var 40 / 4 = 10 -> std sqrt 10 = 3.1622777
    state_after_batch_1 = scaler.state_dict()
    close(scaler.scale(torch.tensor([5.0, 7.0, 9.0])), [1.5811388, 2.2135944, 2.8460499])
    assert scaler.running.count == 5
    assert scaler.running.mean == pytest.approx(5.0)
    assert scaler.running.m2 == pytest.approx(40.0)
    # a resumed scaler gives the same answer for batch 2
    resumed = RewardScaler("running_std")
    resumed.load_state_dict(state_after_batch_1)
    close(resumed.scale(torch.tensor([5.0, 7.0, 9.0])), [1.5811388, 2.2135944, 2.8460499])


def test_running_std_passes_scores_until_std_is_defined():
    scaler = RewardScaler("running_std")
    close(scaler.scale(torch.tensor([4.0])), [4.0])  # one score: no std yet
    close(scaler.scale(torch.tensor([4.0])), [4.0])  # two equal scores: std 0
    # third score 7: seen [4, 4, 7], mean 5, M2 = 1 + 1 + 4 = 6, var 3 -> 7 / sqrt 3 = 4.0414519
    close(scaler.scale(torch.tensor([7.0])), [4.0414519])


def test_running_moments_match_direct_computation():
    moments = RunningMoments()
    data = torch.tensor([0.3, -1.2, 2.5, 0.0, 4.1, -0.7, 1.9])
    for chunk in (data[:2], data[2:3], data[3:]):
        moments.update(chunk)
    assert moments.mean == pytest.approx(data.double().mean().item(), abs=1e-12)
    assert moments.std == pytest.approx(data.double().std().item(), abs=1e-12)


def test_batch_whiten():
    # mean 2.5, unbiased std sqrt(5/3) = 1.2909944 -> (x - 2.5) / 1.2909944
    scaled = RewardScaler("batch_whiten").scale(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    close(scaled, [-1.1618950, -0.3872983, 0.3872983, 1.1618950])
    with pytest.raises(ValueError, match="at least 2"):
        RewardScaler("batch_whiten").scale(torch.tensor([1.0]))


def test_rm_norm_with_and_without_clip():
    # (score - 1) / 2: 3 -> 1, -1 -> -1, 1 -> 0, 11 -> 5
    scores = torch.tensor([3.0, -1.0, 1.0, 11.0])
    close(RewardScaler("rm_norm", rm_mean=1.0, rm_std=2.0).scale(scores), [1.0, -1.0, 0.0, 5.0])
    clipped = RewardScaler("rm_norm", clip=0.5, rm_mean=1.0, rm_std=2.0)
    close(clipped.scale(scores), [0.5, -0.5, 0.0, 0.5])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "whiten"}, "unknown reward scaling mode 'whiten'"),
        ({"mode": "rm_norm"}, "rm_mean and rm_std"),
        ({"mode": "rm_norm", "rm_mean": 0.0, "rm_std": 0.0}, "rm_std must be > 0"),
        ({"mode": "none", "clip": 0.0}, "clip"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RewardScaler(**kwargs)
