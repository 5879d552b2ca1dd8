"""Domain evaluation: ad compliance and text-to-table scored on the project's test splits.

Requests go through the tasks' own flows, the ones the endpoints run
(`tasks.ad_compliance.checker.check_ad`, `tasks.text_to_table.flow.extract_table`), with the
same structured generation (`inference.generation.StructuredGenerator`) on an in-process vLLM
engine, so the figures are those a client of the API would see, without HTTP in the way.
Requests run concurrently (bounded) so vLLM batches them.

Each report keeps one row per example (``"rows"``, keyed by the example's id) beside its
aggregates, so two checkpoints' runs can be paired later (:mod:`training.evaluate.paired`):

    ads     ``{"id", "gold", "predicted", "f1", "flagged", "revision_passed"}`` (revision_passed
            None for an ad the model did not flag, or when revisions were not asked for)
    table   ``{"id", "matched", "predicted", "reference", "f1"}`` (cell counts of the example)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from tqdm import tqdm

from inference.engine import Engine
from inference.generation import StructuredGenerator, UsageTally
from tasks.ad_compliance.checker import ComplianceOutcome, Mode, TaskFormat, check_ad
from tasks.ad_compliance.data import LabelledAd, generate_dataset, load_handwritten
from tasks.ad_compliance.detectors import detected_policy_ids
from tasks.ad_compliance.scorer import example_f1, score_detection, score_revisions
from tasks.text_to_table.e2e import load_e2e
from tasks.text_to_table.flow import TableOutcome, extract_table
from tasks.text_to_table.score import score_table, score_tables
from tasks.text_to_table.table import Table
from training.evaluate.stats import bootstrap_stderr, proportion_stderr

T = TypeVar("T")
AD_SPLITS = ("test", "dev", "handwritten")


def load_ads(split: str, limit: int | None) -> list[LabelledAd]:
    if split not in AD_SPLITS:
        raise ValueError(f"unknown ad split {split!r}; choose one of {', '.join(AD_SPLITS)}")
    ads = load_handwritten() if split == "handwritten" else [a for a in generate_dataset() if a.split == split]
    return ads[:limit] if limit else ads


async def run_bounded(items: Sequence[Any], work: Callable[[int, Any], Awaitable[T]], concurrency: int,
                      desc: str) -> list[T]:
    """`work(i, item)` for every item, at most `concurrency` at once, with a progress bar; results in order."""
    gate = asyncio.Semaphore(concurrency)
    results: list[T] = [None] * len(items)  # type: ignore[list-item]
    bar = tqdm(total=len(items), desc=desc, unit="ex")

    async def one(i: int, item: Any) -> None:
        async with gate:
            results[i] = await work(i, item)
        bar.update()

    await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
    bar.close()
    return results


async def evaluate_ads(engine: Engine, ads: Sequence[LabelledAd], *, suggest: bool, concurrency: int,
                       mode: Mode = "auto", task_format: TaskFormat = "catalogue") -> dict:
    """The ads as the endpoint checks them: ``mode`` (its default ``auto``) and the model's task format."""

    async def work(i: int, item: LabelledAd) -> tuple[ComplianceOutcome, UsageTally]:
        generate = StructuredGenerator(engine, f"eval-ad-{i}", input_param="ad")
        outcome = await check_ad(item.ad, generate, suggest=suggest, mode=mode, task_format=task_format)
        return outcome, generate.usage

    results = await run_bounded(ads, work, concurrency, "ads")
    outcomes = [outcome for outcome, _ in results]
    gold = [a.labels for a in ads]
    predicted = [[v.policy_id for v in o.verdict.violations] for o in outcomes]
    report = {
        "n": len(ads),
        "detection": score_detection(gold, predicted).model_dump(),
        "detection_stderr": _detection_stderr(gold, predicted),
        "rules_only": score_detection(gold, [detected_policy_ids(a.ad) for a in ads]).model_dump(),
        "model_checked_rate": sum(o.verdict.model_checked for o in outcomes) / max(len(outcomes), 1),
        "usage": {"prompt_tokens": sum(u.prompt_tokens for _, u in results),
                  "completion_tokens": sum(u.completion_tokens for _, u in results)},
        "rows": [{"id": a.id, "gold": list(g), "predicted": p, "f1": example_f1(g, p),
                  "flagged": not o.verdict.compliant,
                  "revision_passed": o.revision_compliant is True if suggest and not o.verdict.compliant else None}
                 for a, g, p, o in zip(ads, gold, predicted, outcomes, strict=True)],
    }
    if suggest:
        flagged = [(a, o) for a, o in zip(ads, outcomes) if not o.verdict.compliant]
        report["revisions"] = score_revisions(
            [a.ad for a, _ in flagged], [o.suggested_revision for _, o in flagged],
            [o.revision_compliant for _, o in flagged], [o.verdict.violations for _, o in flagged],
        ).model_dump()
        revised = report["revisions"]
        revised["pass_rate_stderr"] = proportion_stderr(revised["pass_rate"], revised["n"])
    return report


def _detection_stderr(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float | None]:
    """Bootstrap standard errors (over ads) of the micro and macro F1."""
    pairs = list(zip(gold, predicted, strict=True))

    def scores(sample: list) -> Any:
        return score_detection([g for g, _ in sample], [p for _, p in sample])

    return {"micro_f1": bootstrap_stderr(pairs, lambda sample: scores(sample).micro.f1),
            "macro_f1": bootstrap_stderr(pairs, lambda sample: scores(sample).macro_f1)}


async def evaluate_tables(engine: Engine, split: str, limit: int | None, concurrency: int) -> dict:
    """Cell F1 on E2E. The reference's attribute names are requested as the columns: scoring
    compares column names literally, so without them a model is scored on guessing E2E's
    naming (``eatType``) rather than on reading the values."""
    examples = load_e2e(split)[:limit] if limit else load_e2e(split)

    async def work(i: int, ex) -> TableOutcome:
        generate = StructuredGenerator(engine, f"eval-t2t-{i}", input_param="text")
        return await extract_table(ex.text, ex.table.columns, generate)

    outcomes = await run_bounded(examples, work, concurrency, "tables")
    pairs = [(o.table, ex.table) for o, ex in zip(outcomes, examples)]
    score = score_tables(pairs)
    return {
        "n": len(examples),
        "split": split,
        "cell_precision": score.precision,
        "cell_recall": score.recall,
        "cell_f1": score.f1,
        "cell_f1_stderr": bootstrap_stderr(pairs, lambda sample: score_tables(sample).f1),
        "complete_rate": sum(o.complete for o in outcomes) / max(len(outcomes), 1),
        "rows": [_table_row(ex.id, predicted, reference) for ex, (predicted, reference) in zip(examples, pairs, strict=True)],
    }


def _table_row(example_id: str, predicted: Table, reference: Table) -> dict[str, Any]:
    cells = score_table(predicted, reference)
    return {"id": example_id, "matched": cells.matched, "predicted": cells.predicted, "reference": cells.reference,
            "f1": cells.f1}
