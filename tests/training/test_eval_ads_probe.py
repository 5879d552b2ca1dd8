"""`icegrt eval ads-probe`: the verdict token pair, the AUC by hand, and a run on the tiny model."""

from __future__ import annotations

import json

import pytest

from training.evaluate.ads_probe import auc, decision_tokens, summarize


def test_auc_by_hand():
    # pairs (p, n): (0.9, 0.2) (0.9, 0.5) (0.4, 0.2) (0.5, 0.2) win, (0.4, 0.5) loss, (0.5, 0.5) tie: 4.5 / 6
    assert auc([0.9, 0.4, 0.5], [0.2, 0.5]) == pytest.approx(4.5 / 6)
    assert auc([0.9], []) is None
    rows = [{"violating": True, "p_violation": 0.9}, {"violating": True, "p_violation": 0.6},
            {"violating": False, "p_violation": 0.2}, {"violating": False, "p_violation": 0.8}]
    summary = summarize(rows)
    assert summary["auc"] == 0.75 and summary["mean_p_violation"] == {"violating": 0.75, "compliant": 0.5}
    assert summary["flagged"]["0.5"] == {"violating": 1.0, "compliant": 0.5}
    assert summary["flagged"]["0.7"] == {"violating": 0.5, "compliant": 0.5}


def test_the_verdict_tokens_are_where_an_empty_and_a_found_answer_part(tiny_tokenizer):
    opening, compliant, violating = decision_tokens(tiny_tokenizer)
    assert compliant != violating
    assert tiny_tokenizer.decode(opening + [compliant]).startswith('{"violations":[]')
    assert tiny_tokenizer.decode(opening + [violating]).startswith('{"violations":[{')


def test_probe_command_on_the_tiny_model(tiny_model_path, tmp_path, capsys):
    from cli.main import main

    out = tmp_path / "probe.json"
    assert main(["eval", "ads-probe", "--model", "tiny", "--limit", "6", "--threads", "1", "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["split"] == "dev" and len(report["rows"]) == 6
    assert all(0 <= row["p_violation"] <= 1 for row in report["rows"])
    assert report["summary"]["ads"] == 6 and report["summary"]["violating"] == sum(r["violating"] for r in report["rows"])
    assert main(["eval", "ads-probe", "--model", "tiny", "--limit", "0", "--output", str(out)]) == 2
