"""The hand-written test set: size, gold findings and the subtle flag (LABELLING.md)."""

from collections import Counter

import pytest

from tasks.ad_compliance.data import load_handwritten


@pytest.fixture(scope="module")
def records():
    return load_handwritten()


def test_size_ids_and_balance(records):
    assert len(records) >= 150
    assert len({r.id for r in records}) == len(records)
    assert all(r.split == "handwritten" for r in records)
    compliant = sum(r.compliant for r in records)
    assert 0.3 <= compliant / len(records) <= 0.5


def test_every_label_has_an_exact_quote(records):
    for r in records:
        texts = [text for _, text in r.ad.fields()]
        found = {f.policy_id for f in r.findings}
        assert found == set(r.labels), r.id  # one finding per label, none for unlabelled policies
        assert len(r.findings) == len(found), r.id
        for f in r.findings:
            assert f.quote.strip(), r.id
            assert any(f.quote in text for text in texts), (r.id, f.quote)
        assert r.revision is None  # the hand-written set carries no gold revisions


def test_subtle_flag(records):
    subtle = [r for r in records if r.subtle]
    assert len(subtle) >= 50
    violating = sum(not r.compliant for r in subtle)
    compliant = sum(r.compliant for r in subtle)
    assert violating >= 20 and compliant >= 20  # both kinds, roughly even
    # subtle violations span most policies, not one or two easy ones
    assert len(Counter(l for r in subtle for l in r.labels)) >= 10
