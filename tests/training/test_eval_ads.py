"""The ad-policy expert's evaluation: rows per ad and the per-set figures, checked by hand."""

from __future__ import annotations

import asyncio

import pytest

from tasks.ad_compliance.checker import check_ad
from tasks.ad_compliance.compact import compact_answer
from tasks.ad_compliance.data import GoldFinding, LabelledAd
from training.evaluate.ads import ad_sets, check_sets, revisable, summarize

URGENT = LabelledAd(id="u", ad={"body": "Linen shirts, $40. Only 2 left, hurry!"}, labels=["false_urgency"],
                    split="test", findings=[GoldFinding(policy_id="false_urgency", quote="Only 2 left, hurry!")])
SUBTLE = LabelledAd(id="s", ad={"body": "Herbal tea, $12. Say goodbye to your inhaler."}, labels=["health_claims"],
                    split="handwritten", subtle=True)
CLEAN = LabelledAd(id="c", ad={"body": "Herbal tea, $12 a box. This is not a cure for anything."}, labels=[],
                   split="handwritten", subtle=True)
LANDING = LabelledAd(id="l", ad={"body": "Tea, $12.", "landing_page_text": "Cures asthma."}, labels=["health_claims"],
                     split="test", findings=[GoldFinding(policy_id="health_claims", quote="Cures asthma.")])


def test_sets_are_separate_and_complete():
    sets = ad_sets(generated_limit=10)
    assert len(sets["generated_test"]) == 10
    assert all(a.subtle for a in sets["handwritten_subtle"]) and not any(a.subtle for a in sets["handwritten_plain"])
    assert len(sets["handwritten_plain"]) + len(sets["handwritten_subtle"]) >= 150


def test_revisable():
    assert revisable(URGENT) and not revisable(CLEAN) and not revisable(LANDING)
    assert not revisable(LabelledAd(id="p", ad={"body": "Vapes."}, labels=["prohibited_products"], split="test"))


class Model:
    """A trained model's answers by ad text: finds the subtle claim, passes its own revisions."""

    async def __call__(self, messages, schema, max_tokens):
        ad = messages[-1]["content"]
        if "inhaler" in ad:
            return compact_answer([("health_claims", "Say goodbye to your inhaler.", "")]), "stop"
        if "hurry" in ad:
            return compact_answer([("false_urgency", "Only 2 left, hurry!", "")]), "stop"
        return compact_answer([]), "stop"


def test_rows_and_figures_against_rules_alone():
    sets = {"generated_test": [URGENT], "handwritten_subtle": [SUBTLE, CLEAN]}

    async def check(ad, request_id):
        return await check_ad(ad, Model(), mode="auto", task_format="compact")

    rows = asyncio.run(check_sets(sets, check, concurrency=2))
    assert [r["id"] for r in rows] == ["u", "s", "c"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["s"]["predicted"] == ["health_claims"] and by_id["s"]["rules"] == []
    assert by_id["s"]["model"] == ["health_claims"] and by_id["c"]["model"] == []
    assert by_id["s"]["model_revision_passed"] is True and by_id["s"]["revision_source"] == "model"
    summary = summarize(rows)
    subtle = summary["handwritten_subtle"]
    assert subtle["ad_level"] == {"tp": 1, "fp": 0, "fn": 0, "tn": 1, "precision": 1.0, "recall": 1.0, "f1": 1.0,
                                  "fpr": 0.0}
    assert subtle["rules_ad_level"]["recall"] == 0.0
    assert subtle["recall_vs_rules"]["diff"] == 1.0 and subtle["recall_vs_rules"]["n"] == 1
    assert subtle["revisions"] == {"n": 1, "model_pass_rate": 1.0, "model_keeps_product_rate": 1.0,
                                   "any_pass_rate": 1.0, "rules_fallback_rate": 0.0}
    generated = summary["generated_test"]
    assert generated["ad_level"]["recall"] == 1.0 and generated["policy"]["micro_f1"] == pytest.approx(1.0)


def test_report_renders_sets_paired_differences_and_a_plot(tmp_path):
    from training.evaluate.ads_report import plot, render

    sets = {"handwritten_subtle": [SUBTLE, CLEAN]}

    async def trained(ad, request_id):
        return await check_ad(ad, Model(), mode="auto", task_format="compact")

    async def base(ad, request_id):
        return await check_ad(ad, Model(), mode="auto", task_format="catalogue")

    evals = {}
    for label, check in (("trained", trained), ("base", base)):
        rows = asyncio.run(check_sets(sets, check, concurrency=1))
        evals[label] = {"rows": rows, "summary": summarize(rows)}
    text = render(evals)
    assert "| handwritten_subtle | trained | 2 (1/1) | 1.000 | 1.000 | 1.000 | 0.000 |" in text
    assert "| handwritten_subtle | rules alone |" in text
    assert "| handwritten_subtle | base | +0.500 ±" in text  # one of two verdicts better, paired
    plot(evals, tmp_path / "ads.png")
    assert (tmp_path / "ads.png").stat().st_size > 1000
