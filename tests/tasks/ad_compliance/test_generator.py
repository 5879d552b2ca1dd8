"""The generator of labelled ads: gold findings, gold revisions, hard negatives, held-out forms."""

import re
import time
from collections import Counter, defaultdict

import pytest

from tasks.ad_compliance.data import generate_dataset, generate_drafts, to_record
from tasks.ad_compliance.datatypes import Ad
from tasks.ad_compliance.detectors import detect, detected_policy_ids, rule_policy_ids
from tasks.ad_compliance.generator.catalogue import FORMS, FORMS_BY
from tasks.ad_compliance.generator.compose import _article
from tasks.ad_compliance.generator.forms import RESTORE, expand, family, heldout_keys, tidy
from tasks.ad_compliance.generator.negatives import NEGATIVES
from tasks.ad_compliance.generator.stats import distinct_forms, masked, report
from tasks.ad_compliance.policies import policy_ids

_PRICE = re.compile(r"[$£€]\d[\d,]*(?:\.\d+)?")


@pytest.fixture(scope="module")
def drafts():
    return generate_drafts(seed=0)


@pytest.fixture(scope="module")
def records(drafts):
    return [to_record(f"gen0-{i:05d}", split, d) for i, (split, d) in enumerate(drafts)]


def test_records_match_generate_dataset(records):
    assert generate_dataset(seed=0)[:50] == records[:50]


def test_default_sizes_generate_quickly():
    start = time.perf_counter()
    generate_dataset(seed=3)
    assert time.perf_counter() - start < 20  # about 1.5 s on the 2-core dev machine


def test_every_quote_is_an_exact_substring_of_its_field(drafts, records):
    for (_, draft), record in zip(drafts, records):
        assert len(draft.findings) == len(record.findings)
        for f in draft.findings:
            assert f.quote and f.quote in record.ad.text_of(f.field), (f, record.ad)


def test_labels_are_the_findings_policies(records):
    for r in records:
        assert set(r.labels) == {f.policy_id for f in r.findings}, r
        if r.compliant:
            assert not r.findings and r.revision is None


def test_two_label_forms_give_two_findings_with_one_quote(records):
    assert [f for forms in FORMS.values() for f in forms if len(f.labels) == 2]
    pairs = [(r, fs) for r in records for q, fs in _by_quote(r).items() if len(fs) == 2]
    assert pairs
    for _, fs in pairs:
        assert fs[0].fix == fs[1].fix and fs[0].policy_id != fs[1].policy_id


def _by_quote(record):
    out = defaultdict(list)
    for f in record.findings:
        out[f.quote].append(f)
    return out


def test_revision_is_none_exactly_when_no_rewording_fixes_the_ad(drafts, records):
    landing = 0
    violating = 0
    for (_, draft), r in zip(drafts, records):
        if not r.labels:
            assert r.revision is None
            continue
        violating += 1
        in_landing = any(f.field == "landing_page_text" for f in draft.findings)
        landing += in_landing
        prohibited_product = draft.product.prohibited
        assert (r.revision is None) == (in_landing or prohibited_product), r
        if prohibited_product:
            assert "prohibited_products" in r.labels
            assert any(f.policy_id == "prohibited_products" and f.fix is None for f in r.findings)
        else:
            assert all(f.fix is not None for f in r.findings)
    assert 0.02 < landing / violating < 0.09


def test_gold_revisions_pass_the_rules_and_keep_brand_and_prices(drafts, records):
    checked = 0
    for (_, draft), r in zip(drafts, records):
        if r.revision is None:
            continue
        revised = r.revision.to_ad(r.ad)
        assert detect(revised, r.labels) == [], (r.ad, r.revision)
        copy = " ".join(filter(None, (revised.headline, revised.body, revised.call_to_action)))
        assert draft.product.name in copy
        kept = " ".join(r.ad.text_of(f) for f in ("headline", "body", "call_to_action"))
        for f in r.findings:
            kept = kept.replace(f.quote, " ")
        for price in _PRICE.findall(kept):
            assert price in copy, (price, r.revision)
        assert r.revision.changes == [] and "  " not in revised.body
        checked += 1
    assert checked > 2000


