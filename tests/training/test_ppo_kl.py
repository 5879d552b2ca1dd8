"""Hand-checked tests of the KL controllers in training.ppo.kl."""

import pytest

from tests.training.conftest import CONFIGS

from training.ppo.kl import AdaptiveKLController, FixedKLController


def test_fixed_controller_never_moves():
    controller = FixedKLController(0.05)
    controller.update(current_kl=100.0, n_steps=512)
    assert controller.value == 0.05
    restored = FixedKLController(1.0)
    restored.load_state_dict(controller.state_dict())
    assert restored.value == 0.05


def test_adaptive_controller_two_steps_with_clipping():
    controller = AdaptiveKLController(init_kl_coef=0.1, target=6.0, horizon=10_000)
    # step 1: KL 12 is twice the target: error 12/6 - 1 = 1, clipped to 0.2;
    #         mult = 1 + 0.2 * 256 / 10000 = 1.00512; beta = 0.1 * 1.00512 = 0.100512
    controller.update(current_kl=12.0, n_steps=256)
    assert controller.value == pytest.approx(0.100512, abs=1e-12)
    # step 2: KL 5.4: error 5.4/6 - 1 = -0.1 (inside the clip); mult = 1 - 0.1 * 0.0256 = 0.99744;
    #         beta = 0.100512 * 0.99744 = 0.10025468928
    controller.update(current_kl=5.4, n_steps=256)
    assert controller.value == pytest.approx(0.10025468928, abs=1e-12)


def test_adaptive_controller_clips_the_error_from_below():
    controller = AdaptiveKLController(init_kl_coef=0.2, target=6.0, horizon=1_000)
    # KL 0: error 0/6 - 1 = -1, clipped to -0.2; mult = 1 - 0.2 * 100 / 1000 = 0.98; beta 0.196
    controller.update(current_kl=0.0, n_steps=100)
    assert controller.value == pytest.approx(0.196, abs=1e-12)


def test_adaptive_controller_resumes_identically():
    original = AdaptiveKLController(init_kl_coef=0.1, target=6.0, horizon=10_000)
    original.update(current_kl=9.0, n_steps=64)
    resumed = AdaptiveKLController(init_kl_coef=0.1, target=6.0, horizon=10_000)
    resumed.load_state_dict(original.state_dict())
    for kl in (3.0, 7.5, 20.0):
        original.update(kl, 64)
        resumed.update(kl, 64)
        assert resumed.value == original.value


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"init_kl_coef": 0.0, "target": 6.0, "horizon": 10.0}, "init_kl_coef"),
        ({"init_kl_coef": 0.1, "target": 0.0, "horizon": 10.0}, "target"),
        ({"init_kl_coef": 0.1, "target": 6.0, "horizon": -1.0}, "horizon"),
    ],
)
def test_adaptive_controller_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdaptiveKLController(**kwargs)


def test_fixed_controller_rejects_negative_coefficient():
    with pytest.raises(ValueError, match="kl_coef"):
        FixedKLController(-0.1)


def test_adaptive_controller_horizon_counts_ppo_steps():
    # horizon 10 steps, KL 3x target: error 2 clipped to 0.2; one step (n_steps=1) multiplies by 1.02;
    # ten steps by 1.02^10 = 1.21899442
    controller = AdaptiveKLController(init_kl_coef=0.1, target=1.0, horizon=10)
    controller.update(current_kl=3.0, n_steps=1)
    assert controller.value == pytest.approx(0.102, abs=1e-12)
    for _ in range(9):
        controller.update(current_kl=3.0, n_steps=1)
    assert controller.value == pytest.approx(0.1 * 1.02**10, rel=1e-12)
    assert 0.1 * 1.02**10 == pytest.approx(0.121899442, abs=1e-9)


@pytest.mark.parametrize("config_file", ["ppo_cpu.yaml", "ppo_tiny.yaml", "ppo_gpu.yaml"])
def test_configured_beta_changes_twofold_within_a_run_when_kl_is_off_target(config_file):
    """With the shipped defaults, KL held at 3x the target doubles beta within max_steps, and KL
    held at 0 halves it: the controller acts within one run."""
    from training.config import load_config
    from training.ppo.config import PPOConfig
    from training.ppo.trainer import build_kl_controller

    config = load_config(PPOConfig, CONFIGS / config_file, {})
    assert config.kl_control == "adaptive"
    for kl, moved in ((3 * config.kl_target, lambda beta: beta / config.init_kl_coef),
                      (0.0, lambda beta: config.init_kl_coef / beta)):
        controller = build_kl_controller(config)
        for _ in range(config.max_steps):
            controller.update(kl, 1)
        assert moved(controller.value) >= 2.0, (config_file, kl, controller.value)
