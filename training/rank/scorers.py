"""Scores of sampled replies by the domain tasks' own scorers (``icegrt rank --by scorer``).

A sample record's ``task`` picks the scorer; each returns a score in [0, 1] for one reply:

    ad_compliance      F1 of the policy ids in the reply's JSON judgement against the ad's gold
                       labels (the PPO task reward, :func:`training.ppo.rewards.ad_compliance_reward`;
                       unparsable or cut off: 0); needs ``gold`` (the labelled ad)
    e2e_text_to_table  cell-level F1 of the table read from the reply against the reference table
                       (:mod:`tasks.text_to_table`; a cut-off reply keeps its complete rows)
    gsm8k              1 when the reply's final number (after ``####``, else its last number)
                       equals the reference's answer after ``####``, else 0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from training.rank.pairs import RankInputError


def ad_compliance_score(record: dict[str, Any], text: str, finish_reason: str | None) -> float:
    from tasks.ad_compliance.data import LabelledAd
    from training.ppo.prompts import Prompt
    from training.ppo.rewards import ad_compliance_reward

    if not record.get("gold"):
        raise RankInputError(f"{record['prompt_id']}: an ad_compliance record needs gold (the labelled ad)")
    prompt = Prompt(tuple(record["prompt"]), "ad_compliance", record["prompt_id"], gold=LabelledAd.model_validate(record["gold"]))
    return float(ad_compliance_reward(prompt, text, finish_reason == "stop"))


def table_score(record: dict[str, Any], text: str, finish_reason: str | None) -> float:
    from tasks.text_to_table.parse import ParsedTable, parse_table_output
    from tasks.text_to_table.score import score_table
    from tasks.text_to_table.table import Table

    try:
        reference = Table.model_validate_json(record.get("reference") or "")
    except ValueError:
        raise RankInputError(f"{record['prompt_id']}: an e2e_text_to_table record needs the reference table as JSON") from None
    parsed = parse_table_output(text)
    predicted = parsed.table if isinstance(parsed, ParsedTable) else parsed.partial
    return score_table(predicted, reference).f1


def gsm8k_score(record: dict[str, Any], text: str, finish_reason: str | None) -> float:
    from training.evaluate.general.metrics import INVALID, exact_match, flexible_answer, strict_answer

    answer = strict_answer(record.get("reference") or "")
    if answer == INVALID:
        raise RankInputError(f"{record['prompt_id']}: a gsm8k record needs a reference ending in '#### <answer>'")
    predicted = strict_answer(text)
    if predicted == INVALID:
        predicted = flexible_answer(text)
    return 1.0 if predicted != INVALID and exact_match(predicted, answer) else 0.0


SCORERS: dict[str, Callable[[dict[str, Any], str, str | None], float]] = {
    "ad_compliance": ad_compliance_score,
    "e2e_text_to_table": table_score,
    "gsm8k": gsm8k_score,
}


def score_record(record: dict[str, Any]) -> dict[str, float]:
    """Every reply's score by the record's task scorer (response id -> score)."""
    scorer = SCORERS[record["task"]]
    return {r["response_id"]: scorer(record, r["text"], r.get("finish_reason")) for r in record["responses"]}
