"""Scores for evaluation and rewards: detection P/R/F1 and revision quality.

Detection is scored on policy ids per ad (sets, evidence spans ignored): for each policy, a true
positive is an ad both labelled and predicted with it. Conventions:

- a zero denominator gives 0.0 (precision with no predictions, recall with no gold labels);
- macro averages run over ACTIVE policies only (at least one gold or predicted label), so a
  policy absent from both does not count as a perfect or a zero score;
- micro scores pool the counts of all policies.

Revision quality: the pass rate is the share of ads whose suggested revision passed the checker
(no revision counts as a failure), and :func:`keeps_product_and_offer` is a documented heuristic
that the rewrite still sells the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pydantic import BaseModel

from .datatypes import Ad, Revision, Violation
from .policies import select_policies


class PRF(BaseModel):
    """Counts and precision / recall / F1 for one label (or pooled)."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float

    @property
    def support(self) -> int:
        return self.tp + self.fn


def prf(tp: int, fp: int, fn: int) -> PRF:
    """Precision, recall and F1 from counts (0.0 on a zero denominator)."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return PRF(tp=tp, fp=fp, fn=fn, precision=p, recall=r, f1=f)


class DetectionScores(BaseModel):
    """Per-policy and overall detection scores over a set of ads."""

    per_policy: dict[str, PRF]
    micro: PRF
    macro_precision: float
    macro_recall: float
    macro_f1: float
    exact_match: float
    """Share of ads whose predicted set equals the gold set."""
    compliance_accuracy: float
    """Share of ads where "compliant" (no label) is predicted correctly."""
    n_examples: int


def score_detection(gold: Sequence[Iterable[str]], predicted: Sequence[Iterable[str]],
                    policies: Iterable[str] | None = None) -> DetectionScores:
    """Score predicted policy-id sets against gold sets, ad by ad.

    ``policies`` restricts scoring to those ids (e.g. the rule-covered ones); labels outside it
    are ignored on both sides. Raises ``ValueError`` if the two sequences differ in length.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"gold has {len(gold)} examples but predicted has {len(predicted)}")
    ids = [p.id for p in select_policies(policies)]
    keep = set(ids)
    counts = {pid: [0, 0, 0] for pid in ids}
    exact = agree = 0
    for g_raw, p_raw in zip(gold, predicted):
        g, p = set(g_raw) & keep, set(p_raw) & keep
        exact += g == p
        agree += (not g) == (not p)
        for pid in g & p:
            counts[pid][0] += 1
        for pid in p - g:
            counts[pid][1] += 1
        for pid in g - p:
            counts[pid][2] += 1
    per_policy = {pid: prf(*c) for pid, c in counts.items()}
    active = [s for s in per_policy.values() if s.tp + s.fp + s.fn]
    n = len(gold)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    return DetectionScores(
        per_policy=per_policy,
        micro=prf(*(sum(c[i] for c in counts.values()) for i in range(3))),
        macro_precision=mean([s.precision for s in active]),
        macro_recall=mean([s.recall for s in active]),
        macro_f1=mean([s.f1 for s in active]),
        exact_match=exact / n if n else 0.0,
        compliance_accuracy=agree / n if n else 0.0,
        n_examples=n)


def example_f1(gold: Iterable[str], predicted: Iterable[str]) -> float:
    """F1 of one ad's predicted policy set (1.0 when both are empty): a per-example reward."""
    g, p = set(gold), set(predicted)
    if not g and not p:
        return 1.0
    return prf(len(g & p), len(p - g), len(g - p)).f1


def revision_pass_rate(revision_compliant: Sequence[bool | None]) -> float:
    """Share of revisions that passed the checker; None (no usable revision) counts as a fail."""
    if not revision_compliant:
        return 0.0
    return sum(1 for ok in revision_compliant if ok is True) / len(revision_compliant)


