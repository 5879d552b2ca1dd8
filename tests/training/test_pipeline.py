"""The whole tiny pipeline with real components: SFT -> sample (vLLM) -> rank (task scorer) ->
reward model on those pairs -> PPO, and the SFT and PPO checkpoints answering chat requests
through `icegrt serve`.

The tiny model's replies are random text, so no fixed GSM8K answer would ever separate them: each
prompt's reference answer is taken from one of its own sampled replies (the last number in it),
so the scorer finds right and wrong replies among the rest. Everything else is as a user runs it.
"""

from __future__ import annotations

import json

import httpx
import pytest
import torch

from cli.main import main
from tests.conftest import start_server, stop_server
from tests.training.conftest import needs_bundle, reward_settings, sft_settings

pytestmark = [needs_bundle, pytest.mark.slow]  # two vLLM engine starts (sample, serve x2)


@pytest.fixture(scope="module")
def chain(tmp_path_factory, tiny_model):
    from training.config import RewardConfig, SFTConfig
    from training.evaluate.general.metrics import INVALID, flexible_answer
    from training.ppo.config import PPOConfig
    from training.ppo.trainer import run_ppo
    from training.reward import run_reward
    from training.sft import run_sft

    torch.set_num_threads(1)
    work = tmp_path_factory.mktemp("pipeline")
    runs = work / "runs"
    sft = run_sft(SFTConfig(name="sft", model="tiny", **sft_settings(runs, mix={"gsm8k": 16}, learning_rate=3e-3)))
    samples = work / "samples.jsonl"
    assert main(["sample", "--model", sft["checkpoint"], "--output", str(samples), "--prompt-mix", "gsm8k=96",
                 "--k", "4", "--max-tokens", "32", "--max-model-len", "512", "--seed", "3", "--no-progress"]) == 0
    records = [json.loads(line) for line in samples.read_text().splitlines()]
    with_numbers = []
    for record in records:
        answers = [flexible_answer(r["text"]) for r in record["responses"]]
        numbered = [a for a in answers if a != INVALID]
        if numbered and len(set(answers)) > 1:  # a reference some replies match and some do not
            with_numbers.append({**record, "reference": f"#### {numbered[0]}"})
    ranked_input = work / "samples_with_references.jsonl"
    ranked_input.write_text("".join(json.dumps(r) + "\n" for r in with_numbers))
    pairs = work / "pairs.jsonl"
    assert main(["rank", "--by", "scorer", "--input", str(ranked_input), "--output", str(pairs)]) == 0
    reward = run_reward(RewardConfig(name="reward", model=sft["checkpoint"], **reward_settings(
        runs, pairs=[str(pairs)], max_train_pairs=None, max_eval_pairs=None, learning_rate=1e-3)))
    ppo = run_ppo(PPOConfig(
        name="ppo", runs_dir=str(runs), model=sft["checkpoint"], reward_model=reward["checkpoint"], progress=False,
        threads=1, prompt_mix={"gsm8k": 8}, max_seq_len=192, max_new_tokens=8, rollout_batch_size=4,
        mini_batch_size=2, batch_size=2, ppo_epochs=1, max_steps=2, save_every=2, learning_rate=1e-3,
        critic_learning_rate=1e-3, lr_schedule="constant"))
    return {"work": work, "sft": sft, "records": records, "ranked": with_numbers, "pairs": pairs, "reward": reward,
            "ppo": ppo}


def test_sample_writes_k_replies_per_prompt_with_stable_ids(chain):
    records = chain["records"]
    assert len(records) == 96 and len({r["prompt_id"] for r in records}) == 96
    for record in records:
        assert record["task"] == "gsm8k" and record["prompt"][-1]["role"] == "user"
        assert [r["response_id"] for r in record["responses"]] == [f"{record['prompt_id']}#{i}" for i in range(4)]
        assert all(0 < r["num_tokens"] <= 32 and r["finish_reason"] in {"stop", "length"} for r in record["responses"])
        assert record["sampling"]["n"] == 4 and record["sampling"]["temperature"] == 1.0
    assert sum(len({r["text"] for r in rec["responses"]}) for rec in records) > 96 * 2  # diverse replies


def test_rank_pairs_follow_the_scores_and_train_the_reward_model(chain):
    pairs = [json.loads(line) for line in chain["pairs"].read_text().splitlines()]
    assert len(chain["ranked"]) >= 5 and len(pairs) >= 10
    for pair in pairs:
        assert pair["chosen_score"] == 1.0 and pair["rejected_score"] == 0.0
        assert pair["chosen_id"].split("#")[0] == pair["rejected_id"].split("#")[0] == pair["prompt_id"]
    reward = chain["reward"]
    assert reward["data"]["train_pairs"] + reward["data"]["eval_pairs"] == len(pairs)
    metrics = [json.loads(line) for line in (chain["work"] / "runs" / "reward" / "metrics.jsonl").read_text().splitlines()]
    losses = [m["loss"] for m in metrics if "loss" in m and "eval_loss" not in m]
    assert losses and losses[0] != losses[-1]  # the loss moved
    assert chain["ppo"]["step"] == 2


def test_sft_and_ppo_checkpoints_answer_chat_requests_through_the_server(chain, tmp_path):
    for stage in ("sft", "ppo"):
        checkpoint = chain[stage]["checkpoint"]
        server = start_server(tmp_path / f"{stage}.log", "--model", checkpoint, api_key=None)
        try:
            models = httpx.get(f"{server.base_url}/v1/models", timeout=30).json()["data"]
            reply = httpx.post(f"{server.base_url}/v1/chat/completions", timeout=120, json={
                "model": models[0]["id"], "messages": [{"role": "user", "content": "What is 2 + 2?"}], "max_tokens": 8})
            assert reply.status_code == 200, reply.text
            body = reply.json()
            assert body["choices"][0]["message"]["role"] == "assistant" and body["usage"]["completion_tokens"] > 0
        finally:
            stop_server(server)