def test_fixes_are_minimal_replacements(records):
    fixes = Counter(f.fix for r in records for f in r.findings if f.fix is not None)
    assert fixes[""] > 0 and "In stock now." in fixes
    shouted = [f for r in records for f in r.findings if f.quote == "MEGA SALE!!!"]
    assert {f.fix for f in shouted} <= {"Mega sale."}
    for r in records:
        for f in r.findings:
            if r.ad.headline == f.quote and r.revision is not None:
                assert r.revision.headline == f.fix and f.fix  # a displaced headline comes back


def test_trigger_full_compliant_ads_exist_and_rules_misfire_on_some(drafts):
    compliant = [d for _, d in drafts if not d.labels]
    carrying = [d for d in compliant if d.negatives]
    assert 0.3 <= len(carrying) / len(compliant) <= 0.45
    misfires = [d for d in carrying if detect(_ad(d))]
    assert len(misfires) / len(carrying) > 0.3


def test_plain_compliant_copy_gets_no_rule_findings(drafts):
    for _, d in drafts:
        if d.labels:
            continue
        body = d.body
        for sentence in d.negatives:
            body = body.replace(sentence, " ")
        plain = Ad(headline=d.headline, body=" ".join(body.split()),
                   call_to_action=d.call_to_action, landing_page_text=d.landing_page_text)
        assert detect(plain) == [], plain


def test_hard_negatives_never_mimic_the_ads_own_labels(drafts):
    by_text = {}
    for neg in NEGATIVES:
        by_text.setdefault(neg.text, set()).update(neg.mimics)
    for _, d in drafts:
        for sentence in d.negatives:
            template = sentence.replace(d.product.name, "{name}").replace(d.product.item, "{item}")
            assert not by_text[template] & set(d.labels)


def test_test_forms_are_disjoint_from_train_forms(drafts):
    seen = defaultdict(set)
    keys = defaultdict(set)
    for split, d in drafts:
        seen[split] |= {masked(f.quote, d) for f in d.findings if f.fix is not None}
        keys[split] |= {f.key for f in d.forms}
    assert seen["test"] and not seen["test"] & seen["train"]
    assert not keys["test"] & keys["train"] and not keys["dev"] & keys["train"]
    for policy in policy_ids():
        train = {f.text for f in FORMS_BY["train"][policy]}
        heldout = {f.text for f in FORMS_BY["heldout"][policy]}
        assert train and heldout and not train & heldout
        assert not {f.key for f in FORMS_BY["train"][policy]} & {
            f.key for f in FORMS_BY["heldout"][policy]}
    negs = defaultdict(set)
    for split, d in drafts:
        negs[split] |= {masked(n, d) for n in d.negatives}
    assert negs["test"] and not negs["test"] & negs["train"]


def test_hundreds_of_distinct_surface_forms_per_policy(drafts):
    counts = distinct_forms([d for split, d in drafts if split == "train"])
    assert set(counts) == set(policy_ids())
    assert min(counts.values()) >= 100, counts
    assert all(len(FORMS[p]) >= 180 for p in policy_ids())


def test_every_rule_policy_has_forms_with_and_without_trigger_words(drafts):
    found = defaultdict(Counter)
    for split, d in drafts:
        if split != "train" or d.product.prohibited:
            continue
        rules = set(detected_policy_ids(_ad(d)))
        for label in d.labels:
            found[label][label in rules] += 1
    for policy in rule_policy_ids():
        share = found[policy][True] / (found[policy][True] + found[policy][False])
        assert 0.3 < share < 0.8, (policy, found[policy])


def _ad(d):
    return Ad(headline=d.headline, body=d.body, call_to_action=d.call_to_action,
              landing_page_text=d.landing_page_text)