# --- keeps product and offer -------------------------------------------------------------------
_NUMBER = re.compile(r"[$£€]?\d+(?:[.,]\d+)*%?")
_NAME = re.compile(r"\b[A-Z][A-Za-z0-9&'’-]{2,}")
_COMMON = frozenset("""
a an the and or but if so of to in on at by for with from into over under up off out as is are
be was were it its this that these those our your you we us they their my me he she his her
get buy try shop save new now free join start book sign learn discover order call download see
meet find make earn hurry only act don't do does why what how when where who which no not all
more most best top limited today tonight offer deal sale sales just plus also here there click
apply claim grab enjoy visit explore compare use take give go let upgrade subscribe install
watch read open stop quit lose win love feel look need want have has had can will would should
every each any some one two three first last next available now great big huge amazing yes
introducing meet ready family home day days week weeks month months year years per off
""".split())
OFFER_THRESHOLD = 0.6


class OfferCheck(BaseModel):
    """Result of :func:`keeps_product_and_offer`."""

    score: float
    kept: list[str]
    missing: list[str]
    keeps: bool


def _in_spans(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s < end and start < e for s, e in spans)


def key_terms(ad: Ad, violations: Sequence[Violation] = ()) -> list[str]:
    """The ad copy's key terms: numbers (prices, percentages, quantities; currency symbols and
    thousands separators dropped) and capitalised words that are not common words, lowercased,
    in order of appearance. Text inside violation evidence is skipped (removing it is the point
    of a revision). The landing page is not considered: revisions do not rewrite it.
    """
    terms: list[str] = []
    for field in ("headline", "body", "call_to_action"):
        text = ad.text_of(field)
        spans = [(e.start, e.end) for v in violations for e in v.evidence if e.field == field]
        for m in _NUMBER.finditer(text):
            if not _in_spans(m.start(), m.end(), spans):
                terms.append(_norm_number(m.group()))
        for m in _NAME.finditer(text):
            word = m.group().lower().rstrip("'’-")
            if word not in _COMMON and not _in_spans(m.start(), m.end(), spans):
                terms.append(word)
    return list(dict.fromkeys(terms))


def _norm_number(token: str) -> str:
    return token.lstrip("$£€").replace(",", "")


def keeps_product_and_offer(original: Ad, revision: Revision | Ad,
                            violations: Sequence[Violation] = ()) -> OfferCheck:
    """Heuristic: does the rewrite keep the product and the offer?

    ``score`` is the share of :func:`key_terms` of the original found in the revision's copy
    (numbers compared after normalisation, words case-insensitively as whole words); ``keeps``
    is ``score >= OFFER_THRESHOLD`` (0.6). An ad with no key terms trivially keeps them (score 1).
    Worked example in the tests: 3 of 5 terms kept gives 0.6, which passes.
    """
    terms = key_terms(original, violations)
    text = " ".join(filter(None, (revision.headline, revision.body, revision.call_to_action)))
    numbers = {_norm_number(t) for t in _NUMBER.findall(text)}
    words = {w.lower() for w in re.findall(r"[A-Za-z0-9&'’-]+", text)}
    words |= {w.rstrip("'’-") for w in words}
    kept = [t for t in terms if t in numbers or t in words]
    missing = [t for t in terms if t not in kept]
    score = len(kept) / len(terms) if terms else 1.0
    return OfferCheck(score=score, kept=kept, missing=missing, keeps=score >= OFFER_THRESHOLD)


class RevisionScores(BaseModel):
    """Revision quality over a set of ads."""

    n: int
    pass_rate: float
    keeps_product_rate: float
    """Share of ads with a revision that keeps the product and offer (no revision: fail)."""


def score_revisions(originals: Sequence[Ad], revisions: Sequence[Revision | None],
                    revision_compliant: Sequence[bool | None],
                    violations: Sequence[Sequence[Violation]] | None = None) -> RevisionScores:
    """Pass rate and keeps-product rate for parallel lists (one entry per ad)."""
    n = len(originals)
    if not (len(revisions) == len(revision_compliant) == n) or (
            violations is not None and len(violations) != n):
        raise ValueError("originals, revisions, revision_compliant (and violations) must be "
                         "parallel lists of the same length")
    keeps = 0
    for i, (ad, rev) in enumerate(zip(originals, revisions)):
        if rev is not None:
            keeps += keeps_product_and_offer(ad, rev, violations[i] if violations else ()).keeps
    return RevisionScores(n=n, pass_rate=revision_pass_rate(revision_compliant),
                          keeps_product_rate=keeps / n if n else 0.0)
