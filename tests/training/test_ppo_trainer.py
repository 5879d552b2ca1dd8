"""ICE-GRT's PPO stage: runs on the tiny model, exact resume, errors before work, every paper switch."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
import torch

from tests.training.conftest import CONFIGS, needs_bundle
from training.config import ConfigError, load_config
from training.ppo.config import PPOConfig

REQUIRED_METRICS = ("reward", "reward_scaled", "kl", "kl_token", "kl_coef", "entropy", "value_loss", "response_length",
                    "explained_variance", "reward_model_score")
ACTOR_METRICS = ("policy_loss", "clip_fraction", "approx_kl")


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a busy 2-core machine two spin-waiting threads made steps 50x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_reward_model(tmp_path_factory, tiny_model) -> Path:
    """A reward checkpoint built in place: the tiny Llama with a seeded random scalar head and stats."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = tmp_path_factory.mktemp("rm") / "checkpoint"
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1)
    model.config.pad_token_id = 2
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(path)
    (path / "reward_stats.json").write_text(json.dumps({"mean": 0.05, "std": 0.5}))
    return path


def ppo_settings(runs_dir: Path, reward_model: Path | None, **changes) -> dict:
    settings = {
        "runs_dir": str(runs_dir), "model": "tiny", "progress": False, "threads": 1,
        "reward_model": None if reward_model is None else str(reward_model),
        "prompt_mix": {"gsm8k": 6, "self_instruct": 6}, "max_seq_len": 192, "max_new_tokens": 8,
        "rollout_batch_size": 4, "mini_batch_size": 2, "batch_size": 2, "ppo_epochs": 2,
        "max_steps": 3, "save_every": 2, "learning_rate": 1e-3, "critic_learning_rate": 1e-3,
        "lr_schedule": "constant", "kl_control": "adaptive", "init_kl_coef": 0.2, "kl_target": 0.5,
        "kl_horizon_steps": 8, "critic_warmup_steps": 1,
    }
    settings.update(changes)
    return settings


@pytest.fixture
def no_plots(monkeypatch):
    """Runs whose plots are not under test skip them (a PNG per metric costs seconds on a busy CPU)."""
    from training.ppo import trainer

    monkeypatch.setattr(trainer, "plot_metrics", lambda *args, **kwargs: [])
    monkeypatch.setattr(trainer, "plot_ppo", lambda *args, **kwargs: None)


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _steps(run_dir: Path) -> list[dict]:
    return [r for r in _records(run_dir) if "reward" in r]


def _weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(path / "model.safetensors")


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_model, tiny_reward_model):
    from training.ppo.trainer import run_ppo

    config = PPOConfig(name="full", **ppo_settings(tmp_path_factory.mktemp("runs"), tiny_reward_model, eval_prompts=2,
                                                   task_rewards={"gsm8k": 1.0}))
    return config, run_ppo(config)


# --- full runs on the tiny model ---------------------------------------------------------------


