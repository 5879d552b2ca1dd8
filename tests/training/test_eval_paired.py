"""Paired comparisons of evaluation JSONs by example id, against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from training.evaluate.paired import align, cell_f1, compare_rows, general_paired, micro_f1, revision_pass_rate
from training.evaluate.report import build_report
from training.evaluate.report_markdown import render_markdown


def test_align_keeps_the_common_ids_in_the_first_order():
    a = [{"id": 0, "v": 1}, {"id": 1, "v": 2}, {"id": 2, "v": 3}]
    b = [{"id": "2", "v": 30}, {"id": "0", "v": 10}, {"id": "9", "v": 0}]
    left, right = align(a, b)
    assert [r["v"] for r in left] == [1, 3] and [r["v"] for r in right] == [10, 30]


def test_row_statistics_by_hand():
    # cell counts (matched, predicted, reference) summed: 3 of 4 predicted right, 3 of 4 found -> F1 .75
    assert cell_f1([{"matched": 2, "predicted": 2, "reference": 2},
                    {"matched": 1, "predicted": 2, "reference": 2}]) == pytest.approx(0.75)
    # flagged ads: 1 of 2 revisions passed; the unflagged ad does not count
    rows = [{"flagged": True, "revision_passed": True}, {"flagged": True, "revision_passed": False},
            {"flagged": False, "revision_passed": None}]
    assert revision_pass_rate(rows) == 0.5 and revision_pass_rate(rows[2:]) == 0.0
    # policies pooled: gold {a}, {b}; predicted {a}, {a}: tp 1, fp 1, fn 1 -> P = R = F1 = 1/2
    assert micro_f1([{"gold": ["misleading_pricing"], "predicted": ["misleading_pricing"]},
                     {"gold": ["health_claims"], "predicted": ["misleading_pricing"]}]) == pytest.approx(0.5)


def test_compare_rows_pairs_by_id_and_bootstraps_non_means():
    a = [{"id": "x", "matched": 2, "predicted": 2, "reference": 2}, {"id": "y", "matched": 1, "predicted": 2, "reference": 2}]
    b = [{"id": "y", "matched": 1, "predicted": 2, "reference": 2}, {"id": "x", "matched": 1, "predicted": 2, "reference": 2}]
    result = compare_rows(a, b, cell_f1)
    assert result["diff"] == pytest.approx(0.75 - 0.5) and result["method"] == "paired_bootstrap" and result["n"] == 2
    assert compare_rows(a, [{"id": "z", "matched": 0, "predicted": 0, "reference": 1}], cell_f1) is None


def _general(acc: dict[str, list[float]]) -> dict:
    return {"tasks": {task: {"acc": sum(v) / len(v), "acc_stderr": 0.2, "n": len(v), "metric": "acc",
                             "rows": [{"id": i, "acc": x} for i, x in enumerate(v)]} for task, v in acc.items()},
            "average": sum(sum(v) / len(v) for v in acc.values()) / len(acc)}


def test_general_average_of_paired_task_differences_by_hand():
    # t1: d = 1, 0, 0, 0 -> mean .25; deviations .75 -.25 -.25 -.25 -> squares .75; s^2 .25; se sqrt(.25/4) = .25
    # t2: d = 0 everywhere -> se 0. average: diff (.25 + 0) / 2 = .125, se sqrt(.25^2 + 0) / 2 = .125
    a = _general({"t1": [1, 1, 0, 1], "t2": [1, 0, 1, 0]})
    b = _general({"t1": [0, 1, 0, 1], "t2": [1, 0, 1, 0]})
    paired = general_paired(a, b)
    assert paired["t1"]["diff"] == pytest.approx(0.25) and paired["t1"]["stderr"] == pytest.approx(0.25)
    assert paired["t2"]["stderr"] == pytest.approx(0.0)
    assert paired["average"]["diff"] == pytest.approx(0.125) and paired["average"]["stderr"] == pytest.approx(0.125)
    del b["tasks"]["t2"]["rows"]  # a task without rows: no paired average
    assert "average" not in general_paired(a, b) and "t1" in general_paired(a, b)


def _domain(scores: list[float]) -> dict:
    mean = sum(scores) / len(scores)
    return {"chat": {"reward": {"mean": mean, "stderr": 0.5, "n": len(scores)},
                     "transcripts": [{"id": f"c{i}", "set": "mt_bench", "score": s} for i, s in enumerate(scores)]}}


def test_report_uses_the_paired_difference_when_both_have_rows():
    # d = .1 .2 .1 .2: mean .15; deviations -.05 .05 -.05 .05 -> squares .01; s^2 .01/3; se sqrt(.01/12) = .0289.
    # Unpaired, the stderrs .5 and .5 in quadrature (.707) would call this within noise.
    ppo, sft = _domain([1.0, 2.0, 3.0, 4.0]), _domain([0.9, 1.8, 2.9, 3.8])
    report = build_report("r", "icegrt eval report", {"sft": "s", "ppo": "p"}, {"sft": None, "ppo": None},
                          {"sft": sft, "ppo": ppo}, [], [("ppo", "sft")])
    row = report["comparisons"][0]["rows"][0]
    assert row["metric"] == "chat_reward" and row["method"] == "paired" and row["n"] == 4
    assert row["diff"] == pytest.approx(0.15) and row["stderr"] == pytest.approx(math.sqrt(0.01 / 12))
    assert row["reading"] == "higher"
    text = render_markdown(report, {})
    assert "| +0.150 ± 0.029 (paired, n = 4, 95% CI [" in text and "| **higher** |" in text
    # without rows the same aggregates fall back to quadrature and say so
    for data in (ppo, sft):
        data["chat"].pop("transcripts")
    unpaired = build_report("r", "c", {"sft": "s", "ppo": "p"}, {"sft": None, "ppo": None},
                            {"sft": sft, "ppo": ppo}, [], [("ppo", "sft")])["comparisons"][0]["rows"][0]
    assert unpaired["method"] == "unpaired" and unpaired["reading"] == "within 2 stderr"
    assert unpaired["stderr"] == pytest.approx(math.sqrt(0.5))
