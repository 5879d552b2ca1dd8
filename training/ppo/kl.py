"""KL control: the coefficient beta that weighs the per-token KL penalty in the PPO reward.

The paper names KL control as one of ICE-GRT's factors; both controllers below keep the policy
close to the frozen reference (the SFT model, ICE-Instruct), which is what preserves general
ability while the policy learns the domain. Switch between them in the PPO config.

Both controllers have the same interface: `.value` (the current beta), `.update(current_kl,
n_steps)` after each rollout batch, and `state_dict()` / `load_state_dict()` so that a resumed
run continues with the same beta.

Units: the adaptive controller's horizon is counted in PPO steps (rollout batches), and the trainer
calls ``update(kl, 1)`` once per step. Ziegler et al. counted samples (horizon 10,000, with
batches of hundreds of samples); counted in samples at this project's scale (8 replies a step, 30
steps) that horizon let beta move by at most 0.5% in a whole run. Counted in steps, a horizon of H
steps with the error clipped to +-0.2 moves beta by a factor (1 +- 0.2 / H) per step, so while the
KL stays off target (by 20% or more) beta changes 2x in ln 2 / ln(1 + 0.2 / H), about 3.5 H steps
(up; down, ln 2 / -ln(1 - 0.2 / H)): H = 8 gives 2x within 29 steps either way.
"""

from typing import Any

ERROR_CLIP = 0.2
"""Clip of the proportional error (Ziegler et al. 2019): beta moves at most 20% per horizon."""


class FixedKLController:
    """A constant KL coefficient; `update` does nothing."""

    def __init__(self, kl_coef: float) -> None:
        if kl_coef < 0:
            raise ValueError(f"kl_coef must be >= 0, got {kl_coef}")
        self.value = float(kl_coef)

    def update(self, current_kl: float, n_steps: int) -> None:
        """Keep the coefficient; present so that both controllers are used the same way."""

    def state_dict(self) -> dict[str, Any]:
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.value = float(state["value"])


class AdaptiveKLController:
    """Adaptive KL coefficient of Ziegler et al. 2019 ("Fine-Tuning Language Models from Human
    Preferences", section 2.2), as in TRL's old `AdaptiveKLController`.

    After each PPO step:
        proportional_error = clip(current_kl / target - 1, -0.2, 0.2)
        beta <- beta * (1 + proportional_error * n_steps / horizon)
    so beta grows while the measured KL is above `target` and shrinks while it is below, by at most
    a factor 1 +- 0.2 * n_steps / horizon per update.

    Args:
        init_kl_coef: starting beta, > 0 (a zero beta could never grow).
        target: the KL to steer towards, in the units of `current_kl` (nats per sequence when
            `current_kl` is the batch mean of the per-sequence sum of token KLs, as in Ziegler
            et al. and TRL), > 0.
        horizon: PPO steps (rollout batches) over which the coefficient may change by the clipped
            proportional error, > 0.
    """

    def __init__(self, init_kl_coef: float, target: float, horizon: float) -> None:
        if init_kl_coef <= 0:
            raise ValueError(f"init_kl_coef must be > 0 for the adaptive controller, got {init_kl_coef}")
        if target <= 0:
            raise ValueError(f"the KL target must be > 0, got {target}")
        if horizon <= 0:
            raise ValueError(f"the KL horizon must be > 0, got {horizon}")
        self.value = float(init_kl_coef)
        self.target = float(target)
        self.horizon = float(horizon)

    def update(self, current_kl: float, n_steps: int) -> None:
        """Move beta towards keeping `current_kl` at the target.

        Args:
            current_kl: the KL measured on the last batch (see `target` for its units); a float
                or a 0-d tensor.
            n_steps: PPO steps (rollout batches) that KL was measured over: 1 per step.
        """
        proportional_error = min(max(float(current_kl) / self.target - 1.0, -ERROR_CLIP), ERROR_CLIP)
        self.value *= 1.0 + proportional_error * n_steps / self.horizon

    def state_dict(self) -> dict[str, Any]:
        """Only beta changes over a run; target and horizon come from the config."""
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.value = float(state["value"])


KLController = FixedKLController | AdaptiveKLController

