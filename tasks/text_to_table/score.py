"""Cell-level precision, recall and F1 of a predicted table against a reference table.

A table is scored as the multiset of its non-empty cells, each cell a pair
``(normalize_text(column name), normalize_text(value))``: lowercased, stripped, whitespace runs
collapsed to one space (:func:`~tasks.text_to_table.table.normalize_text`). Row order and column
order do not matter; a value under the wrong column does not count. Empty cells are left out,
so padding a row with ``""`` neither helps nor hurts. Over a data set the counts are summed
before dividing (micro-average), so large tables weigh more than small ones.

Example: reference ``name=Blue Spice, area=city centre``; prediction ``Name=blue  spice,
area=riverside, food=French``: 1 of 3 predicted cells is right (P = 1/3), 1 of 2 reference
cells is found (R = 1/2), F1 = 2PR/(P+R) = 0.4.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from tasks.text_to_table.table import Table, normalize_text


@dataclass(frozen=True)
class CellScore:
    """Matched, predicted and reference cell counts; add them up to micro-average.

    With no predicted cells, precision is 1 if there was nothing to find and 0 otherwise; with no
    reference cells, recall is 1 if nothing was predicted and 0 otherwise. So two empty tables
    score 1 and an empty prediction of a non-empty table scores 0.
    """

    matched: int = 0
    predicted: int = 0
    reference: int = 0

    def __add__(self, other: CellScore) -> CellScore:
        return CellScore(
            self.matched + other.matched, self.predicted + other.predicted, self.reference + other.reference
        )

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else float(self.reference == 0)

    @property
    def recall(self) -> float:
        return self.matched / self.reference if self.reference else float(self.predicted == 0)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def table_cells(table: Table) -> Counter[tuple[str, str]]:
    """The non-empty cells of ``table`` as normalised ``(column, value)`` pairs, with counts."""
    columns = [normalize_text(name) for name in table.columns]
    cells: Counter[tuple[str, str]] = Counter()
    for row in table.rows:
        for column, value in zip(columns, row):
            if value := normalize_text(value):
                cells[(column, value)] += 1
    return cells


def score_table(predicted: Table | None, reference: Table) -> CellScore:
    """Counts for one example; ``predicted=None`` (the answer did not parse) finds nothing."""
    gold = table_cells(reference)
    guess = table_cells(predicted) if predicted is not None else Counter()
    return CellScore(
        matched=sum((gold & guess).values()), predicted=sum(guess.values()), reference=sum(gold.values())
    )


def score_tables(pairs: Iterable[tuple[Table | None, Table]]) -> CellScore:
    """Micro-averaged counts over ``(predicted, reference)`` pairs."""
    return sum((score_table(predicted, reference) for predicted, reference in pairs), CellScore())
