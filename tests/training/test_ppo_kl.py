"""Hand-checked tests of the KL controllers in training.ppo.kl."""

import pytest

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
