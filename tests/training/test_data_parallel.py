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


def _run_both(stage: str, runs_dir: Path, *extra: str) -> tuple[dict, dict]:
    """One-process and two-process runs of one step, side by side; their printed summaries."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    processes = {nproc: subprocess.Popen(_command(stage, nproc, runs_dir, f"p{nproc}", "--max-steps", "1", *extra),
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


def _assert_same_step(runs_dir: Path, base_weights: dict, lr: float) -> None:
    import torch

    one, two = _weights(runs_dir / "p1"), _weights(runs_dir / "p2")
    assert one.keys() == two.keys()
    first, second = _step_record(runs_dir / "p1"), _step_record(runs_dir / "p2")
    assert second["loss"] == pytest.approx(first["loss"], rel=1e-6)
    assert second["grad_norm"] == pytest.approx(first["grad_norm"], rel=1e-5)
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


def test_ppo_under_torchrun_is_refused_before_any_work(monkeypatch, tmp_path):
    from training.config import ConfigError, load_config
    from training.ppo.config import PPOConfig
    from training.ppo.trainer import run_ppo

    monkeypatch.setenv("WORLD_SIZE", "2")
    config = load_config(PPOConfig, CONFIGS / "ppo_tiny.yaml", {"runs_dir": tmp_path, "progress": False})
    with pytest.raises(ConfigError, match="PPO runs in one process"):
        run_ppo(config)
    assert not any(tmp_path.iterdir())
