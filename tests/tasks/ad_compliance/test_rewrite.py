"""The deterministic rewrite of flagged spans, span edits and diff-based changes."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.ad_compliance.data import generate_dataset
from tasks.ad_compliance.datatypes import Ad, Evidence, Revision, Violation
from tasks.ad_compliance.detectors import detect
from tasks.ad_compliance.editing import Edit, apply_edits, diff_changes, tidy
from tasks.ad_compliance.rewrite import NEUTRAL_CTA, normalise_formatting, rule_revision

GENERATED = [r for r in generate_dataset(seed=3, sizes={"train": 300}) if detect(r.ad)]


def test_tidy_cleans_what_a_deletion_leaves():
    assert tidy("Great tea .  , now only $9.") == "Great tea. Now only $9."
    assert tidy(" , and more") == "And more"
    assert tidy("Fast delivery,. Order today") == "Fast delivery. Order today"


def test_normalise_formatting():
    assert normalise_formatting("MEGA SALE!!! on NASA mugs $$$") == "mega sale! on NASA mugs "
    assert normalise_formatting("W I N N E R, $ave now") == "winner, save now"


def test_apply_edits_first_overlap_wins_and_blank_body_is_none():
    ad = Ad(headline="Hello", body="One two three.")
    assert apply_edits(ad, [Edit("body", 0, 3, "1"), Edit("body", 1, 7, "x")]).body == "1 two three."
    assert apply_edits(ad, [Edit("body", 0, 14, "")]) is None


def test_changes_are_the_diff_with_the_policy_as_reason():
    ad = Ad(headline="Tea", body="Fresh tea. Only 2 left! $9 a box.")
    violations = detect(ad)
    revision = Revision(headline="Tea", body="Fresh tea. $9 a box.")
    changes = diff_changes(ad, revision, violations)
    assert [(c.before, c.after) for c in changes] == [("Only 2 left!", "")]
    assert changes[0].reason == "Fixes: False urgency or scarcity."
    assert diff_changes(ad, Revision(headline="Tea", body=ad.body)) == []


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(GENERATED))
def test_rule_violations_always_get_a_revision_the_rules_pass(record):
    violations = detect(record.ad)
    result = rule_revision(record.ad, violations)
    prohibited = any(v.policy_id == "prohibited_products" for v in violations)
    on_landing = any(e.field == "landing_page_text" for v in violations for e in v.evidence)
    if prohibited or on_landing:
        assert result.revision is None and result.reason
        return
    revised = result.revision.to_ad(record.ad)
    assert detect(revised) == []


def test_cta_and_headline_rules():
    ad = Ad(headline="The best tea in the world", body="Loose-leaf tea, $9 a box.", call_to_action="BUY NOW!!!")
    result = rule_revision(ad, detect(ad))
    assert result.revision.headline is None and result.revision.body == ad.body
    assert result.revision.call_to_action in (NEUTRAL_CTA, "Buy now!")
    assert detect(result.revision.to_ad(ad)) == []


def test_landing_page_violation_and_unlocated_findings():
    ad = Ad(body="Loose-leaf tea, $9 a box.", landing_page_text="Cures diabetes in a week.")
    result = rule_revision(ad, detect(ad))
    assert result.revision is None and "landing page" in result.reason
    bare = Violation(policy_id="clickbait", policy="Clickbait", severity="low", explanation="x", source="model")
    assert rule_revision(Ad(body="Tea."), [bare]).revision is None
    located = Violation(policy_id="clickbait", policy="Clickbait", severity="low", explanation="x", source="model",
                        evidence=[Evidence.at(Ad(body="Tea. You won't guess why."), "body", 5, 25)])
    assert rule_revision(Ad(body="Tea. You won't guess why."), [located]).revision.body == "Tea."
