"""Data-parallel training: ``torchrun --nproc_per_node 2`` (gloo, CPU) takes the step one process takes.

Each test runs the same stage twice on the tiny model, one process and two torchrun processes,
on the same global batch, and compares the checkpoints. The loss and gradient norm of the step
must agree to float rounding. The parameters must agree to a small fraction of one update: AdamW's
first step moves each weight by about ``lr * g / |g|``, which turns float summation-order noise in
a gradient entry near zero (two ranks add the gradient in another order) into a visible
difference, so a handful of the 6.6M weights differ by a few percent of the update and all the
others by less than 1e-6.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.training.conftest import CONFIGS

pytestmark = pytest.mark.slow  # three Python processes importing torch and transformers: ~20-40 s
REPO = Path(__file__).resolve().parents[2]


def _command(stage: str, nproc: int, runs_dir: Path, name: str, *extra: str) -> list[str]:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] if nproc > 1 else [sys.executable]
    return [*launcher, "-m", "cli.main", "train", stage, "--config", str(CONFIGS / f"{stage}_tiny.yaml"),
            "--runs-dir", str(runs_dir), "--name", name, "--threads", "1", "--no-progress", *extra]


def _run_both(stage: str, runs_dir: Path, *extra: str, steps: int = 1, fsdp: bool = False) -> tuple[dict, dict]:
    """One-process and two-process runs (`steps` steps; `fsdp`: the two processes shard the model), side by side;
    their printed summaries."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    flags = {1: extra, 2: (*extra, "--fsdp") if fsdp else extra}
    processes = {nproc: subprocess.Popen(_command(stage, nproc, runs_dir, f"p{nproc}", "--max-steps", str(steps), *flags[nproc]),
                                         cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for nproc in (1, 2)}
    summaries = {}
    for nproc, process in processes.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, f"{nproc} process(es) failed:\n{err[-4000:]}"
        summaries[nproc] = json.loads(out)  # one summary: rank 1 prints nothing
    return summaries[1], summaries[2]


def _weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(run / "checkpoint" / "model.safetensors")


def _step_record(run: Path) -> dict:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if r.get("step") == 1 and "loss" in r]
    assert len(steps) == 1, records  # logged once, by rank 0
    return steps[0]


def _assert_same_step(runs_dir: Path, base_weights: dict, lr: float, grad_norm_rel: float = 1e-5) -> None:
    import torch

    one, two = _weights(runs_dir / "p1"), _weights(runs_dir / "p2")
    assert one.keys() == two.keys()
    first, second = _step_record(runs_dir / "p1"), _step_record(runs_dir / "p2")
    assert second["loss"] == pytest.approx(first["loss"], rel=1e-6)
    assert second["grad_norm"] == pytest.approx(first["grad_norm"], rel=grad_norm_rel)
    differences = torch.cat([(one[k] - two[k]).abs().flatten() for k in one])
    assert differences.max().item() <= 0.1 * lr
    assert (differences > 1e-6).float().mean().item() < 1e-5
    moved = [k for k in one if k in base_weights and not torch.equal(one[k], base_weights[k])]
    assert len(moved) >= len(base_weights) // 2  # the step changed the weights
    assert (runs_dir / "p2" / "plots" / "loss.png").is_file()


@pytest.fixture(scope="module")
def base_weights(tiny_model):
    from safetensors.torch import load_file

    return load_file(next(Path(tiny_model).glob("*.safetensors")))


