"""icegrt ablate: each variant is exactly its paper factor switched off; the runner on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.training.conftest import CONFIGS, needs_bundle
from training.ablate.config import AblationConfig
from training.ablate.variants import VARIANTS, variant_settings
from training.config import ConfigError, load_config
from training.ppo.config import PPOConfig


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _changed(variant: str) -> dict:
    """The PPO settings a variant changes, compared with full, on the CPU recipe's config."""
    base = load_config(PPOConfig, CONFIGS / "ppo_cpu.yaml", {}).model_dump()
    full = PPOConfig.model_validate(variant_settings(base, "full", "runs/x")).model_dump()
    other = PPOConfig.model_validate(variant_settings(base, variant, "runs/x")).model_dump()
    return {k: other[k] for k in other if other[k] != full[k] and k != "name"}


def test_variants_switch_off_exactly_their_paper_factor():
    from training.ppo.reward_scaling import RewardScaler
    from training.ppo.trainer import build_kl_controller

    assert list(VARIANTS) == ["full", "no_reward_scaling", "no_kl_control", "no_advantage_normalization",
                              "external_preference_prompts"]
    assert _changed("no_reward_scaling") == {"reward_scaling": "none", "reward_clip": None}
    assert _changed("no_kl_control") == {"kl_control": "fixed", "init_kl_coef": 0.0}
    assert _changed("no_advantage_normalization") == {"whiten_advantages": False}
    assert _changed("external_preference_prompts") == {"prompt_source": "preference"}

    # and what the switched-off settings mean in the trainer: no KL penalty ever, scores as they are
    base = load_config(PPOConfig, CONFIGS / "ppo_cpu.yaml", {}).model_dump()
    no_kl = PPOConfig.model_validate(variant_settings(base, "no_kl_control", "runs/x"))
    controller = build_kl_controller(no_kl)
    controller.update(50.0, 8)
    assert controller.value == 0.0
    scores = torch.tensor([-30.0, 0.5, 40.0])
    assert torch.equal(RewardScaler("none", clip=None).scale(scores), scores)
    full = PPOConfig.model_validate(variant_settings(base, "full", "runs/x"))
    assert full.kl_control == "adaptive" and full.init_kl_coef > 0 and full.whiten_advantages
    assert full.reward_scaling != "none" and full.prompt_source == "sft"


def test_variant_runs_share_the_seed_and_live_under_the_ablation(tmp_path):
    base = load_config(PPOConfig, CONFIGS / "ppo_cpu.yaml", {"seed": 7}).model_dump()
    configs = [PPOConfig.model_validate(variant_settings(base, v, str(tmp_path / "abl"))) for v in VARIANTS]
    assert {c.seed for c in configs} == {7}
    assert [c.run_dir() for c in configs] == [tmp_path / "abl" / v for v in VARIANTS]


def _entry(counts: list[tuple[int, int, int]]) -> dict:
    rows = [{"id": f"e{i}", "matched": m, "predicted": p, "reference": r} for i, (m, p, r) in enumerate(counts)]
    return {"value": 0.0, "stderr": 0.0, "report": {"rows": rows}}


def test_a_variant_is_compared_with_full_on_the_same_examples():
    from training.ablate.summary import domain_difference, render_markdown

    # full finds 1 of 2 cells in every example (F1 .5); the variant 2 of 2 in every one (F1 1): every
    # resample differs by exactly .5, so the paired stderr is 0 and the difference is significant
    full, variant = _entry([(1, 2, 2)] * 4), _entry([(2, 2, 2)] * 4)
    paired = domain_difference(variant, full)
    assert paired["diff"] == pytest.approx(0.5) and paired["stderr"] == pytest.approx(0.0) and paired["n"] == 4
    assert domain_difference(variant, {"value": 0.5, "stderr": 0.1}) is None  # no rows: nothing to pair
    summary = {"steps": 2, "final_reward": 0.1, "final_kl": 0.2, "final_kl_coef": 0.05, "reward_variance": 0.01,
               "diverged": False, "divergence": None}
    result = {"name": "a", "command": "c", "seed": 0, "runs_dir": "runs/a", "domain_metric_label": "cell F1",
              "config": {"last_k": 2, "base_config": "b.yaml", "ppo": {}}, "start": None,
              "variants": {"full": {"summary": summary, "domain": full, "domain_vs_full": None},
                           "no_kl_control": {"summary": summary, "domain": variant, "domain_vs_full": paired}}}
    markdown = render_markdown(result)
    assert "| cell F1 − full (paired) |" in markdown
    assert "| **+0.500 ± 0.000** |" in markdown and "| n/a |" in markdown


def test_bad_ablation_configs_are_refused():
    with pytest.raises(ConfigError, match="unknown variant"):
        load_config(AblationConfig, None, {"base_config": "x.yaml", "variants": ["full", "no_critic"]})
    with pytest.raises(ConfigError, match="may not set"):
        load_config(AblationConfig, None, {"base_config": "x.yaml", "ppo": "{name: other}"})
    parsed = load_config(AblationConfig, None, {"base_config": "x.yaml", "ppo": "{max_steps: 3, lora: true}"})
    assert parsed.ppo == {"max_steps": 3, "lora": True}


