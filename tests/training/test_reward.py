"""ICE-Reward on the tiny model: Bradley-Terry loss, last-token scores, checkpoint with reward stats."""

from __future__ import annotations

import json
import math

import pytest

from tests.training.conftest import needs_bundle, reward_settings
from training.config import ConfigError, RewardConfig


def _config(tmp_path, name: str, **changes) -> RewardConfig:
    return RewardConfig(name=name, model="tiny", **reward_settings(tmp_path, **{"learning_rate": 2e-3, **changes}))


def test_bradley_terry_loss_by_hand():
    import torch

    from training.reward import bradley_terry_loss

    loss = bradley_terry_loss(torch.tensor([0.0, 2.0, -1.0]), torch.tensor([0.0, 0.0, 1.0]))
    # -log sigmoid(0) = log 2; -log sigmoid(2) = log(1 + e^-2); -log sigmoid(-2) = log(1 + e^2)
    expected = [math.log(2), math.log1p(math.exp(-2)), math.log1p(math.exp(2))]
    assert loss.tolist() == pytest.approx(expected, abs=1e-6)


def test_score_is_read_at_the_last_real_token_whatever_the_padding(tiny_model):
    import torch
    from transformers import AutoModelForSequenceClassification

    from training.data.chat import pad_batch
    from training.reward import reward_scores

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1).eval()
    # the sequences end with token 2, which is also the pad token: ids cannot tell padding apart
    short, long = [1, 30, 40, 2], [1, 50, 60, 70, 80, 90, 2]
    with torch.no_grad():
        alone = reward_scores(model, torch.tensor([short]), torch.ones(1, 4, dtype=torch.long))
        batch = pad_batch([short, long], pad_id=2)
        padded = reward_scores(model, batch["input_ids"], batch["attention_mask"])
        left_ids = torch.tensor([[2, 2, 2, *short], long])
        left_mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [1] * 7])
        left = reward_scores(model, left_ids, left_mask)
        hidden = model.model(input_ids=torch.tensor([short])).last_hidden_state[0, -1]
        by_hand = model.score(hidden).item()
    assert padded[0].item() == pytest.approx(alone.item(), abs=1e-5)
    assert left[0].item() == pytest.approx(alone.item(), abs=1e-5)  # left padding: same positions
    assert left[1].item() == pytest.approx(padded[1].item(), abs=1e-5)
    assert alone.item() == pytest.approx(by_hand, abs=1e-5)


def test_accuracy_by_source_by_hand():
    import torch

    from training.reward import accuracy_by_source

    correct = torch.tensor([True, False, True, True, False])
    sources = ["dpo_en_demo", "dpo_en_demo", "runs/rm/pairs.jsonl", "runs/rm/pairs.jsonl", "runs/rm/pairs.jsonl"]
    assert accuracy_by_source(correct, sources) == pytest.approx({"accuracy_dpo_en_demo": 0.5, "accuracy_pairs": 2 / 3})
    assert accuracy_by_source(correct, ["dpo_en_demo"] * 5) == {}  # one source: the pooled accuracy says it all
    with pytest.raises(ValueError, match="4 sources for 5"):
        accuracy_by_source(correct, sources[:4])


def test_evaluation_reports_accuracy_per_source_from_its_heldout_scores(tmp_path, tiny_model):
    import torch
    from transformers import AutoModelForSequenceClassification

    from training.models import load_tokenizer
    from training.reward import RewardStage

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1)
    model.config.pad_token_id = 0
    pairs = [([1, 20 + i, 2], [1, 40 + 3 * i, 50, 2]) for i in range(6)]
    info = [{"source": source, "prompt_id": f"p{i // 2}"} for i, source in enumerate(["dpo_en_demo"] * 2 + ["x/ranked.jsonl"] * 4)]
    stage = RewardStage(_config(tmp_path, "rm-eval"), pairs, pairs, load_tokenizer(tiny_model), "cpu", tiny_model, eval_info=info)
    evaluation = stage.evaluate(model)
    heldout = evaluation.extras["heldout"]
    assert [{k: r[k] for k in ("source", "prompt_id")} for r in heldout] == info
    right = [r["chosen"] > r["rejected"] for r in heldout]
    assert evaluation.metrics["accuracy_dpo_en_demo"] == pytest.approx(sum(right[:2]) / 2)
    assert evaluation.metrics["accuracy_ranked"] == pytest.approx(sum(right[2:]) / 4)
    assert evaluation.metrics["accuracy"] == pytest.approx(sum(right) / 6)