@needs_bundle
def test_ppo_run_logs_trains_and_writes_a_servable_actor(finished, tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config, result = finished
    run = config.run_dir()
    assert result["step"] == 3 and not result["resumed"]
    steps = _steps(run)
    assert [r["step"] for r in steps] == [1, 2, 3]
    for record in steps:
        for key in REQUIRED_METRICS:
            assert isinstance(record[key], float) and math.isfinite(record[key]), (record["step"], key)
    # critic warm-up: step 1 trains the critic only, so step 2 still samples from the reference (the actor's
    # log-probabilities come from generate's logits, the reference's from a forward pass over the padded
    # batch: the same weights, equal up to float32 rounding)
    assert not steps[0]["actor_trained"] and "policy_loss" not in steps[0]
    assert abs(steps[0]["kl"]) < 1e-4 and abs(steps[1]["kl"]) < 1e-4
    for key in ACTOR_METRICS:
        assert math.isfinite(steps[2][key])
    assert abs(steps[2]["kl"]) > 1e-3
    # adaptive control moved beta (KL 0 < target: it shrinks by the clipped error, one step of the 8-step horizon)
    coefs = [r["kl_coef"] for r in steps]
    assert coefs[0] == pytest.approx(0.2) and coefs[1] == pytest.approx(0.2 * (1 - 0.2 * 1 / 8))
    assert coefs[2] < coefs[1]
    # evaluation at the start and the end
    assert [r["step"] for r in _records(run) if "eval_reward" in r] == [0, 3]
    # the actor changed, and is a plain HF checkpoint with tokenizer and chat template
    before, after = _weights(tiny_model), _weights(run / "checkpoint")
    assert before.keys() == after.keys() and any(not torch.equal(before[k], after[k]) for k in before)
    assert type(AutoModelForCausalLM.from_pretrained(run / "checkpoint")).__name__ == "LlamaForCausalLM"
    assert AutoTokenizer.from_pretrained(run / "checkpoint").chat_template
    marker = json.loads((run / "checkpoint" / "icegrt-checkpoint.json").read_text())
    assert marker["stage"] == "ppo" and marker["step"] == 3 and marker["kind"] == "causal_lm"
    state = {p.name for p in (run / "trainer_state").iterdir()}
    assert {"optimizer.pt", "critic_optimizer.pt", "critic.safetensors", "ppo_state.json", "rng.pt"} <= state
    error = min(max(steps[2]["kl"] / 0.5 - 1, -0.2), 0.2)
    saved_coef = json.loads((run / "trainer_state" / "ppo_state.json").read_text())["kl_controller"]["value"]
    assert saved_coef == pytest.approx(coefs[2] * (1 + error * 1 / 8))  # one PPO step of the 8-step horizon
    assert {"reward.png", "kl.png", "kl_coef.png", "value_loss.png", "ppo_curves.png"} <= {p.name for p in (run / "plots").iterdir()}
    # the GSM8K task reward is logged as its own component, on the steps that drew GSM8K prompts
    gsm8k = [r["task_score_gsm8k"] for r in steps if "task_score_gsm8k" in r]
    assert gsm8k and all(0.0 <= v <= 1.0 for v in gsm8k)


@needs_bundle
def test_killed_run_resumes_with_the_same_step_count_and_metrics(finished, tmp_path, tiny_reward_model, no_plots):
    from training.ppo.trainer import run_ppo

    full_config, _ = finished
    config = PPOConfig(name="killed", **ppo_settings(tmp_path, tiny_reward_model, eval_prompts=2, task_rewards={"gsm8k": 1.0}))
    assert run_ppo(config, stop_after=2)["step"] == 2  # killed after the step-2 checkpoint
    second = run_ppo(config)
    assert second["resumed"] and second["step"] == 3
    resumed, uninterrupted = _steps(config.run_dir()), _steps(full_config.run_dir())
    assert [r["step"] for r in resumed] == [1, 2, 3]
    timing = {"rollout_s", "step_s", "elapsed_s"}
    assert set(resumed[2]) == set(uninterrupted[2])
    for key in set(uninterrupted[2]) - timing:
        expected = uninterrupted[2][key]
        if isinstance(expected, float):
            assert resumed[2][key] == pytest.approx(expected, rel=1e-4, abs=1e-6), key
        else:
            assert resumed[2][key] == expected, key
    a, b = _weights(config.run_dir() / "checkpoint"), _weights(full_config.run_dir() / "checkpoint")
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    assert run_ppo(config)["complete"]


def test_task_reward_only_run_with_lora_on_ad_prompts(tmp_path, tiny_model, no_plots):
    """Ad-compliance prompts (~2,300 tokens) with the F1 task reward, no reward model, LoRA actor and critic."""
    pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    from training.ppo.trainer import run_ppo

    config = PPOConfig(name="ad", **ppo_settings(
        tmp_path, None, prompt_mix={"ad_compliance": 4}, max_seq_len=2560, rollout_batch_size=2, batch_size=1,
        max_steps=2, save_every=1, critic_warmup_steps=0, task_rewards={"ad_compliance": 1.0}, critic_init="sft",
        reward_scaling="batch_whiten", lora=True, lora_r=4, lora_target_modules=["q_proj", "v_proj"]))
    result = run_ppo(config)
    assert result["step"] == 2 and result["data"]["train_by_source"] == {"ad_compliance": 4}
    steps = _steps(config.run_dir())
    # LoRA B starts at zero: the actor is the reference (up to float32 rounding between generate and a forward pass)
    assert abs(steps[0]["kl"]) < 1e-4
    assert all(0.0 <= r["task_score"] == r["task_score_ad_compliance"] <= 1.0 and "reward_model_score" not in r
               for r in steps)
    assert math.isfinite(steps[1]["policy_loss"])
    before, after = _weights(tiny_model), _weights(config.run_dir() / "checkpoint")
    assert before.keys() == after.keys()  # LoRA merged into plain weights
    assert {k for k in before if not torch.equal(before[k], after[k])} and all(
        "q_proj" in k or "v_proj" in k for k in before if not torch.equal(before[k], after[k]))
    AutoModelForCausalLM.from_pretrained(config.run_dir() / "checkpoint")


def test_compact_ad_prompts_log_the_parts_of_their_reward(tmp_path, no_plots):
    """Compact ad prompts (~200 tokens) scored by the judgement-and-revision reward alone: each step and
    evaluation logs the source's score and its two parts."""
    from training.ppo.trainer import run_ppo

    config = PPOConfig(name="adc", **ppo_settings(
        tmp_path, None, prompt_mix={"ad_compliance_compact": 6}, max_seq_len=448, rollout_batch_size=2, batch_size=1,
        max_steps=2, eval_prompts=2, eval_every=2, save_every=2, critic_warmup_steps=0,
        task_rewards={"ad_compliance_compact": 1.0}, critic_init="sft", reward_scaling="batch_whiten"))
    run_ppo(config)
    steps = _steps(config.run_dir())
    assert len(steps) == 2 and all(0.0 <= r["task_score_ad_compliance_compact"] <= 1.0 for r in steps)
    assert all(0.0 <= r["task_part_ad_compliance_compact_judgement"] <= 1.0 for r in steps)
    evals = [r for r in _records(config.run_dir()) if "eval_reward" in r]
    assert evals and "eval_task_part_ad_compliance_compact_judgement" in evals[-1]


def test_replies_per_prompt_samples_each_prompt_in_a_row_and_centres_its_scores(tmp_path, monkeypatch, no_plots):
    """Two replies to each of two prompts per step, each at its own seed; the scores that enter PPO are
    centred per prompt, so each step's scaled reward averages 0 while its raw reward does not."""
    from training.ppo import trainer

    seen: list[tuple[list[str], list[int]]] = []
    generate = trainer.PPOTrainer.generate

    def spy(self, prompts, seeds, greedy=False):
        if not greedy:
            seen.append(([p.id for p in prompts], list(seeds)))
        return generate(self, prompts, seeds, greedy)

    monkeypatch.setattr(trainer.PPOTrainer, "generate", spy)
    config = PPOConfig(name="group", **ppo_settings(
        tmp_path, None, prompt_mix={"ad_compliance_compact": 6}, max_seq_len=448, rollout_batch_size=4,
        replies_per_prompt=2, batch_size=2, max_steps=2, save_every=2, critic_warmup_steps=0,
        task_rewards={"ad_compliance_compact": 1.0}, critic_init="sft", reward_scaling="running_std"))
    trainer.run_ppo(config)
    assert len(seen) == 2
    for keys, seeds in seen:
        assert keys[0] == keys[1] != keys[2] == keys[3] and len(set(seeds)) == 4
    assert seen[0][0] != seen[1][0]  # the next step draws the next prompts of the permutation
    for record in _steps(config.run_dir()):
        assert abs(record["reward_scaled"]) < 1e-6 and 0.0 <= record["reward"] <= 1.0


@needs_bundle
def test_nan_reward_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, tiny_reward_model, no_plots):
    from training.loop import TrainingDiverged
    from training.ppo import trainer

    calls = {"n": 0}
    original = trainer.reward_model_scores

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        scores = original(*args, **kwargs)
        return scores * float("nan") if calls["n"] == 2 else scores

    monkeypatch.setattr(trainer, "reward_model_scores", poisoned)
    config = PPOConfig(name="nan", **ppo_settings(tmp_path, tiny_reward_model, max_steps=2, save_every=1, ppo_epochs=1))
    with pytest.raises(TrainingDiverged, match=r"step 2: reward is nan.*last good checkpoint \(step 1\)"):
        trainer.run_ppo(config)
    marker = json.loads((config.run_dir() / "checkpoint" / "icegrt-checkpoint.json").read_text())
    assert marker["step"] == 1
    assert "diverged" in (config.run_dir() / "metrics.jsonl").read_text()