def test_sft_step_on_two_processes_equals_one_process(tmp_path, base_weights):
    one, two = _run_both("sft", tmp_path)
    assert one["eval"] == pytest.approx(two["eval"], rel=1e-6)
    _assert_same_step(tmp_path, base_weights, lr=3e-3)

    # resume under torchrun, as after a kill past step 1 of a 2-step run: rank 0 reopens the run,
    # every rank loads its checkpoint
    config_file = tmp_path / "p2" / "config.yaml"
    settings = yaml.safe_load(config_file.read_text())
    config_file.write_text(yaml.safe_dump({**settings, "max_steps": 2}, sort_keys=False))
    resumed = subprocess.run(_command("sft", 2, tmp_path, "p2", "--max-steps", "2"), cwd=REPO, capture_output=True,
                             text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    summary = json.loads(resumed.stdout)
    assert (summary["step"], summary["resumed"]) == (2, True)
    steps = [json.loads(line)["step"] for line in (tmp_path / "p2" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 1, 2, 2]  # a train and an eval record per step, none twice


def test_reward_step_on_two_processes_equals_one_process(tmp_path, base_weights):
    one, two = _run_both("reward", tmp_path)
    assert one["eval"]["accuracy"] == two["eval"]["accuracy"]
    _assert_same_step(tmp_path, base_weights, lr=1e-3)


# FSDP's clip_grad_norm_ sums the squares of 6.6M float32 gradient entries shard by shard: measured 2.5e-5 and
# 8e-5 relative off the one-process norm at steps 1 and 2, while the float64 norms of the same gradients agree to
# 2e-9 (the gradients are the same; only the float32 norm's summation order differs)
FSDP_GRAD_NORM_REL = 3e-4


def test_sft_steps_with_fsdp_on_two_processes_equal_one_process_and_resume(tmp_path, base_weights):
    """fsdp: true shards the model (FSDP2 over gloo); the checkpoint is the same full Hugging Face checkpoint."""
    one, two = _run_both("sft", tmp_path, fsdp=True)
    assert one["eval"] == pytest.approx(two["eval"], rel=1e-6)
    _assert_same_step(tmp_path, base_weights, lr=3e-3, grad_norm_rel=FSDP_GRAD_NORM_REL)
    files = [sorted(p.name for p in (tmp_path / name / "checkpoint").iterdir()) for name in ("p1", "p2")]
    assert files[0] == files[1]

    # resume both, as after a kill past step 1 of a 2-step run (the sharded optimizer state restored from the
    # full one rank 0 saved)
    for name in ("p1", "p2"):
        config_file = tmp_path / name / "config.yaml"
        config_file.write_text(yaml.safe_dump({**yaml.safe_load(config_file.read_text()), "max_steps": 2}, sort_keys=False))
    one, two = _run_both("sft", tmp_path, steps=2, fsdp=True)
    assert (two["step"], two["resumed"]) == (2, True)
    assert one["eval"] == pytest.approx(two["eval"], rel=1e-6)
    records = [[json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()] for name in ("p1", "p2")]
    assert [r["step"] for r in records[1]] == [1, 1, 2, 2]
    assert records[1][2]["loss"] == pytest.approx(records[0][2]["loss"], rel=1e-6)
    assert records[1][2]["grad_norm"] == pytest.approx(records[0][2]["grad_norm"], rel=FSDP_GRAD_NORM_REL)


def test_reward_step_with_fsdp_on_two_processes_equals_one_process(tmp_path, base_weights):
    one, two = _run_both("reward", tmp_path, fsdp=True)
    assert one["eval"]["accuracy"] == two["eval"]["accuracy"]
    _assert_same_step(tmp_path, base_weights, lr=1e-3, grad_norm_rel=FSDP_GRAD_NORM_REL)
    assert (tmp_path / "p2" / "checkpoint" / "reward_stats.json").is_file()


def test_fsdp_without_torchrun_is_refused_before_any_work(tmp_path, monkeypatch):
    from training.config import ConfigError, SFTConfig, load_config
    from training.sft import run_sft

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    config = load_config(SFTConfig, CONFIGS / "sft_tiny.yaml", {"runs_dir": tmp_path, "progress": False, "fsdp": True})
    with pytest.raises(ConfigError, match="fsdp: true shards the model across torchrun processes"):
        run_sft(config)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("stage", "changes", "message"), [
    ("sft", {"fsdp": True, "lora": True}, "fsdp and lora together are not supported"),
    ("ppo", {"fsdp": True, "model": "tiny", "reward_model": "rm"}, "fsdp is not implemented for PPO"),
])
def test_fsdp_settings_that_cannot_work_are_refused_by_the_schema(stage, changes, message):
    from training.config import ConfigError, SFTConfig, load_config
    from training.ppo.config import PPOConfig

    with pytest.raises(ConfigError, match=message):
        load_config({"sft": SFTConfig, "ppo": PPOConfig}[stage], CONFIGS / f"{stage}_tiny.yaml", changes)


def test_without_fsdp_models_are_replicated_and_saved_as_they_are():
    import torch

    from training.distributed import Distributed

    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    replicated = Distributed(0, 2)  # under torchrun, fsdp false
    assert replicated.shard_model(model) is model and replicated.model_state(model) is None
    assert replicated.optimizer_state(model, optimizer) == optimizer.state_dict()


def test_a_batch_that_does_not_split_across_the_processes_is_refused(monkeypatch):
    from training import distributed
    from training.config import ConfigError

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ConfigError, match="batch_size=3 must be a multiple of the 2 torchrun processes"):
        distributed.setup("cpu", {"batch_size": 3})


def test_shards_cover_a_batch_once_in_rank_order():
    from training.distributed import Distributed

    items = list(range(8))
    shards = [Distributed(rank, 4).shard(items) for rank in range(4)]
    assert shards == [[0, 1], [2, 3], [4, 5], [6, 7]]


