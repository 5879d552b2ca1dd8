"""The bounded JSON schema the model's answer must follow, and the token budget it implies.

vLLM enforces ``response_format={"type": "json_schema", ...}`` with a grammar, but a grammar
alone does not stop a model that repeats one array item forever: generation only ends at
``max_tokens``, and the cut-off JSON is unparseable (DESIGN.md section 5). Every array and
string here therefore has ``maxItems``/``maxLength``, and :func:`max_tokens_for` turns those
bounds into a ``max_tokens`` large enough for any answer the schema allows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class TableRequestError(ValueError):
    """A text-to-table request that cannot be served; ``param`` names the offending field."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class TableLimits:
    """Upper bounds on a generated table; each one becomes a ``maxItems`` or ``maxLength``."""

    max_columns: int = 10
    max_rows: int = 12
    max_column_chars: int = 32
    max_cell_chars: int = 48

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value < 1:
                raise ValueError(f"TableLimits.{name} must be at least 1, got {value}")


DEFAULT_LIMITS = TableLimits()


def check_columns(columns: Sequence[str], limits: TableLimits = DEFAULT_LIMITS) -> list[str]:
    """Requested columns with whitespace collapsed.

    Raises:
        TableRequestError: (``param="columns"``) empty list, empty, too long or repeated name,
            or more names than ``limits`` allow.
    """
    cleaned = [" ".join(str(name).split()) for name in columns]
    if not cleaned:
        raise _bad_columns("columns is empty: leave it out to let the model choose, or name at least one")
    if len(cleaned) > limits.max_columns:
        raise _bad_columns(f"{len(cleaned)} columns requested; at most {limits.max_columns} are allowed")
    seen: set[str] = set()
    for name in cleaned:
        if not name:
            raise _bad_columns("column names must not be empty")
        if len(name) > limits.max_column_chars:
            raise _bad_columns(
                f"column name {name[:40]!r} is {len(name)} characters long; "
                f"at most {limits.max_column_chars} are allowed"
            )
        if name.lower() in seen:
            raise _bad_columns(f"column {name!r} is requested twice (names are compared case-insensitively)")
        seen.add(name.lower())
    return cleaned


def _bad_columns(message: str) -> TableRequestError:
    return TableRequestError(message, param="columns")


def output_schema(
    columns: Sequence[str] | None = None, limits: TableLimits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """JSON schema ``{"columns": [str], "rows": [[str]]}`` with every array and string bounded.

    With ``columns`` given, the answer's columns are pinned to exactly those names in that order
    (``prefixItems`` of ``const``) and each row has exactly that many cells, so the parser never
    has to guess which value belongs where.
    """
    cell = {"type": "string", "maxLength": limits.max_cell_chars}
    if columns is None:
        columns_schema: dict[str, Any] = {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": limits.max_column_chars},
            "minItems": 1,
            "maxItems": limits.max_columns,
        }
        row = {"type": "array", "items": cell, "maxItems": limits.max_columns}
    else:
        names = check_columns(columns, limits)
        n = len(names)
        columns_schema = {
            "type": "array",
            "prefixItems": [{"const": name} for name in names],
            "items": False,
            "minItems": n,
            "maxItems": n,
        }
        row = {"type": "array", "items": cell, "minItems": n, "maxItems": n}
    return {
        "type": "object",
        "properties": {
            "columns": columns_schema,
            "rows": {"type": "array", "items": row, "maxItems": limits.max_rows},
        },
        "required": ["columns", "rows"],
        "additionalProperties": False,
    }


def max_tokens_for(columns: Sequence[str] | None = None, limits: TableLimits = DEFAULT_LIMITS) -> int:
    """A ``max_tokens`` that fits the longest answer :func:`output_schema` allows, plus the EOS.

    Counts characters of the longest answer in the ``", "`` / ``": "`` separator style that
    xgrammar emits, at one token per character: a byte-level BPE token covers at least one byte,
    so this holds for ASCII text. Non-ASCII cells (``£``) and extra whitespace (vLLM allows any
    whitespace unless ``disable_any_whitespace`` is set) can need more; such an answer ends with
    ``finish_reason="length"`` and :func:`~tasks.text_to_table.parse.parse_table_output` reports
    it as truncated. The server should also cap the result at the context room left.
    """
    if columns is None:
        n_columns = limits.max_columns
        columns_chars = _array_chars([limits.max_column_chars + 2] * n_columns)
    else:
        names = check_columns(columns, limits)
        n_columns = len(names)
        columns_chars = len(json.dumps(names, ensure_ascii=False))
    row_chars = _array_chars([limits.max_cell_chars + 2] * n_columns)
    rows_chars = _array_chars([row_chars] * limits.max_rows)
    envelope = len('{"columns": , "rows": }')
    return envelope + columns_chars + rows_chars + 1


def _array_chars(item_chars: list[int]) -> int:
    """Characters of ``[a, b, c]`` given the length of each item."""
    return 2 + sum(item_chars) + 2 * max(len(item_chars) - 1, 0)