# --- errors before any work ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reward_model": None}, "no reward"),
        ({"reward_model": None, "task_rewards": {"ad_compliance": 1}, "prompt_mix": {"ad_compliance": 2}},
         "critic_init is reward"),
        ({"reward_model": None, "task_rewards": {"ad_compliance": 1}, "critic_init": "sft", "reward_scaling": "none"},
         "no reward"),
        ({"task_rewards": {"ad_compliance": 1}}, "would never apply"),
        ({"task_rewards": {"self_instruct": 1}}, "no task reward for prompt source 'self_instruct'"),
        ({"task_rewards": {"gsm8k": -1}}, "must be >= 0"),
        ({"reward_model": None, "task_rewards": {"ad_compliance": 1}, "prompt_mix": {"ad_compliance": 2},
          "critic_init": "sft"}, "rm_norm normalizes"),
        ({"mini_batch_size": 3}, "must divide"),
        ({"rollout_batch_size": 4, "replies_per_prompt": 3}, "replies_per_prompt 3 must divide rollout_batch_size 4"),
        ({"ad_reward": "findings"}, "ad_reward findings needs replies_per_prompt >= 2"),
        ({"init_kl_coef": 0.0}, "init_kl_coef > 0"),
        ({"kl_estimator": "k2"}, "kl_estimator"),
        ({"reward_scaling": "tanh"}, "reward_scaling"),
        ({"clip_range": 0}, "clip_range"),
        ({"max_new_tokens": 600}, "no room for a prompt"),
        ({"prompt_mix": "bogus=3"}, "prompt_mix"),
    ],
)
def test_bad_settings_are_refused_by_the_schema(changes, message):
    with pytest.raises(ConfigError, match=message):
        load_config(PPOConfig, None, {"reward_model": "some/rm", **changes})


