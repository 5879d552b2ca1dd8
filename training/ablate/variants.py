"""The ablation variants: each switches one of the paper's PPO factors off (arXiv 2401.02072).

``full`` is the base PPO config as is. Every other variant changes only the settings of its factor,
so a difference between it and ``full`` (same seed, same prompts order, same steps) is that
factor's effect:

    no_reward_scaling            reward_scaling none and no reward_clip: the combined raw score
                                 (less the missing-EOS penalty) enters PPO unscaled and unclipped
    no_kl_control                a fixed KL coefficient of 0: no KL penalty in the token rewards
                                 at all (kl_control: adaptive with beta 0 cannot exist, and fixed
                                 with beta > 0 is still a KL penalty)
    no_advantage_normalization   whiten_advantages false: GAE advantages used as they are
    external_preference_prompts  prompt_source preference: PPO prompts from the external preference
                                 set instead of ICE-Instruct's own SFT sources (the paper's
                                 "appropriate data" factor)
"""

from __future__ import annotations

from typing import Any

VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "full": ("the base PPO config: every factor on", {}),
    "no_reward_scaling": ("reward_scaling none, reward_clip none", {"reward_scaling": "none", "reward_clip": None}),
    "no_kl_control": ("kl_control fixed, init_kl_coef 0 (no KL penalty)", {"kl_control": "fixed", "init_kl_coef": 0.0}),
    "no_advantage_normalization": ("whiten_advantages false", {"whiten_advantages": False}),
    "external_preference_prompts": ("prompt_source preference (external preference prompts)",
                                    {"prompt_source": "preference"}),
}


def variant_settings(base: dict[str, Any], variant: str, runs_dir: str) -> dict[str, Any]:
    """The PPO settings of `variant`: `base` (a PPOConfig as a dict) with the variant's changes,
    named after the variant and placed under `runs_dir`.

    Raises:
        KeyError: an unknown variant.
    """
    if variant not in VARIANTS:
        raise KeyError(f"unknown ablation variant {variant!r}; choose from {', '.join(VARIANTS)}")
    return {**base, **VARIANTS[variant][1], "name": variant, "runs_dir": runs_dir}
