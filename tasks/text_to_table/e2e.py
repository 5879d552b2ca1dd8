"""The E2E NLG restaurant data (cleaned release) as text-to-table examples.

Each CSV row pairs a meaning representation (``mr``), which is a one-row table such as
``name[Blue Spice], eatType[coffee shop], area[city centre]``, with one sentence (``ref``)
that says exactly that. The model reads the sentence and writes the table.

Choices, so that results are comparable across runs:

- Columns are the MR's attribute names as written in the data, in the data set's canonical
  order (:data:`E2E_ATTRIBUTES`), whatever order the MR lists them in.
- The cleaning sometimes gives an attribute two values (``eatType[coffee shop],
  eatType[restaurant]``: the sentence mentions both); they share one cell, joined by ``"; "``
  in MR order.
- Several sentences describe the same MR; each sentence stays a separate example. Only exact
  repeats of an (MR, sentence) pair are dropped, keeping the first (sentences are compared,
  and kept, with each whitespace run made one space).
- ``train`` and ``dev`` come from ``e2e_devel.csv``, split by MR with a seeded shuffle so that
  no MR (and so no table) is in both; ``test`` is all of ``e2e_test.csv``.
"""

from __future__ import annotations

import csv
import math
import random
import re
from dataclasses import dataclass
from typing import Literal

from common.shared_data import shared_file
from tasks.text_to_table.table import Table

E2E_ATTRIBUTES = (
    "name", "eatType", "food", "priceRange", "customer rating", "area", "familyFriendly", "near"
)
MULTI_VALUE_SEPARATOR = "; "
_PAIR = re.compile(r"\s*([^\[\],]+?)\s*\[([^\]]*)\]\s*(?:,|$)")
_FILES = {"train": "e2e_devel.csv", "dev": "e2e_devel.csv", "test": "e2e_test.csv"}


@dataclass(frozen=True)
class E2EExample:
    """One sentence (``text``, the model's input) and the table it states (``table``)."""

    id: str
    text: str
    table: Table
    mr: str


def parse_mr(mr: str) -> Table:
    """The one-row table of an E2E meaning representation.

    Raises:
        ValueError: ``mr`` is not a comma-separated list of ``attribute[value]`` or names an
            attribute outside :data:`E2E_ATTRIBUTES`.
    """
    values: dict[str, list[str]] = {}
    position = 0
    while position < len(mr):
        match = _PAIR.match(mr, position)
        if match is None:
            raise ValueError(f"malformed E2E MR at character {position}: {mr!r}; expected attr[value], ...")
        attribute, value = match.groups()
        if attribute not in E2E_ATTRIBUTES:
            raise ValueError(f"unknown E2E attribute {attribute!r} in {mr!r}; known: {E2E_ATTRIBUTES}")
        if value not in values.setdefault(attribute, []):
            values[attribute].append(value)
        position = match.end()
    columns = [name for name in E2E_ATTRIBUTES if name in values]
    return Table(columns=columns, rows=[[MULTI_VALUE_SEPARATOR.join(values[name]) for name in columns]])


def load_e2e(
    split: Literal["train", "dev", "test"], seed: int = 0, dev_fraction: float = 0.1
) -> list[E2EExample]:
    """The examples of one split, in file order.

    ``seed`` and ``dev_fraction`` choose which MRs of ``e2e_devel.csv`` form ``dev`` (the
    fraction is of distinct MRs, rounded up); they do not affect ``test``.

    Raises:
        ValueError: unknown split or a ``dev_fraction`` outside (0, 1).
        common.shared_data.SharedDataError: the data file is missing or corrupt.
    """
    if split not in _FILES:
        raise ValueError(f"unknown E2E split {split!r}; use one of {sorted(_FILES)}")
    if not 0 < dev_fraction < 1:
        raise ValueError(f"dev_fraction must be between 0 and 1 (exclusive), got {dev_fraction}")
    examples = _read(_FILES[split])
    if split == "test":
        return examples
    mrs = sorted({example.mr for example in examples})
    random.Random(seed).shuffle(mrs)
    dev_mrs = set(mrs[: math.ceil(dev_fraction * len(mrs))])
    return [example for example in examples if (example.mr in dev_mrs) == (split == "dev")]


def _read(filename: str) -> list[E2EExample]:
    path = shared_file(f"text_to_table/{filename}")
    stem = filename.removesuffix(".csv")
    examples, seen = [], set()
    with open(path, newline="", encoding="utf-8") as handle:
        for index, row in enumerate(csv.DictReader(handle)):
            mr, text = row["mr"].strip(), " ".join(row["ref"].split())
            if (mr, text) in seen:
                continue
            seen.add((mr, text))
            examples.append(E2EExample(id=f"{stem}-{index}", text=text, table=parse_mr(mr), mr=mr))
    return examples