def test_wrong_or_missing_checkpoints_fail_before_work(tmp_path, tiny_model, tiny_reward_model):
    from training.ppo.trainer import run_ppo

    def config(**changes):
        return PPOConfig(name="bad", **{**ppo_settings(tmp_path, tiny_reward_model), **changes})

    with pytest.raises(ConfigError, match="does not exist: train one"):
        run_ppo(config(reward_model=str(tmp_path / "no-rm")))
    with pytest.raises(ConfigError, match="it is a causal_lm checkpoint"):
        run_ppo(config(reward_model=str(tiny_model)))
    with pytest.raises(ConfigError, match="it is a reward checkpoint"):
        run_ppo(config(model=str(tiny_reward_model)))
    no_stats = tmp_path / "rm-no-stats"
    no_stats.mkdir()
    for item in tiny_reward_model.iterdir():
        if item.name != "reward_stats.json":
            (no_stats / item.name).write_bytes(item.read_bytes())
    with pytest.raises(ConfigError, match="no reward_stats.json"):
        run_ppo(config(reward_model=str(no_stats)))
    assert not (tmp_path / "bad").exists()


def test_cli_lists_every_control_with_its_default_and_returns_2_on_errors(capsys):
    from training.commands import add_train_parser

    parser = argparse.ArgumentParser(prog="icegrt")
    add_train_parser(parser.add_subparsers(dest="command", required=True))
    stage = parser._subparsers._group_actions[0].choices["train"]._subparsers._group_actions[0].choices["ppo"]
    text = " ".join(stage.format_help().split())
    for field in ("kl_estimator", "kl_control", "init_kl_coef", "kl_target", "kl_horizon_steps", "reward_scaling",
                  "reward_clip", "whiten_advantages", "gamma", "lam", "clip_range", "clip_range_value", "vf_coef",
                  "missing_eos_penalty", "critic_warmup_steps", "ppo_epochs", "rollout_batch_size",
                  "mini_batch_size", "max_new_tokens", "temperature", "top_p", "reward_model", "reward_weight",
                  "task_rewards", "reward_weights", "critic_init", "prompt_source"):
        assert f"--{field.replace('_', '-')}" in text, field
    assert "(default: 0.2)" in text and "--no-whiten-advantages" in text
    from cli.main import main

    assert main(["train", "ppo", "--reward-model", "none", "--no-progress"]) == 2
    assert "no reward" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["ppo_tiny", "ppo_cpu", "ppo_gpu"])
def test_ppo_configs_load(name):
    config = load_config(PPOConfig, CONFIGS / f"{name}.yaml", {})
    assert config.name == name and config.clip_range == 0.2


# --- each paper switch toggles its code path -------------------------------------------------------


def _rollout_tensors():
    torch.manual_seed(0)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    logprobs, ref_logprobs, values = torch.randn(2, 4) - 2, torch.randn(2, 4) - 2, torch.randn(2, 4)
    return torch.tensor([1.0, -0.5]), logprobs, ref_logprobs, values, mask


@pytest.mark.parametrize("whiten", [True, False])
def test_whiten_advantages_switch(whiten):
    from training.ppo.math import compute_gae, compute_token_rewards, kl_penalty
    from training.ppo.trainer import shape_rollout

    scores, logprobs, ref, values, mask = _rollout_tensors()
    out = shape_rollout(scores, logprobs, ref, values, mask, kl_estimator="k1", kl_coef=0.1, gamma=1.0, lam=0.95,
                        whiten=whiten)
    rewards = compute_token_rewards(scores, torch.where(mask, kl_penalty(logprobs, ref, "k1"), 0.0), 0.1, mask)
    raw_advantages, returns = compute_gae(values, rewards, mask, 1.0, 0.95)
    assert torch.allclose(out["returns"], returns)  # returns never whitened
    if whiten:
        assert out["advantages"][mask].mean().item() == pytest.approx(0.0, abs=1e-6)
        assert out["advantages"][mask].std().item() == pytest.approx(1.0, abs=1e-4)
    else:
        assert torch.equal(out["advantages"], raw_advantages)


def test_kl_estimator_and_coefficient_switches():
    from training.ppo.trainer import shape_rollout

    scores, logprobs, ref, values, mask = _rollout_tensors()
    common = {"gamma": 1.0, "lam": 1.0, "whiten": False}
    k1 = shape_rollout(scores, logprobs, ref, values, mask, kl_estimator="k1", kl_coef=0.5, **common)
    k3 = shape_rollout(scores, logprobs, ref, values, mask, kl_estimator="k3", kl_coef=0.5, **common)
    ratio = torch.exp(ref - logprobs)
    assert torch.allclose(k1["kl"], torch.where(mask, logprobs - ref, 0.0))
    assert torch.allclose(k3["kl"], torch.where(mask, ratio - 1 - torch.log(ratio), 0.0), atol=1e-6)
    assert (k3["kl"][mask] >= 0).all()
    # the penalty is -beta * KL at every reply token, the score lands on the last one
    assert torch.allclose(k1["rewards"][0, :2], -0.5 * k1["kl"][0, :2])
    assert k1["rewards"][0, 2].item() == pytest.approx(-0.5 * k1["kl"][0, 2].item() + 1.0)
    assert torch.allclose(k1["kl_sum"], k1["kl"].sum(dim=1))
    no_kl = shape_rollout(scores, logprobs, ref, values, mask, kl_estimator="k1", kl_coef=0.0, **common)
    assert no_kl["rewards"].sum(dim=1).tolist() == pytest.approx(scores.tolist())


