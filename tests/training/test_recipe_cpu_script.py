"""scripts/recipe_cpu.sh, the whole CPU recipe, run as a user runs it, on the tiny model at small sizes:
SFT, sample (vLLM), rank, reward and PPO each write their output; a second run skips or completes every
stage without retraining and, the evaluation JSONs being there already, only writes the report."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.training.conftest import needs_bundle
from tests.training.test_eval_report import domain_json, general_json

pytestmark = [needs_bundle, pytest.mark.slow,  # three training processes and a vLLM engine
              pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="the sample stage needs vLLM")]

REPO = Path(__file__).resolve().parents[2]


def _recipe(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MODEL": "tiny", "SETUP": "0", "PYTHON": sys.executable, "OMP_NUM_THREADS": "1",
           "RUNS": str(tmp_path / "runs"), "RESULTS": str(tmp_path / "results" / "recipe"),
           "ICEGRT_EVAL_CACHE": str(tmp_path / "eval_cache"),
           "SFT_ARGS": "--mix gsm8k=4,e2e_text_to_table=4 --max-seq-len 256 --batch-size 2 --grad-accum-steps 1 "
                       "--max-steps 1 --save-every 1 --eval-every 1 --eval-examples 2 --no-progress",
           "SAMPLE_ARGS": "--prompt-mix gsm8k=2,e2e_text_to_table=2 --k 2 --max-tokens 8 --max-model-len 512 "
                          "--no-progress",
           "REWARD_ARGS": "--max-train-pairs 4 --max-eval-pairs 2 --max-seq-len 128 --batch-size 2 --grad-accum-steps 1 "
                          "--max-steps 1 --save-every 1 --eval-every 1 --no-progress",
           "PPO_ARGS": "--prompt-mix gsm8k=4,e2e_text_to_table=4 --max-seq-len 256 --max-new-tokens 8 "
                       "--rollout-batch-size 2 --mini-batch-size 2 --batch-size 2 --ppo-epochs 1 --max-steps 1 "
                       "--save-every 1 --eval-every 1 --eval-prompts 2 --no-progress",
           **env}
    done = subprocess.run(["bash", "scripts/recipe_cpu.sh", "--threads", "1"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _stamps(root: Path) -> dict[str, int | bytes]:
    """Each file's modification time; the content of those a run rewrites (the same) whenever it is opened."""
    rewritten = {"config.yaml", "metrics.jsonl", "data.json"}
    return {str(p.relative_to(root)): p.read_bytes() if p.name in rewritten else p.stat().st_mtime_ns
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_cpu_recipe_runs_every_stage_then_a_rerun_continues_without_redoing_any(tmp_path, tiny_model):
    runs, results = tmp_path / "runs", tmp_path / "results" / "recipe"
    first = _recipe(tmp_path, EVAL="0")
    for stage in ("sft", "reward", "ppo"):
        assert (runs / stage / "checkpoint" / "icegrt-checkpoint.json").is_file(), stage
    assert len((runs / "samples.jsonl").read_text().splitlines()) == 4
    assert (runs / "pairs.jsonl").is_file()  # the tiny model's replies may all tie: then empty, and no pairs_<task>
    assert "sft/checkpoint" in (runs / "reward" / "config.yaml").read_text()
    assert "reward/checkpoint" in (runs / "ppo" / "config.yaml").read_text()
    assert "EVAL=0: evaluations and report skipped" in first.stdout and not results.exists()

    results.mkdir(parents=True)
    for label in ("base", "sft", "ppo"):  # every evaluation done: the rerun only writes the report
        general_json(results / f"general_{label}.json", {"arc_easy": 0.5, "piqa": 0.6})
        domain_json(results / f"domain_{label}.json", 0.5, 0.2, 0.0, versus="sft" if label == "ppo" else None)
    before = _stamps(runs)
    second = _recipe(tmp_path, GENERAL_LIMIT="2", TABLE_LIMIT="2", ADS_LIMIT="1", CHAT_LIMIT="1")
    assert _stamps(runs) == before  # nothing sampled, ranked or trained again
    for name in ("samples", "pairs"):
        assert f"{runs / name}.jsonl exists, skipped" in second.stdout
    assert second.stderr.count("is complete (step 1)") == 3
    assert second.stdout.count("exists, kept") == 6
    assert (results / "report.md").is_file() and "--ads-limit 1" in (results / "command.txt").read_text()
