"""The ad-policy expert's evaluation: the endpoint's flow on three sets, one row per ad.

Sets, each reported separately: ``generated_test`` (the generator's held-out phrasings),
``handwritten_plain`` and ``handwritten_subtle`` (hand-written ads; subtle ones are those a
keyword rule gets wrong by design). Every ad goes through :func:`tasks.ad_compliance.checker.check_ad`
as the server runs it (mode and task format as given, a suggested revision asked for), and its
row keeps the gold labels, the verdict, what the rules alone say, and the revision's fate, so two
checkpoints (or a checkpoint and the rules) can be compared per ad.

Figures per set (:func:`summarize`):

- ad level (an ad is positive when it breaks any policy): precision, recall, F1 and false-positive
  rate, for the system and for the rules alone, with the paired differences of recall (over
  positive ads) and false-positive rate (over negative ads) and their standard errors;
- policy level: micro and macro F1 (:func:`tasks.ad_compliance.scorer.score_detection`);
- revisions, over the revisable ads the system flagged (gold positive, not a prohibited product,
  no violation only on the landing page): the share whose **model-written** revision passed its
  re-check (the rule rewrite not counted), the share of those that keep the product and offer, and
  the share that got a passing revision from either source.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tasks.ad_compliance.checker import ComplianceOutcome
from tasks.ad_compliance.data import LabelledAd, generate_dataset, load_handwritten
from tasks.ad_compliance.datatypes import Ad
from tasks.ad_compliance.detectors import detected_policy_ids
from tasks.ad_compliance.parser import locate_quote
from tasks.ad_compliance.scorer import keeps_product_and_offer, score_detection
from training.evaluate.stats import paired_difference

SUBSETS = ("generated_test", "handwritten_plain", "handwritten_subtle")
Check = Callable[[Ad, str], Awaitable[ComplianceOutcome]]
"""``await check(ad, request_id)``: the endpoint's flow for one ad."""


def ad_sets(generated_limit: int | None = None) -> dict[str, list[LabelledAd]]:
    """The three evaluation sets (the generated test split optionally cut to its first N ads)."""
    generated = [a for a in generate_dataset() if a.split == "test"]
    handwritten = load_handwritten()
    return {"generated_test": generated[:generated_limit] if generated_limit else generated,
            "handwritten_plain": [a for a in handwritten if not a.subtle],
            "handwritten_subtle": [a for a in handwritten if a.subtle]}


def revisable(record: LabelledAd) -> bool:
    """Whether a revision of the ad copy can make ``record`` compliant (by its gold labels)."""
    if not record.labels or "prohibited_products" in record.labels:
        return False
    for finding in record.findings:
        ev = locate_quote(record.ad, finding.quote)
        if ev is not None and ev.field == "landing_page_text":
            return False
    return True


def row_for(subset: str, record: LabelledAd, outcome: ComplianceOutcome, seconds: float) -> dict[str, Any]:
    """One ad's row (see the module doc)."""
    revision = outcome.suggested_revision
    model_passed = outcome.model_revision_compliant
    keeps = None
    if revision is not None:
        keeps = keeps_product_and_offer(record.ad, revision, outcome.verdict.violations).keeps
    return {"id": record.id, "subset": subset, "gold": list(record.labels),
            "predicted": [v.policy_id for v in outcome.verdict.violations],
            "rules": list(detected_policy_ids(record.ad)), "model": outcome.model_policies,
            "verdict_source": outcome.verdict_source,
            "revisable": revisable(record), "revision_source": outcome.revision_source,
            "model_revision_passed": model_passed, "revision_passed": outcome.revision_compliant,
            "keeps_product": keeps, "model_calls": len(outcome.calls), "seconds": round(seconds, 3)}


async def check_sets(sets: dict[str, Sequence[LabelledAd]], check: Check, concurrency: int,
                     progress: Callable[[], None] = lambda: None) -> list[dict[str, Any]]:
    """Every ad of every set through ``check``, at most ``concurrency`` at once; rows in set order."""
    gate = asyncio.Semaphore(concurrency)
    jobs = [(subset, record) for subset, records in sets.items() for record in records]

    async def one(i: int, subset: str, record: LabelledAd) -> dict[str, Any]:
        async with gate:
            started = time.perf_counter()
            outcome = await check(record.ad, f"eval-ad-{i}")
            row = row_for(subset, record, outcome, time.perf_counter() - started)
        progress()
        return row

    return list(await asyncio.gather(*(one(i, s, r) for i, (s, r) in enumerate(jobs))))


def _ad_level(gold: Sequence[bool], flagged: Sequence[bool]) -> dict[str, Any]:
    tp = sum(g and f for g, f in zip(gold, flagged))
    fp = sum(f and not g for g, f in zip(gold, flagged))
    fn = sum(g and not f for g, f in zip(gold, flagged))
    tn = len(gold) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "fpr": fp / (fp + tn) if fp + tn else 0.0}


def _rate(values: Sequence[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def _policy_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    scores = score_detection(gold, predicted)
    return {"micro_f1": scores.micro.f1, "macro_f1": scores.macro_f1}


def summarize_subset(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The figures of one set (see the module doc)."""
    gold = [bool(r["gold"]) for r in rows]
    system = [bool(r["predicted"]) for r in rows]
    rules = [bool(r["rules"]) for r in rows]
    positives = [i for i, g in enumerate(gold) if g]
    negatives = [i for i, g in enumerate(gold) if not g]
    candidates = [r for r in rows if r["revisable"] and r["predicted"]]
    model_passed = [r for r in candidates if r["model_revision_passed"] is True]
    return {
        "n": len(rows), "positives": len(positives), "negatives": len(negatives),
        "ad_level": _ad_level(gold, system), "rules_ad_level": _ad_level(gold, rules),
        "recall_vs_rules": paired_difference([float(system[i]) for i in positives], [float(rules[i]) for i in positives]),
        "fpr_vs_rules": paired_difference([float(system[i]) for i in negatives], [float(rules[i]) for i in negatives]),
        "policy": _policy_scores([r["gold"] for r in rows], [r["predicted"] for r in rows]),
        "rules_policy": _policy_scores([r["gold"] for r in rows], [r["rules"] for r in rows]),
        "model_verdict_rate": _rate([r["verdict_source"] == "model+rules" for r in rows]),
        "revisions": {
            "n": len(candidates),
            "model_pass_rate": _rate([r["model_revision_passed"] is True for r in candidates]),
            "model_keeps_product_rate": _rate([r["keeps_product"] is True for r in model_passed]),
            "any_pass_rate": _rate([r["revision_passed"] is True for r in candidates]),
            "rules_fallback_rate": _rate([r["revision_source"] == "rules" for r in candidates]),
        },
        "seconds_p50": sorted(r["seconds"] for r in rows)[len(rows) // 2] if rows else None,
    }


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """:func:`summarize_subset` for each set present in ``rows``."""
    return {s: summarize_subset([r for r in rows if r["subset"] == s]) for s in SUBSETS
            if any(r["subset"] == s for r in rows)}
