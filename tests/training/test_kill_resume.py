"""A training process killed with SIGKILL mid-run resumes from its last checkpoint (real processes)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.training.conftest import CONFIGS, needs_bundle

REPO = Path(__file__).resolve().parents[2]
SCRIPT = (
    "import argparse, sys\n"
    "from training.commands import add_train_parser\n"
    "p = argparse.ArgumentParser(); add_train_parser(p.add_subparsers(dest='c', required=True))\n"
    "a = p.parse_args(sys.argv[1:]); sys.exit(a.handler(a))\n"
)


def _command(runs: Path) -> list[str]:
    return [sys.executable, "-c", SCRIPT, "train", "sft", "--config", str(CONFIGS / "sft_tiny.yaml"),
            "--runs-dir", str(runs), "--max-steps", "5", "--save-every", "2", "--eval-every", "0",
            "--grad-accum-steps", "1", "--no-progress", "--max-seq-len", "96", "--mix", "gsm8k=12,self_instruct=12"]


def _train_steps(metrics: Path) -> list[int]:
    if not metrics.is_file():
        return []
    steps = []
    for line in metrics.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if "loss" in record:
            steps.append(record["step"])
    return steps


@pytest.mark.slow
@needs_bundle
def test_sigkill_then_rerun_finishes_with_every_step_once(tmp_path, tiny_model):
    run = tmp_path / "sft_tiny"
    process = subprocess.Popen(_command(tmp_path), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if max(_train_steps(run / "metrics.jsonl"), default=0) >= 3:  # past the step-2 checkpoint
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved = json.loads((run / "trainer_state" / "state.json").read_text())["step"]
    assert saved in (2, 4)
    finished = subprocess.run(_command(tmp_path), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert json.loads(finished.stdout)["step"] == 5
    assert _train_steps(run / "metrics.jsonl") == [1, 2, 3, 4, 5]