def test_kl_control_switch():
    from training.ppo.kl import AdaptiveKLController, FixedKLController
    from training.ppo.trainer import build_kl_controller

    fixed = build_kl_controller(PPOConfig(reward_model="rm", kl_control="fixed", init_kl_coef=0.3))
    adaptive = build_kl_controller(PPOConfig(reward_model="rm", kl_control="adaptive", init_kl_coef=0.3,
                                             kl_target=2.0, kl_horizon_steps=100))
    assert isinstance(fixed, FixedKLController) and isinstance(adaptive, AdaptiveKLController)
    fixed.update(10.0, 50)
    adaptive.update(10.0, 50)
    assert fixed.value == 0.3 and adaptive.value == pytest.approx(0.3 * (1 + 0.2 * 50 / 100))


def _shape(mode, rm, task=None, has_eos=None, clip=None, penalty=0.0, stats=None):
    from training.ppo.rewards import build_scalers, shape_scores

    scaler, normalizer = build_scalers(mode, clip, stats)
    has_eos = torch.ones(len(rm if rm is not None else task), dtype=torch.bool) if has_eos is None else has_eos
    return shape_scores(rm, task, has_eos, reward_weight=1.0, task_weight=2.0, eos_penalty=penalty,
                        scaler=scaler, rm_normalizer=normalizer)


def test_reward_scaling_switch():
    rm = torch.tensor([1.0, 3.0, -2.0])
    raw, scaled = _shape("none", rm)
    assert torch.equal(raw, rm) and torch.equal(scaled, rm)  # none: scores stay raw
    _, scaled = _shape("rm_norm", rm, stats={"mean": 1.0, "std": 2.0})
    assert scaled.tolist() == pytest.approx([0.0, 1.0, -1.5])
    _, scaled = _shape("batch_whiten", rm)
    assert scaled.mean().item() == pytest.approx(0.0, abs=1e-6) and scaled.std().item() == pytest.approx(1.0, abs=1e-5)
    _, scaled = _shape("running_std", rm)
    assert scaled.tolist() == pytest.approx((rm / rm.std()).tolist())
    _, clipped = _shape("none", rm, clip=1.5)
    assert clipped.tolist() == [1.0, 1.5, -1.5]


def test_rm_norm_leaves_the_task_term_and_penalty_in_its_units():
    rm, task = torch.tensor([1.0, 3.0]), torch.tensor([0.5, 1.0])
    raw, scaled = _shape("rm_norm", rm, task, has_eos=torch.tensor([True, False]), penalty=1.0,
                         stats={"mean": 1.0, "std": 2.0})
    assert raw.tolist() == pytest.approx([1.0 + 2 * 0.5, 3.0 + 2 * 1.0])  # weighted, unscaled, no penalty
    assert scaled.tolist() == pytest.approx([0.0 + 1.0, 1.0 + 2.0 - 1.0])


def test_missing_eos_penalty_applies_to_cut_replies_only():
    rm = torch.tensor([0.5, 0.5])
    _, scaled = _shape("none", rm, has_eos=torch.tensor([True, False]), penalty=2.0)
    assert scaled.tolist() == [0.5, -1.5]


@needs_bundle
@pytest.mark.parametrize("source", ["sft", "preference"])
def test_prompt_source_switch(source, tiny_tokenizer):
    from training.ppo.prompts import load_prompts

    config = PPOConfig(reward_model="rm", prompt_source=source, prompt_mix={"gsm8k": 5, "self_instruct": 5},
                       rollout_batch_size=2, mini_batch_size=2, eval_prompts=2, max_seq_len=512)
    train, held_out, summary = load_prompts(config, tiny_tokenizer)
    assert len(held_out) == 2 and not {p.id for p in train} & {p.id for p in held_out}
    for prompt in train + held_out:
        assert prompt.messages[-1]["role"] == "user" and len(prompt.input_ids) <= 512 - 64
        assert tiny_tokenizer.decode(prompt.input_ids).endswith("<|im_start|>assistant\n")
    if source == "sft":
        assert set(summary["train_by_source"]) <= {"gsm8k", "self_instruct"} and len(train) + len(held_out) == 10
    else:
        assert set(summary["train_by_source"]) == {"dpo_en_demo"} and len(train) > 100


@needs_bundle
def test_table_prompts_carry_the_table_of_their_meaning_representation():
    from tasks.text_to_table.reward import table_reward
    from tasks.text_to_table.table import Table
    from training.ppo.prompts import draw_prompts

    prompts = draw_prompts(PPOConfig(reward_model="rm", prompt_mix={"e2e_text_to_table": 3, "gsm8k": 2}))
    tables = [p for p in prompts if p.source == "e2e_text_to_table"]
    assert len(tables) == 3 and all(isinstance(p.gold, Table) for p in tables)
    assert all(p.gold is None for p in prompts if p.source == "gsm8k")
    assert all(table_reward(p.reference, p.gold) == 1.0 for p in tables)  # the SFT target scores 1


