"""benchmarks.training.rm_vs_trl end to end on the tiny model: one round of both modes, both workers in their
fresh interpreters (ours in .venv, TRL's RewardTrainer in .venv-trl), the results folder and its checks.
Skipped where .venv-trl is absent (benchmarks/training/setup_trl.sh makes it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.training.harness import TRL_PYTHON
from benchmarks.training.rm_report import failed_checks
from benchmarks.training.rm_vs_trl import main

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(TRL_PYTHON).exists(), reason=f"no {TRL_PYTHON}")]


def test_one_round_on_the_tiny_model(tmp_path):
    assert main(["--name", "tiny", "--model", "tiny", "--rounds", "1", "--warmup-steps", "1", "--steps", "2",
                 "--threads", "1", "--batch-size", "2", "--max-seq-len", "64", "--results-dir", str(tmp_path)]) == 0
    out = tmp_path / "tiny"
    assert {p.name for p in out.iterdir()} >= {"command.txt", "results.json", "table.md", "rm_vs_trl.png"}
    results = json.loads((out / "results.json").read_text())
    assert set(results["modes"]) == {"lora", "full"}
    for mode, data in results["modes"].items():
        assert [s["pairs"] for s in data["tokens_per_step"]] == [2, 2, 2]
        (pair,) = data["rounds"]
        assert pair["order"] == ["ours", "trl"]
        for side in ("ours", "trl"):
            assert failed_checks(pair[side]) == [], (mode, side, pair[side].get("error"), pair[side].get("checks"))
            assert pair[side]["pairs_s"] > 0 and pair[side]["tokens"]["pairs"] == 4  # the 2 timed steps
        assert set(pair["trl"]["checks"]) == {"pairs_match_plan", "fed_tokens_match_plan", "tokenized_like_ours",
                                              "scored_at_last_token"}
        # before any update both score the same pairs with the same weights and the same head
        assert pair["ours"]["loss_per_step"][0] == pytest.approx(pair["trl"]["loss_per_step"][0], abs=1e-3)
        assert data["ratio_pairs_s"]["n"] == 1
    assert "| lora | 1 |" in (out / "table.md").read_text()
