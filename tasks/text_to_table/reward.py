"""The text-to-table reward: cell F1 of the table in a reply against the reference table.

One definition for PPO's task reward (:mod:`training.ppo.task_rewards`) and ``icegrt rank --by
scorer`` (:mod:`training.rank.scorers`). The reply is read with :func:`~tasks.text_to_table.parse.
parse_table_output` (prose and code fences around the JSON are skipped); a reply cut off mid-JSON
keeps its complete rows (``partial``), and one with no table scores 0. Cells are compared as in
evaluation (:func:`~tasks.text_to_table.score.score_table`), so the reward is the per-example
version of the evaluation's cell F1.

Example: reference ``name=Blue Spice, area=city centre``; a reply whose table has
``name=Blue Spice, area=riverside, food=French`` matches 1 of 3 predicted and 1 of 2 reference
cells: P = 1/3, R = 1/2, reward 2PR/(P+R) = 0.4.
"""

from __future__ import annotations

from tasks.text_to_table.parse import ParsedTable, parse_table_output
from tasks.text_to_table.score import score_table
from tasks.text_to_table.table import Table


def table_reward(text: str, reference: Table) -> float:
    """Cell F1 in [0, 1] of the table read from `text` against `reference` (0 when none is read)."""
    parsed = parse_table_output(text)
    predicted = parsed.table if isinstance(parsed, ParsedTable) else parsed.partial
    return score_table(predicted, reference).f1