def _ppo_extra(reward_model: Path) -> tuple[str, ...]:
    """configs/ppo_tiny.yaml from the tiny model, training the actor at step 1, with the scaling whose
    statistics are those of the whole batch (batch_whiten), adaptive KL and advantage whitening."""
    return ("--model", "tiny", "--reward-model", str(reward_model), "--critic-warmup-steps", "0",
            "--reward-scaling", "batch_whiten", "--kl-control", "adaptive", "--whiten-advantages")


def _assert_same_ppo_step(runs_dir: Path, one: dict, two: dict) -> None:
    """Same metrics, KL controller and actor and critic weights (AdamW noise bound as in _assert_same_step)."""
    import torch
    from safetensors.torch import load_file

    for key in ("reward", "reward_model_score", "kl", "entropy", "response_length", "eos_rate", "explained_variance",
                "loss", "policy_loss", "value_loss", "clip_fraction", "grad_norm_actor", "grad_norm_critic"):
        # KL: the actor's log-probabilities come from generate, whose float32 rounding depends on the batch a
        # reply was sampled in (4 prompts here, 2 per rank there): a KL of 0 (step 1) reads as a few 1e-6
        assert two["last"][key] == pytest.approx(one["last"][key], rel=1e-5, abs=1e-5 if key == "kl" else 1e-6), key
    assert two["eval"] == pytest.approx(one["eval"], rel=1e-5)
    states = [json.loads((runs_dir / name / "trainer_state" / "ppo_state.json").read_text()) for name in ("p1", "p2")]
    assert states[1]["kl_controller"]["value"] == pytest.approx(states[0]["kl_controller"]["value"], rel=1e-9)
    lr = 1e-4  # configs/ppo_tiny.yaml, actor and critic
    for weights_file in ("checkpoint/model.safetensors", "trainer_state/critic.safetensors"):
        first, second = (load_file(runs_dir / name / weights_file) for name in ("p1", "p2"))
        assert first.keys() == second.keys()
        differences = torch.cat([(first[k] - second[k]).abs().flatten() for k in first])
        assert differences.max().item() <= 0.1 * lr, weights_file  # measured: 1.2e-7 after 2 steps (8 AdamW steps)
        assert (differences > 1e-6).float().mean().item() < 1e-5, weights_file


def test_ppo_steps_on_two_processes_equal_one_process_and_resume(tmp_path, base_weights, tiny_reward_checkpoint):
    """Each rank samples its half of the prompts (prompt i seeded by its place in the global batch), so both
    runs see the same replies; scaling, whitening and KL statistics are the global batch's on every rank.
    Step 1 runs fresh; step 2 resumes both runs (its KL, unlike step 1's, is not 0)."""
    import torch
    from safetensors.torch import load_file

    one, two = _run_both("ppo", tmp_path, *_ppo_extra(tiny_reward_checkpoint))
    _assert_same_ppo_step(tmp_path, one, two)
    actor = load_file(tmp_path / "p2" / "checkpoint" / "model.safetensors")
    moved = [k for k in actor if k in base_weights and not torch.equal(actor[k], base_weights[k])]
    assert len(moved) >= len(base_weights) // 2  # the step changed the actor
    assert (tmp_path / "p2" / "plots" / "reward.png").is_file()

    # resume both, as after a kill past step 1 of a 2-step run: rank 0 reopens the run, every rank restores it
    for name in ("p1", "p2"):
        config_file = tmp_path / name / "config.yaml"
        config_file.write_text(yaml.safe_dump({**yaml.safe_load(config_file.read_text()), "max_steps": 2}, sort_keys=False))
    one, two = _run_both("ppo", tmp_path, *_ppo_extra(tiny_reward_checkpoint), steps=2)
    assert (two["step"], two["resumed"]) == (2, True)
    assert two["last"]["kl"] != 0.0
    _assert_same_ppo_step(tmp_path, one, two)
    steps = [json.loads(line)["step"] for line in (tmp_path / "p2" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [0, 1, 1, 2, 2]  # baseline eval, then a step and an eval record per step: logged once, by rank 0


def test_a_ppo_batch_that_does_not_split_across_the_processes_is_refused_before_any_work(
        monkeypatch, tmp_path, tiny_reward_checkpoint):
    from training.config import ConfigError, load_config
    from training.ppo.config import PPOConfig
    from training.ppo.trainer import run_ppo

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    config = load_config(PPOConfig, CONFIGS / "ppo_tiny.yaml", {
        "runs_dir": tmp_path, "progress": False, "model": "tiny", "reward_model": str(tiny_reward_checkpoint),
        "rollout_batch_size": 3, "mini_batch_size": 1})
    with pytest.raises(ConfigError, match="rollout_batch_size=3, mini_batch_size=1 must be a multiple of the 2 torchrun"):
        run_ppo(config)
    assert not any(tmp_path.iterdir())