def _ablation(tmp_path: Path, rm: Path, **changes) -> AblationConfig:
    import yaml

    ppo = yaml.safe_load((CONFIGS / "ablate_tiny.yaml").read_text())["ppo"]
    ppo.update({"model": "tiny", "reward_model": str(rm), "prompt_mix": {"gsm8k": 6, "self_instruct": 6},
                "max_seq_len": 192, "max_new_tokens": 8, "threads": 1}, **changes.pop("ppo", {}))
    settings = {"runs_dir": str(tmp_path / "runs"), "results_dir": str(tmp_path / "results"),
                "variants": ["full", "no_kl_control"], "domain_metric": "none", "evaluate_start": False,
                "ppo": ppo, **changes}
    return load_config(AblationConfig, CONFIGS / "ablate_tiny.yaml", settings)


@pytest.mark.slow  # two tiny PPO runs with checkpoints, then a second call
@needs_bundle
def test_runner_trains_each_variant_writes_results_and_skips_finished(tmp_path, tiny_reward_checkpoint, monkeypatch):
    from training.ablate import runner

    config = _ablation(tmp_path, tiny_reward_checkpoint)
    result = runner.run_ablation(config, "icegrt ablate --config configs/ablate_tiny.yaml")
    out = tmp_path / "results" / "ablate_tiny"
    assert sorted(p.name for p in out.iterdir()) == ["ablation.json", "ablation.md", "ablation.png", "command.txt"]
    for variant in ("full", "no_kl_control"):
        summary = result["variants"][variant]["summary"]
        assert summary["steps"] == 2 and summary["diverged"] is False
        assert summary["final_reward"] is not None and summary["reward_variance"] is not None
        assert (tmp_path / "runs" / "ablate_tiny" / variant / "checkpoint").is_dir()
    records = [json.loads(line) for line in (tmp_path / "runs/ablate_tiny/no_kl_control/metrics.jsonl").read_text().splitlines()]
    assert all(r["kl_coef"] == 0.0 for r in records if "kl_coef" in r)
    markdown = (out / "ablation.md").read_text()
    assert "| full |" in markdown and "| no_kl_control |" in markdown and "not run" in markdown

    # a second call trains nothing: every variant is complete
    monkeypatch.setattr("training.ppo.trainer.PPOTrainer.step", lambda *a, **k: pytest.fail("a finished variant was retrained"))
    again = runner.run_ablation(config, "again")
    assert again["variants"]["full"]["summary"] == result["variants"]["full"]["summary"]


@pytest.mark.slow  # a tiny PPO run until its first actor update
@needs_bundle
def test_a_diverged_variant_is_recorded_and_not_rerun(tmp_path, tiny_reward_checkpoint):
    from training.ablate import runner

    config = _ablation(tmp_path, tiny_reward_checkpoint, variants=["full"], ppo={"max_loss": 1e-9})
    result = runner.run_ablation(config, "x")
    summary = result["variants"]["full"]["summary"]
    assert summary["diverged"] is True and "stopped at step" in summary["divergence"]
    assert (tmp_path / "runs/ablate_tiny/full/diverged.json").is_file()
    assert "| yes |" in (tmp_path / "results/ablate_tiny/ablation.md").read_text()
    assert runner.run_ablation(config, "x")["variants"]["full"]["summary"] == summary


def test_invalid_variant_settings_fail_before_any_run(tmp_path, tiny_reward_checkpoint):
    from training.ablate import runner

    # ad-compliance task reward needs SFT prompts: the external-prompts variant cannot exist
    config = _ablation(tmp_path, tiny_reward_checkpoint, variants=["full", "external_preference_prompts"],
                       ppo={"task_reward": "ad_compliance", "prompt_mix": {"gsm8k": 4, "ad_compliance": 4}})
    with pytest.raises(ConfigError, match="external_preference_prompts"):
        runner.run_ablation(config, "x")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "results").exists()


@pytest.mark.e2e
@pytest.mark.slow
@needs_bundle
def test_ablate_command_end_to_end_with_the_domain_metric(tmp_path, tiny_reward_checkpoint):
    """The real command: two variants of 2 PPO steps, each final checkpoint scored on E2E by vLLM."""
    from cli.main import main

    # --ppo adds to (and overrides keys of) the file's ppo mapping
    ppo = json.dumps({"model": "tiny", "reward_model": str(tiny_reward_checkpoint), "threads": 1,
                      "prompt_mix": {"gsm8k": 6, "self_instruct": 6}, "max_new_tokens": 8})
    code = main(["ablate", "--config", str(CONFIGS / "ablate_tiny.yaml"), "--variants", "full",
                 "external_preference_prompts", "--runs-dir", str(tmp_path / "runs"), "--results-dir",
                 str(tmp_path / "results"), "--ppo", ppo, "--domain-limit", "2", "--no-evaluate-start"])
    assert code == 0
    result = json.loads((tmp_path / "results/ablate_tiny/ablation.json").read_text())
    assert result["command"].startswith("icegrt ablate --config")
    for variant in ("full", "external_preference_prompts"):
        assert result["variants"][variant]["summary"]["steps"] == 2  # the file's max_steps was kept
        domain = result["variants"][variant]["domain"]
        assert domain["report"]["n"] == 2 and 0.0 <= domain["value"] <= 1.0
    assert result["variants"]["external_preference_prompts"]["settings"]["prompt_source"] == "preference"
