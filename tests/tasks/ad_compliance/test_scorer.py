"""Scorer against numbers worked out by hand."""

import pytest

from tasks.ad_compliance.datatypes import Ad, Revision
from tasks.ad_compliance.detectors import detect
from tasks.ad_compliance.scorer import (example_f1, keeps_product_and_offer, key_terms, prf,
                                        revision_pass_rate, score_detection, score_revisions)

A, B = "false_urgency", "clickbait"
GOLD = [{A}, {A, B}, set(), {B}]
PRED = [{A}, {A}, {B}, {A, B}]


def test_per_policy_micro_macro_by_hand():
    s = score_detection(GOLD, PRED)
    a, b = s.per_policy[A], s.per_policy[B]
    # A: ads 1, 2 true positives; ad 4 a false positive.
    assert (a.tp, a.fp, a.fn) == (2, 1, 0)
    assert a.precision == pytest.approx(2 / 3) and a.recall == 1.0 and a.f1 == pytest.approx(0.8)
    # B: ad 4 true positive, ad 3 false positive, ad 2 missed.
    assert (b.tp, b.fp, b.fn) == (1, 1, 1) and (b.precision, b.recall, b.f1) == (0.5, 0.5, 0.5)
    assert a.support == 2 and b.support == 2
    # micro: tp 3, fp 2, fn 1 -> P 0.6, R 0.75, F1 0.9 / 1.35
    assert (s.micro.tp, s.micro.fp, s.micro.fn) == (3, 2, 1)
    assert s.micro.precision == pytest.approx(0.6) and s.micro.recall == pytest.approx(0.75)
    assert s.micro.f1 == pytest.approx(2 / 3)
    # macro over the two active policies only (the 11 others have no labels at all)
    assert s.macro_precision == pytest.approx(7 / 12)
    assert s.macro_recall == pytest.approx(0.75)
    assert s.macro_f1 == pytest.approx(0.65)
    assert s.exact_match == 0.25 and s.compliance_accuracy == 0.75 and s.n_examples == 4
    inactive = s.per_policy["health_claims"]
    assert (inactive.tp, inactive.fp, inactive.fn, inactive.f1) == (0, 0, 0, 0.0)


def test_restricting_to_policies():
    s = score_detection(GOLD, PRED, policies=[B])
    assert list(s.per_policy) == [B]
    assert s.exact_match == 0.5  # ads 1 and 4 agree once A is ignored
    assert s.micro.f1 == 0.5


def test_zero_denominators_and_length_mismatch():
    assert prf(0, 0, 0).model_dump() == {"tp": 0, "fp": 0, "fn": 0, "precision": 0.0,
                                         "recall": 0.0, "f1": 0.0}
    empty = score_detection([], [])
    assert empty.micro.f1 == 0.0 and empty.macro_f1 == 0.0 and empty.exact_match == 0.0
    with pytest.raises(ValueError):
        score_detection([{A}], [])


def test_example_f1_and_pass_rate():
    assert example_f1({A, B}, {A}) == pytest.approx(2 / 3)
    assert example_f1(set(), set()) == 1.0
    assert example_f1(set(), {A}) == 0.0
    assert revision_pass_rate([True, False, None, True]) == 0.5
    assert revision_pass_rate([]) == 0.0


ORIGINAL = Ad(headline="Tempo Budget App",
              body="Hurry! Get Tempo Premium for $4.99 a month. Only 3 left!",
              call_to_action="Download")
REVISION = Revision(headline="Tempo: simple budgeting",
                    body="Get Tempo Premium for $4.99 a month.", call_to_action="Download")


def test_keeps_product_and_offer_worked_example():
    violations = detect(ORIGINAL)  # false_urgency: "Hurry", "Only 3 left"
    # "3" sits inside the evidence and common words (Hurry, Get, Only, Download) are skipped.
    assert key_terms(ORIGINAL, violations) == ["tempo", "budget", "app", "4.99", "premium"]
    assert key_terms(ORIGINAL) == ["tempo", "budget", "app", "4.99", "3", "premium"]
    check = keeps_product_and_offer(ORIGINAL, REVISION, violations)
    # kept tempo, 4.99, premium; "budget" is not "budgeting", "app" is gone: 3 / 5 = 0.6
    assert check.kept == ["tempo", "4.99", "premium"] and check.missing == ["budget", "app"]
    assert check.score == pytest.approx(0.6) and check.keeps
    changed = Revision(headline="Budget App", body="Plan your spending.")
    worse = keeps_product_and_offer(ORIGINAL, changed, violations)
    assert worse.score == pytest.approx(0.4) and not worse.keeps  # budget, app of 5
    assert keeps_product_and_offer(Ad(body="hello there"), changed).score == 1.0


def test_score_revisions():
    violations = detect(ORIGINAL)
    scores = score_revisions([ORIGINAL, ORIGINAL], [REVISION, None], [True, None],
                             [violations, violations])
    assert (scores.n, scores.pass_rate, scores.keeps_product_rate) == (2, 0.5, 0.5)
    with pytest.raises(ValueError):
        score_revisions([ORIGINAL], [], [])
