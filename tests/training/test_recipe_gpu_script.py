"""scripts/recipe_gpu.sh, the GPU smoke recipe, run as a user runs it, on CPU with the tiny model at
small sizes: every training stage writes a checkpoint and the stage times are recorded. Its vLLM
stages (sample, rank, vLLM rollouts) are skipped here (VLLM=0); tests/training/test_pipeline.py and
test_vllm_rollout.py cover them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # three training processes

REPO = Path(__file__).resolve().parents[2]


def test_the_smoke_recipe_runs_every_stage_and_records_its_time(tmp_path, tiny_model):
    env = {**os.environ, "DEVICE": "cpu", "MODEL": "tiny", "STEPS": "1", "SETUP": "0", "VLLM": "0",
           "PYTHON": sys.executable, "OMP_NUM_THREADS": "1",
           "SFT_ARGS": "--mix gsm8k=8,e2e_text_to_table=8 --max-seq-len 256 --batch-size 2 --grad-accum-steps 1 "
                       "--eval-examples 2 --threads 1",
           "REWARD_ARGS": "--max-train-pairs 8 --max-eval-pairs 4 --max-seq-len 256 --batch-size 2 "
                          "--grad-accum-steps 1 --threads 1",
           "PPO_ARGS": "--prompt-mix gsm8k=8,e2e_text_to_table=8 --max-seq-len 256 --max-new-tokens 8 "
                       "--rollout-batch-size 4 --mini-batch-size 2 --batch-size 2 --eval-prompts 2 --threads 1"}
    done = subprocess.run(["bash", "scripts/recipe_gpu.sh", str(tmp_path)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for stage in ("sft", "reward", "ppo"):
        assert (tmp_path / stage / "checkpoint" / "icegrt-checkpoint.json").is_file(), stage
    times = json.loads((tmp_path / "stage_times.json").read_text())
    assert (times["device"], times["model"], times["steps"], times["vllm"]) == ("cpu", "tiny", 1, False)
    assert list(times["stages"]) == ["sft", "reward", "ppo"]
    assert all(isinstance(s, int) and s >= 0 for s in times["stages"].values())
