"""Model text to :class:`Table`, without ever raising on bad model output.

A model's answer can be wrapped in a markdown fence, followed by chatter, cut off by
``max_tokens`` (``finish_reason="length"``) or shaped a little differently from what was asked
(rows as objects, numbers instead of strings, rows one cell short). :func:`parse_table_output`
repairs what it safely can and says so in ``warnings``; what it cannot repair comes back as a
:class:`TableParseFailure` whose ``reason`` the server maps to a response, with whatever complete
rows a truncated answer held in ``partial``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tasks.text_to_table.table import Table, normalize_text

_FENCE = re.compile(r"```[a-zA-Z]*\s*(.*?)\s*(?:```|$)", re.DOTALL)
_CLOSERS = {"{": "}", "[": "]"}
_MAX_SALVAGE_TRIES = 64
_MAX_DEPTH = 32  # a table nests 3 deep; a deeper cut-off answer is not worth salvaging


@dataclass(frozen=True)
class ParsedTable:
    """A table read from the model's answer; ``warnings`` lists every repair made."""

    table: Table
    warnings: tuple[str, ...] = ()
    ok: Literal[True] = True


@dataclass(frozen=True)
class TableParseFailure:
    """Why no table could be read.

    ``reason``: ``empty`` (blank answer), ``not_json`` (no JSON object, or malformed JSON that
    was not merely cut off), ``truncated`` (JSON cut off before its end; ``partial`` holds the
    complete rows before the cut, if any) or ``wrong_shape`` (valid JSON, but not a table).
    """

    reason: Literal["empty", "not_json", "truncated", "wrong_shape"]
    message: str
    partial: Table | None = None
    ok: Literal[False] = False


TableParse = ParsedTable | TableParseFailure


def parse_table_output(text: str, columns: Sequence[str] | None = None) -> TableParse:
    """Read ``{"columns": [...], "rows": [[...]]}`` from a model's answer.

    With ``columns`` (the names the request asked for), the result has exactly those columns
    in that order: the model's columns are matched to them by case- and space-insensitive name,
    missing ones are filled with ``""`` and extra ones dropped. Rows are padded with ``""`` or
    cut to the column count. Check ``result.ok`` to tell the two result types apart.
    """
    body = _unfence(text)
    if not body:
        return TableParseFailure("empty", "the model returned no text")
    start = body.find("{")
    if start < 0:
        return TableParseFailure("not_json", "the answer contains no JSON object")
    try:
        obj, end = json.JSONDecoder().raw_decode(body, start)
    except json.JSONDecodeError as exc:
        return _salvage(body[start:], columns, exc.msg)
    except RecursionError:
        return TableParseFailure("not_json", "the answer's JSON is nested too deeply to be a table")
    warnings = []
    if body[end:].strip():
        warnings.append(f"ignored {len(body[end:].strip())} characters after the JSON object")
    return _to_table(obj, columns, warnings)


def _unfence(text: str) -> str:
    match = _FENCE.search(text)
    return (match.group(1) if match else text).strip()


def _salvage(fragment: str, columns: Sequence[str] | None, error: str) -> TableParseFailure:
    """Tell a cut-off answer from a malformed one; for a cut-off one, keep its complete rows.

    Scans the fragment once, tracking open brackets outside strings. It is truncated if the text
    ends with brackets still open and no bracket was ever closed by the wrong kind. The cut
    points tried are the positions just after each closing bracket, latest first: closing the
    brackets still open there yields valid JSON holding everything complete up to that point.
    """
    stack: list[str] = []
    cuts: list[tuple[int, str]] = []
    in_string = escaped = False
    for index, char in enumerate(fragment):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in _CLOSERS:
            stack.append(char)
            if len(stack) > _MAX_DEPTH:
                return TableParseFailure("not_json", "the answer's JSON is nested too deeply to be a table")
        elif char in "]}":
            if not stack or _CLOSERS[stack.pop()] != char:
                return TableParseFailure("not_json", f"the answer is not valid JSON: {error}")
            if not stack:
                break  # a complete object that still failed to parse: malformed, not cut off
            cuts.append((index + 1, "".join(_CLOSERS[c] for c in reversed(stack))))
    if not stack and not in_string:
        return TableParseFailure("not_json", f"the answer is not valid JSON: {error}")
    message = "the answer was cut off before its JSON ended (raise max_tokens or lower the table size)"
    for cut, closing in reversed(cuts[-_MAX_SALVAGE_TRIES:]):
        try:
            obj = json.loads(fragment[:cut] + closing)
        except json.JSONDecodeError:
            continue
        result = _to_table(obj, columns, [])
        if isinstance(result, ParsedTable):
            return TableParseFailure("truncated", message, partial=result.table)
    return TableParseFailure("truncated", message)


