"""Scores of sampled replies by the domain tasks' own scorers (``icegrt rank --by scorer``).

A sample record's ``task`` picks the scorer; each returns a score in [0, 1] for one reply:

    ad_compliance      F1 of the grounded policy ids in the reply's JSON judgement against the ad's
                       gold labels (:func:`tasks.ad_compliance.reward.judgement_reward`, also PPO's
                       task reward; unparsable or cut off: 0); needs ``gold`` (the labelled ad)
    ad_compliance_compact
                       that F1 averaged with the score of the revision the reply's fixes make
                       (:func:`tasks.ad_compliance.reward.compact_reward`, also PPO's); needs ``gold``
    e2e_text_to_table  cell-level F1 of the table read from the reply against the reference table
                       (:func:`tasks.text_to_table.reward.table_reward`, also PPO's; a cut-off reply
                       keeps its complete rows)
    gsm8k              1 when the reply's final number (after ``####``, else its last number)
                       equals the reference's answer after ``####``, else 0 (PPO's gsm8k reward,
                       :func:`training.ppo.task_rewards.gsm8k_answer_reward`)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from training.rank.pairs import RankInputError


def _labelled_ad(record: dict[str, Any]):
    from tasks.ad_compliance.data import LabelledAd

    if not record.get("gold"):
        raise RankInputError(f"{record['prompt_id']}: an {record.get('task')} record needs gold (the labelled ad)")
    return LabelledAd.model_validate(record["gold"])


def ad_compliance_score(record: dict[str, Any], text: str, finish_reason: str | None) -> float:
    from tasks.ad_compliance.reward import judgement_reward

    return judgement_reward(text, _labelled_ad(record), finish_reason == "stop")


def ad_compact_score(record: dict[str, Any], text: str, finish_reason: str | None) -> float:
    from tasks.ad_compliance.reward import compact_reward

    return compact_reward(text, _labelled_ad(record), finish_reason == "stop")


def table_score(record: dict[str, Any], text: str, finish_reason: str | None) -> float:
    from tasks.text_to_table.reward import table_reward
    from tasks.text_to_table.table import Table

    try:
        reference = Table.model_validate_json(record.get("reference") or "")
    except ValueError:
        raise RankInputError(f"{record['prompt_id']}: an e2e_text_to_table record needs the reference table as JSON") from None
    return table_reward(text, reference)


def gsm8k_score(record: dict[str, Any], text: str, finish_reason: str | None) -> float:
    from training.ppo.task_rewards import gsm8k_answer_reward

    score = gsm8k_answer_reward(text, record.get("reference") or "")
    if score is None:
        raise RankInputError(f"{record['prompt_id']}: a gsm8k record needs a reference ending in '#### <answer>'")
    return score


SCORERS: dict[str, Callable[[dict[str, Any], str, str | None], float]] = {
    "ad_compliance": ad_compliance_score,
    "ad_compliance_compact": ad_compact_score,
    "e2e_text_to_table": table_score,
    "gsm8k": gsm8k_score,
}


def score_record(record: dict[str, Any]) -> dict[str, float]:
    """Every reply's score by the record's task scorer (response id -> score)."""
    scorer = SCORERS[record["task"]]
    return {r["response_id"]: scorer(record, r["text"], r.get("finish_reason")) for r in record["responses"]}
