"""Reward scaling: how the reward model's sequence scores are sized before they enter PPO.

The paper lists "reward size scaling" among the factors that make ICE-GRT work. What it controls
is the magnitude of the score relative to the KL penalty (beta * KL) and to the critic's targets:
a raw reward-model score has an arbitrary offset and scale (a Bradley-Terry loss only fixes score
differences), so the same beta and learning rates behave differently from one reward model to the
next, and large scores make the value loss and the policy step unstable. The modes:

    none          raw scores. For reward models whose scale is already sensible, and for ablations.
    rm_norm       (score - mean) / std with the mean and std of the reward model's scores on
                  reference data, saved with the reward-model checkpoint (DeepSpeed-Chat and
                  OpenRLHF's `normalize_reward`). A fixed, known scale: beta keeps its meaning
                  across runs with the same reward model. The default choice for the paper's
                  reward size scaling, since it does not drift during training.
    running_std   score / running std of all scores seen so far in the run (Welford / parallel
                  variance updates; TRL's old `use_score_scaling`). Adapts when no reference
                  statistics exist; the offset is kept, only the size changes.
    batch_whiten  (score - batch mean) / batch std within each rollout batch. The most aggressive:
                  every batch gets zero mean and unit variance, so an absolute improvement in
                  reward is invisible to the policy; needs at least 2 scores per batch.

`clip` (optional, after any mode) clamps the scaled scores to [-clip, clip], bounding the damage of
a reward-model outlier.
"""

import math
from typing import Any, Literal

import torch
from torch import Tensor

from training.ppo.math import masked_whiten

ScalingMode = Literal["none", "running_std", "batch_whiten", "rm_norm"]
SCALING_MODES: tuple[str, ...] = ("none", "running_std", "batch_whiten", "rm_norm")


class RunningMoments:
    """Running count, mean and sum of squared deviations (M2) of a stream of numbers.

    Batches are merged with the parallel-variance formula of Chan et al. (exact, not an
    exponential average); state is kept in Python floats (float64) so a resumed run is identical.
    """

    def __init__(self) -> None:
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0

    def update(self, x: Tensor) -> None:
        """Add every element of `x` (any shape) to the statistics."""
        x = x.detach().double().flatten()
        batch_count = x.numel()
        if batch_count == 0:
            return
        batch_mean = x.mean().item()
        batch_m2 = ((x - batch_mean) ** 2).sum().item()
        total = self.count + batch_count
        delta = batch_mean - self.mean
        self.mean += delta * batch_count / total
        self.m2 += batch_m2 + delta**2 * self.count * batch_count / total
        self.count = total

    @property
    def std(self) -> float:
        """Unbiased standard deviation of everything seen; NaN with fewer than 2 numbers."""
        if self.count < 2:
            return math.nan
        return math.sqrt(self.m2 / (self.count - 1))

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean, "m2": self.m2}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count = int(state["count"])
        self.mean = float(state["mean"])
        self.m2 = float(state["m2"])


class RewardScaler:
    """Scale a batch of sequence scores by one of the modes in this module's docstring.

    Args:
        mode: "none", "running_std", "batch_whiten" or "rm_norm".
        clip: clamp the scaled scores to [-clip, clip] (> 0), or None for no clipping.
        rm_mean: the reward model's reference score mean; required by "rm_norm".
        rm_std: the reward model's reference score std, > 0; required by "rm_norm".
    """

    def __init__(
        self,
        mode: ScalingMode = "none",
        clip: float | None = None,
        rm_mean: float | None = None,
        rm_std: float | None = None,
    ) -> None:
        if mode not in SCALING_MODES:
            raise ValueError(f"unknown reward scaling mode {mode!r}; expected one of {SCALING_MODES}")
        if clip is not None and clip <= 0:
            raise ValueError(f"reward clip must be > 0 or None, got {clip}")
        if mode == "rm_norm" and (rm_mean is None or rm_std is None):
            raise ValueError(
                "reward scaling 'rm_norm' needs rm_mean and rm_std, the reward model's score "
                "statistics saved with its checkpoint"
            )
        if mode == "rm_norm" and not rm_std > 0:
            raise ValueError(f"rm_std must be > 0, got {rm_std}")
        self.mode = mode
        self.clip = clip
        self.rm_mean = rm_mean
        self.rm_std = rm_std
        self.running = RunningMoments()

    def scale(self, scores: Tensor) -> Tensor:
        """Scale (then clip) one rollout batch of scores.

        In "running_std" mode this first adds the batch to the running statistics, then divides
        by the updated std; until that std is defined and positive (fewer than 2 scores seen, or
        all equal) scores pass unscaled.

        Args:
            scores: [B] sequence scores (after the missing-EOS penalty).

        Returns:
            [B] scaled scores, same dtype.
        """
        if scores.dim() != 1:
            raise ValueError(f"scores must have shape [B], got {tuple(scores.shape)}")
        if self.mode == "none":
            scaled = scores
        elif self.mode == "rm_norm":
            scaled = (scores - self.rm_mean) / self.rm_std
        elif self.mode == "batch_whiten":
            scaled = masked_whiten(scores, torch.ones_like(scores, dtype=torch.bool))
        else:
            assert self.mode == "running_std", self.mode
            self.running.update(scores)
            std = self.running.std
            scaled = scores / std if std > 0 else scores
        if self.clip is not None:
            scaled = scaled.clamp(-self.clip, self.clip)
        return scaled

    def state_dict(self) -> dict[str, Any]:
        """The running statistics (the only state that changes over a run)."""
        return {"running": self.running.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.running.load_state_dict(state["running"])