def test_compact_ad_prompts_carry_their_ad_and_the_sft_target_earns_the_reward():
    from training.ppo.prompts import draw_prompts
    from training.ppo.task_rewards import ad_compliance_compact_reward

    prompts = draw_prompts(PPOConfig(reward_model="rm", prompt_mix={"ad_compliance_compact": 60}))
    assert len(prompts) == 60 and all(p.gold is not None and p.gold.id == p.id for p in prompts)
    revised = [p for p in prompts if p.id.endswith("-revised")]
    assert revised and all(p.gold.labels == [] for p in revised)  # a gold revision, shown as compliant
    scores = [ad_compliance_compact_reward(p, p.reference, True) for p in prompts]
    assert all(score == 1.0 for p, score in zip(prompts, scores) if not p.gold.labels)
    flagged = [score for p, score in zip(prompts, scores) if p.gold.labels and p.gold.revision is not None]
    assert flagged and sum(flagged) / len(flagged) > 0.8  # the gold findings and fixes: F1 1, revisions pass


def test_task_rewards_are_keyed_by_prompt_source():
    from tasks.ad_compliance.data import generate_dataset
    from tasks.ad_compliance.targets import judgement_target
    from tasks.text_to_table.table import Table
    from training.ppo.prompts import Prompt
    from training.ppo.rewards import task_scores
    from training.ppo.task_rewards import TASK_REWARDS, ad_compliance_reward, gsm8k_answer_reward

    records = generate_dataset(seed=0, sizes={"train": 30})
    flagged = next(r for r in records if r.labels)
    ad = Prompt((), "ad_compliance", flagged.id, (1,), gold=flagged)
    assert ad_compliance_reward(ad, judgement_target(flagged), True) == 1.0
    assert ad_compliance_reward(ad, judgement_target(flagged)[:-5], False) == 0.0  # cut off
    assert ad_compliance_reward(Prompt((), "ad_compliance", "x", (1,)), "anything", True) is None  # no gold
    table = Prompt((), "e2e_text_to_table", "e", (1,), gold=Table(columns=["name", "area"], rows=[["Blue Spice", "city centre"]]))
    gsm8k = Prompt((), "gsm8k", "g", (1,), reference="3 + 4 = 7\n#### 7")
    chat = Prompt((), "self_instruct", "s", (1,), reference="anything")
    reply = '{"columns": ["name", "area", "food"], "rows": [["Blue Spice", "riverside", "French"]]}'  # P 1/3 R 1/2
    scores = task_scores([ad, table, gsm8k, chat], [judgement_target(flagged), reply, "so #### 7", "x"],
                         [True] * 4, {"ad_compliance", "e2e_text_to_table", "gsm8k"})
    assert scores[:3].tolist() == pytest.approx([1.0, 0.4, 1.0]) and math.isnan(scores[3])
    # a source without a weight gets no task reward, even when it has one registered
    assert task_scores([gsm8k], ["#### 7"], [True], {"ad_compliance"}).isnan().all()
    assert set(TASK_REWARDS) == {"ad_compliance", "ad_compliance_compact", "e2e_text_to_table", "gsm8k"}
    # GSM8K: the strict answer after ####, else the last number; commas ignored; no reference answer: None
    assert gsm8k_answer_reward("The answer is 8.", "#### 7") == 0.0
    assert gsm8k_answer_reward("It costs 1,000 dollars", "#### 1000") == 1.0
    assert gsm8k_answer_reward("#### 7", "seven") is None


def test_ad_verdict_floor_reaches_the_ad_reward_and_defaults_to_the_tasks_floor():
    from tasks.ad_compliance.data import LabelledAd
    from tasks.ad_compliance.datatypes import Ad
    from tasks.ad_compliance.reward import VERDICT_FLOOR
    from training.ppo.prompts import Prompt
    from training.ppo.rewards import task_scores
    from training.ppo.task_rewards import TASK_REWARDS, configured_task_rewards

    assert PPOConfig.model_fields["ad_verdict_floor"].default == VERDICT_FLOOR
    ad = LabelledAd(id="x", ad=Ad(body="Cures arthritis in 3 days! Only $9."), labels=["health_claims"], split="train")
    prompt = Prompt((), "ad_compliance_compact", "x", (1,), gold=ad)
    # flags the violating ad (a grounded quote) under the wrong policy: verdict right, judgement F1 0
    wrong_policy = json.dumps({"violations": [{"policy_id": "misleading_pricing", "quote": "Cures arthritis", "fix": ""}]})
    verdict_only = configured_task_rewards(1.0)["ad_compliance_compact"]
    assert verdict_only(prompt, wrong_policy, True) == 1.0
    assert configured_task_rewards(VERDICT_FLOOR)["ad_compliance_compact"](prompt, wrong_policy, True) \
        == TASK_REWARDS["ad_compliance_compact"](prompt, wrong_policy, True) < 1.0
    assert task_scores([prompt], [wrong_policy], [True], {"ad_compliance_compact"},
                       configured_task_rewards(1.0)).tolist() == [1.0]
    # ad_reward findings: the flag's quality (the wrong policy: F1 0; the ad has no gold revision, so
    # none is due), and NaN (abstain) for "no violation"
    findings = configured_task_rewards(1.0, "findings")
    scores = task_scores([prompt, prompt], [wrong_policy, json.dumps({"violations": []})], [True, True],
                         {"ad_compliance_compact"}, findings)
    assert scores[0].item() == 0.0 and math.isnan(scores[1])