@needs_bundle
def test_reward_model_learns_and_saves_its_statistics(tmp_path, tiny_model):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from training.ppo.reward_scaling import RewardScaler
    from training.reward import RewardStage, read_reward_stats, reward_scores, run_reward

    config = _config(tmp_path, "rm")
    result = run_reward(config)
    run = config.run_dir()
    assert result["step"] == 4
    # the loss moved: every step sees the same 4 pairs, so the training loss must fall
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 4 and losses[-1] < losses[0] - 0.05
    assert {"eval_loss", "eval_accuracy", "eval_reward_mean", "eval_reward_std"} <= set(records[-1])
    # a reward-model checkpoint whose parameters differ from the base, with tokenizer and template
    model = AutoModelForSequenceClassification.from_pretrained(run / "checkpoint").eval()
    assert type(model).__name__ == "LlamaForSequenceClassification" and model.config.num_labels == 1
    assert AutoTokenizer.from_pretrained(run / "checkpoint").chat_template
    base = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1)
    assert not torch.equal(base.model.layers[0].self_attn.q_proj.weight, model.model.layers[0].self_attn.q_proj.weight)
    # reward_stats.json: mean and std of the held-out replies' scores, recomputed here
    stats = read_reward_stats(run / "checkpoint")
    from training.models import load_tokenizer
    from training.reward import prepare_pairs

    eval_pairs = prepare_pairs(config, load_tokenizer(tiny_model)).eval
    stage = RewardStage(config, eval_pairs, eval_pairs, load_tokenizer(tiny_model), "cpu", tiny_model)
    with torch.no_grad():
        chosen, rejected = stage._scores(model, stage._batch(eval_pairs))
    scores = torch.cat([chosen, rejected]).double()
    assert stats["count"] == 8 and stats["step"] == 4
    heldout = [json.loads(line) for line in (run / "checkpoint" / "heldout_scores.jsonl").read_text().splitlines()]
    assert [r["chosen"] for r in heldout] == pytest.approx(chosen.tolist(), abs=1e-4)
    assert [r["rejected"] for r in heldout] == pytest.approx(rejected.tolist(), abs=1e-4)
    assert {r["source"] for r in heldout} == set(config.pairs) and all(len(r["prompt_id"]) == 16 for r in heldout)
    assert stats["mean"] == pytest.approx(scores.mean().item(), abs=1e-4)
    assert stats["std"] == pytest.approx(scores.std().item(), abs=1e-4)
    scaler = RewardScaler(mode="rm_norm", rm_mean=stats["mean"], rm_std=stats["std"])
    assert scaler.scale(scores.float()).mean().item() == pytest.approx(0.0, abs=1e-4)
    # a reward checkpoint is the wrong kind to start SFT from
    from training.config import SFTConfig
    from training.sft import run_sft

    with pytest.raises(ConfigError, match="reward checkpoint, and sft needs causal_lm"):
        run_sft(SFTConfig(name="wrong", model=str(run / "checkpoint"), runs_dir=tmp_path))
    assert not (tmp_path / "wrong").exists()


@needs_bundle
def test_reward_resume_and_missing_pair_file(tmp_path):
    from training.reward import run_reward

    config = _config(tmp_path, "rm-resume", max_steps=3, eval_every=0)
    assert run_reward(config, stop_after=2)["step"] == 2
    resumed = run_reward(config)
    assert resumed["resumed"] and resumed["step"] == 3
    records = [json.loads(line) for line in (config.run_dir() / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3]
    with pytest.raises(ConfigError, match="pairs.jsonl does not exist"):
        run_reward(_config(tmp_path, "nofile", pairs=[str(tmp_path / "pairs.jsonl")]))


def test_read_reward_stats_refuses_a_causal_lm(tiny_model):
    from training.reward import read_reward_stats

    with pytest.raises(ConfigError, match="not a reward model checkpoint"):
        read_reward_stats(tiny_model)