# --- the machinery ---------------------------------------------------------------------------

def test_expand_and_tidy():
    out = expand("[lead][core] [tail].", {"lead": ("", "Note: "), "core": ("a", "b"),
                                          "tail": ("x", "")})
    assert [t for t, _, _ in out] == ["A x.", "A.", "B x.", "B.", "Note: a x.", "Note: a.",
                                      "Note: b x.", "Note: b."]
    assert [c for _, c, _ in out][:2] == ["a", "a"]
    assert tidy("hi  there , you .  ok. then") == "Hi there, you. Ok. Then"
    with pytest.raises(KeyError, match="tail"):
        expand("[core][tail]", {"core": ("a",)})


def test_family_fixes_and_held_out_cores():
    forms = family("t_fam", "clickbait", "headline", ("app",), "[core][tail]",
                   fixes=(RESTORE,), core=tuple("abcdefgh"), tail=("", "!"))
    assert len(forms) == 16 and {f.fix for f in forms} == {RESTORE}
    held = {f.key for f in forms if f.pool == "heldout"}
    assert len(held) == 2  # a quarter of 8 cores, every tail of each
    assert sum(f.pool == "heldout" for f in forms) == 4
    assert heldout_keys(["k:a", "k:b"]) == heldout_keys(["k:b", "k:a"])
    assert len(heldout_keys(["k:a", "k:b"])) == 1 and heldout_keys(["only"]) == set()
    fixed = family("t_fix", "health_claims", "body_end", ("app",), "[s] [core].",
                   fixes=("[s] is fine.",), s=("It",), core=("cures flu",))
    assert fixed[0].fix == "It is fine."


def test_articles():
    assert _article("meal kit") == "a meal kit"
    assert _article("IELTS preparation course") == "an IELTS preparation course"
    assert _article("trail running shoes") == "trail running shoes"
    assert _article("granola") == "granola"


def test_length_says_nothing_about_the_labels(records):
    """A compliant ad is as long as a violating one, so a model cannot learn length as the verdict (the
    shipped SFT model did, when compliant ads were shorter: length alone scored AUC 0.72)."""
    from tasks.ad_compliance.compact import render_ad
    from training.evaluate.ads_probe import auc

    for split in ("train", "test"):
        ads = [r for r in records if r.split == split]
        length_auc = auc([len(render_ad(r.ad)) for r in ads if r.labels], [len(render_ad(r.ad)) for r in ads if not r.labels])
        assert 0.45 < length_auc < 0.55, f"{split}: length alone tells violating from compliant ads (AUC {length_auc:.3f})"


def test_neutral_details_trigger_no_rule_and_pad_compliant_ads(drafts):
    from tasks.ad_compliance.generator.details import DETAILS, DETAILS_BY_POOL

    def details_in(d, pool):
        return sum(t.format(name=d.product.name, item=d.product.item) in d.body for t in DETAILS_BY_POOL[pool])

    compliant = [(split, d) for split, d in drafts if not d.labels]
    assert sum(details_in(d, "train" if split == "train" else "heldout") > 0 for split, d in compliant) > len(compliant) / 2
    assert not any(details_in(d, "heldout") for split, d in drafts if split == "train")
    assert len(DETAILS) > 500 and len(DETAILS_BY_POOL["heldout"]) > 100
    for detail in DETAILS:
        text = detail.text.format(name="Northwind", item="travel mug")
        assert not detected_policy_ids(Ad(headline="Northwind", body=text, call_to_action="Learn more")), text


def test_stats_report():
    out = report(seed=1, sizes={"train": 300, "test": 100})
    assert out["sizes"] == {"train": 300, "test": 100}
    assert set(out["distinct_forms"]) == {"train", "test"}
    test = out["test"]
    assert 0 < test["rules_ad_recall"] < 1 and 0 <= test["rules_ad_fpr"] < 1
    assert out["rules_recall_per_label"]["train"]["shocking_content"] == 0.0  # no detector