def _to_table(obj: Any, requested: Sequence[str] | None, warnings: list[str]) -> TableParse:
    if not isinstance(obj, dict):
        return TableParseFailure("wrong_shape", f"expected a JSON object, got {type(obj).__name__}")
    rows = obj.get("rows", [])
    if not isinstance(rows, list):
        return TableParseFailure("wrong_shape", '"rows" is not a list')
    raw_columns = obj.get("columns")
    if raw_columns is None and rows and all(isinstance(row, dict) for row in rows):
        raw_columns = list(dict.fromkeys(key for row in rows for key in row))
    if not isinstance(raw_columns, list):
        if requested is None:
            return TableParseFailure("wrong_shape", 'no "columns" list in the answer')
        raw_columns = list(requested)
    columns = [_cell(name) for name in raw_columns]
    cells = [_row_cells(row, columns, index, warnings) for index, row in enumerate(rows)]
    if requested is not None:
        columns, cells = _select(columns, cells, [str(name) for name in requested], warnings)
    if cells and not columns:
        return TableParseFailure("wrong_shape", "the answer has rows but no column names")
    return ParsedTable(Table(columns=columns, rows=cells), tuple(warnings))


def _row_cells(row: Any, columns: list[str], index: int, warnings: list[str]) -> list[str]:
    """One row as exactly ``len(columns)`` strings."""
    if isinstance(row, dict):
        values = {normalize_text(str(key)): value for key, value in row.items()}
        return [_cell(values.get(normalize_text(name))) for name in columns]
    if not isinstance(row, list):
        warnings.append(f"row {index} was a single value, not a list")
        row = [row]
    cells = [_cell(value) for value in row]
    if len(cells) != len(columns):
        action = "padded" if len(cells) < len(columns) else "cut"
        warnings.append(f"row {index} had {len(cells)} cells for {len(columns)} columns; {action}")
        cells = (cells + [""] * len(columns))[: len(columns)]
    return cells


def _select(
    columns: list[str], rows: list[list[str]], requested: list[str], warnings: list[str]
) -> tuple[list[str], list[list[str]]]:
    """Rearrange ``rows`` to the requested columns, matching names case- and space-insensitively."""
    position: dict[str, int] = {}
    for index, name in enumerate(columns):
        position.setdefault(normalize_text(name), index)
    found = [position.get(normalize_text(name)) for name in requested]
    if all(index is None for index in found) and len(columns) == len(requested):
        warnings.append("no column name matched the requested ones; mapped them by position")
        found = list(range(len(requested)))
    missing = [name for name, index in zip(requested, found) if index is None]
    if missing:
        warnings.append(f"requested columns missing from the answer, left empty: {missing}")
    extra = [name for index, name in enumerate(columns) if index not in found]
    if extra:
        warnings.append(f"dropped columns that were not requested: {extra}")
    selected = [[row[index] if index is not None else "" for index in found] for row in rows]
    return requested, selected


def _cell(value: Any) -> str:
    """A JSON value as cell text: strings as they are, null as "", anything else as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)
