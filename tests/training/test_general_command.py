"""``icegrt eval general``: bad input refused before any work, and a real run on the tiny model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cli.main import main
from training.evaluate.general.tasks import TASKS


def test_unknown_task_is_refused_before_loading_a_model(capsys):
    assert main(["eval", "general", "--model", "no-such-model", "--tasks", "arc_easy,hellaswag"]) == 2
    err = capsys.readouterr().err
    assert "unknown task(s) hellaswag" in err and "arc_easy" in err


@pytest.mark.parametrize("limit", ["0", "-3", "ten"])
def test_limit_below_one_is_an_argument_error(limit, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "general", "--limit", limit])
    assert exit_info.value.code == 2 and "--limit" in capsys.readouterr().err


def test_missing_data_file_is_reported(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("ICEGRT_SHARED_DATA", str(tmp_path))
    assert main(["eval", "general", "--tasks", "copa", "--model", "no-such-model"]) == 2
    assert "missing shared data file benchmarks/copa.jsonl" in capsys.readouterr().err


def test_unknown_model_is_reported(capsys):
    assert main(["eval", "general", "--tasks", "copa", "--model", "no-such-model"]) == 2
    assert "neither a checkpoint directory nor a known name" in capsys.readouterr().err


@pytest.mark.e2e
@pytest.mark.slow
def test_general_eval_on_tiny_model_with_vllm(tiny_model_path, tmp_path):
    out = tmp_path / "general.json"
    cmd = [sys.executable, "-m", "cli.main", "eval", "general", "--model", str(tiny_model_path), "--limit", "5",
           "--enforce-eager", "--output", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["backend"] == "vllm" and report["limit"] == 5 and report["model"] == str(tiny_model_path)
    assert report["command"].startswith("icegrt eval general --model") and "--limit 5" in report["command"]
    assert list(report["tasks"]) == list(TASKS)
    for name, scores in report["tasks"].items():
        assert scores["n"] == 5 and scores["metric"] == TASKS[name].metric
        assert 0 <= scores["acc"] <= 1 and scores["acc_stderr"] is not None and scores["acc_stderr"] >= 0
        assert 0 <= scores[scores["metric"]] <= 1
        if TASKS[name].kind == "choice":
            assert 0 <= scores["acc_norm"] <= 1 and scores["acc_norm_stderr"] >= 0
    primaries = [s[s["metric"]] for s in report["tasks"].values()]
    assert report["average"] == pytest.approx(sum(primaries) / len(primaries))