def test_rewards_are_weighted_per_source_and_every_component_is_logged():
    from training.ppo.rewards import build_scalers, component_means, shape_scores, source_weights

    sources = ["self_instruct", "gsm8k", "e2e_text_to_table"]
    rm_w, task_w = source_weights(sources, 1.0, {"gsm8k": 0.0}, {"gsm8k": 2.0, "e2e_text_to_table": 1.0})
    assert rm_w.tolist() == [1.0, 0.0, 1.0] and task_w.tolist() == [0.0, 2.0, 1.0]
    rm, task = torch.tensor([1.0, 3.0, -1.0]), torch.tensor([math.nan, 0.5, 0.25])
    scaler, _ = build_scalers("none", None, None)
    raw, scaled = shape_scores(rm, task, torch.ones(3, dtype=torch.bool), reward_weight=rm_w, task_weight=task_w,
                               eos_penalty=1.0, scaler=scaler, rm_normalizer=None)
    # self_instruct: 1 * 1; gsm8k: 0 * 3 + 2 * 0.5; table: 1 * -1 + 1 * 0.25
    assert raw.tolist() == pytest.approx([1.0, 1.0, -0.75]) and torch.equal(raw, scaled)
    means = component_means(rm, task, sources)
    assert means == pytest.approx({"reward_model_score": 1.0, "task_score": 0.375, "task_score_gsm8k": 0.5,
                                   "task_score_e2e_text_to_table": 0.25})
    assert component_means(None, torch.tensor([math.nan]), ["self_instruct"]) == {}


# --- rollout layout and forward passes ------------------------------------------------------------


def _sample(prompt_ids, response_ids):
    from training.ppo.prompts import Prompt
    from training.ppo.rollout import RolloutSample

    return RolloutSample(Prompt((), "t", "t", tuple(prompt_ids)), list(response_ids), True)


def test_recomputed_logprobs_and_values_line_up_with_each_reply(tiny_model):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    from training.ppo.policy import policy_forward, token_values
    from training.ppo.rollout import collate

    actor = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    torch.manual_seed(0)
    critic = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1).eval()
    samples = [_sample([5, 6, 7, 8, 9], [10, 11]), _sample([5, 6], [12, 13, 14, 2])]
    batch = collate(samples, pad_id=2, device="cpu")
    # width 7, first reply token at position 2 (row 1): the grid covers actions at positions 2..6
    assert batch.start == 1 and batch.mask.tolist() == [[False, False, False, True, True],
                                                         [True, True, True, True, False]]
    with torch.no_grad():
        logprobs, logits = policy_forward(actor, batch, temperature=2.0)
        values = token_values(critic, batch)
        for row, sample in enumerate(samples):
            ids = torch.tensor([sample.prompt_ids + sample.response_ids])
            full = torch.log_softmax(actor(ids).logits[0].float() / 2.0, dim=-1)
            n = len(sample.prompt_ids)
            expected = [full[n - 1 + i, token].item() for i, token in enumerate(sample.response_ids)]
            assert batch.gather(logprobs)[row].tolist() == pytest.approx(expected, abs=1e-5)
            hidden = critic.model(ids).last_hidden_state[0]
            expected_values = critic.score(hidden[n - 1 : n - 1 + len(sample.response_ids)]).squeeze(-1)
            assert batch.gather(values)[row].tolist() == pytest.approx(expected_values.tolist(), abs=1e-5)
    # scatter is the inverse of gather
    rows = [torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0, 5.0, 6.0])]
    assert [r.tolist() for r in batch.gather(batch.scatter(rows))] == [r.tolist() for r in rows]


class _ScriptedModel:
    """Stands in for a causal LM: generate returns the prompt followed by fixed tokens."""

    training = False

    def __init__(self, continuations):
        self.continuations = continuations

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def generate(self, input_ids, attention_mask, generation_config, logits_processor):
        from types import SimpleNamespace

        from training.ppo.rollout import PerPromptSampler

        # left padding; sampling only through the per-prompt sampler (no top-k or other warpers of generate's own)
        assert attention_mask[0, 0] == 0 and not generation_config.do_sample
        assert [type(p) for p in logits_processor] == [PerPromptSampler]
        assert generation_config.output_logits and generation_config.return_dict_in_generate
        replies = torch.tensor(self.continuations)
        uniform = tuple(torch.zeros(len(replies), 16) for _ in range(replies.shape[1]))  # a 16-token vocabulary
        return SimpleNamespace(sequences=torch.cat([input_ids, replies], dim=1), logits=uniform)


def test_hf_rollout_cuts_replies_at_the_first_eos():
    from training.ppo.rollout import HFRollout

    rollout = HFRollout(_ScriptedModel([[7, 2, 2, 2], [7, 8, 9, 10]]), eos_token_id=2, pad_token_id=2, device="cpu")
    generations = rollout.generate([[1, 2], [1, 2, 3]], max_new_tokens=4, temperature=1.0, top_p=1.0, seeds=[0, 1])
    assert [(g.response_ids, g.finished) for g in generations] == [([7, 2], True), ([7, 8, 9, 10], False)]
    # each kept token's log-probability and entropy, none for the padding after EOS
    assert [g.logprobs.tolist() for g in generations] == [pytest.approx([-math.log(16)] * n) for n in (2, 4)]
    assert [g.entropy.tolist() for g in generations] == [pytest.approx([math.log(16)] * n) for n in (2, 4)]


def test_hf_rollout_logprobs_are_the_training_models_own(tiny_model):
    """Phase 4 skips the actor's forward pass for HFRollout's replies: the log-probabilities and
    entropies generate's logits give must be what the training model's forward pass computes."""
    from transformers import AutoModelForCausalLM

    from training.ppo.math import entropy_from_logits
    from training.ppo.policy import policy_forward
    from training.ppo.rollout import HFRollout, RolloutSample, collate

    actor = AutoModelForCausalLM.from_pretrained(tiny_model)
    prompts = [[1, 30, 40, 50, 60, 70], [1, 60]]  # left padding in generate, right padding in phase 4
    generations = HFRollout(actor, 2, 2, "cpu").generate(prompts, max_new_tokens=8, temperature=0.7, top_p=0.9,
                                                         seeds=[3, 4])
    samples = [RolloutSample(_sample(p, []).prompt, g.response_ids, g.finished) for p, g in zip(prompts, generations)]
    batch = collate(samples, pad_id=2, device="cpu")
    with torch.no_grad():
        logprobs, logits = policy_forward(actor.eval(), batch, temperature=0.7)
    for row, generation in enumerate(generations):
        assert generation.logprobs.tolist() == pytest.approx(batch.gather(logprobs)[row].tolist(), abs=1e-4)
    entropy = sum(float(g.entropy.sum()) for g in generations) / int(batch.mask.sum())
    assert entropy == pytest.approx(entropy_from_logits(logits, batch.mask).item(), abs=1e-4)


def test_hf_rollout_reply_is_a_function_of_its_prompt_and_seed(tiny_model):
    from transformers import AutoModelForCausalLM

    from training.ppo.rollout import HFRollout

    rollout = HFRollout(AutoModelForCausalLM.from_pretrained(tiny_model), 2, 2, "cpu")
    prompts = [[1, 30, 40, 50], [1, 60]]

    def sample(seeds, batch=prompts):
        return [g.response_ids for g in rollout.generate(batch, max_new_tokens=6, temperature=1.0, top_p=0.9, seeds=seeds)]

    assert sample([3, 5]) == sample([3, 5]) and sample([3, 5])[0] != sample([4, 5])[0]
    # a reply depends on its own prompt and seed, not on the batch it is sampled in (data-parallel PPO
    # samples a prompt on whichever rank holds it)
    assert sample([4, 5])[1] == sample([3, 5])[1] == sample([5], batch=prompts[1:])[0]


def test_the_parts_of_a_task_reward_are_logged_per_source():
    from tasks.ad_compliance.data import generate_dataset
    from tasks.ad_compliance.reward import compact_reward_parts
    from training.ppo.prompts import Prompt
    from training.ppo.rewards import part_means

    records = generate_dataset(seed=0, sizes={"train": 40})
    fixable = next(r for r in records if r.labels and r.revision is not None and r.findings)
    clean = next(r for r in records if not r.labels)
    quote = fixable.findings[0].quote
    reply = json.dumps({"violations": [{"policy_id": fixable.labels[0], "quote": quote, "fix": ""}]})
    prompts = [Prompt((), "ad_compliance_compact", fixable.id, (1,), gold=fixable),
               Prompt((), "ad_compliance_compact", clean.id, (1,), gold=clean),
               Prompt((), "gsm8k", "g", (1,), reference="#### 7")]
    texts = [reply, '{"violations":[]}', "#### 7"]
    parts = compact_reward_parts(reply, fixable, True)
    means = part_means(prompts, texts, [True] * 3, {"ad_compliance_compact", "gsm8k"})
    # verdict and judgement over both ads (the compliant one judged compliant: 1), the revision over the one
    # that needs it
    assert parts["verdict"] == 1.0
    assert means == pytest.approx({"task_part_ad_compliance_compact_verdict": 1.0,
                                   "task_part_ad_compliance_compact_judgement": (parts["judgement"] + 1.0) / 2,
                                   "task_part_ad_compliance_compact_revision": parts["revision"]})
    assert part_means(prompts, texts, [True] * 3, {"gsm8k"}) == {}  # a source without a weight logs nothing
