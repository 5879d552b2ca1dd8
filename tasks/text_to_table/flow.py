"""The whole text-to-table flow, given a ``generate`` callable: prompt, bounded schema, one
generation, parse, and the partial rows of an answer that was cut off or unreadable.

Pure logic: the caller owns I/O. The server and evaluation pass an async ``generate``
(an `inference.generation.StructuredGenerator`), as for :func:`tasks.ad_compliance.checker.check_ad`.
A model answer that is cut off or unreadable is not an error of the request: the outcome carries
whatever complete rows could be recovered, with ``complete=False`` and the reason in ``warnings``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tasks.text_to_table.parse import parse_table_output
from tasks.text_to_table.prompt import build_messages
from tasks.text_to_table.schema import max_tokens_for, output_schema
from tasks.text_to_table.table import Table

Generate = Callable[[list[dict[str, str]], dict[str, Any], int], Awaitable[tuple[str, str | None]]]
"""``await generate(messages, json_schema, max_tokens) -> (text, finish_reason)``."""


@dataclass(frozen=True)
class TableOutcome:
    """The extracted table; ``complete`` is False when only the rows that could be recovered are in it."""

    table: Table
    complete: bool
    warnings: list[str] = field(default_factory=list)


async def extract_table(text: str, columns: Sequence[str] | None, generate: Generate) -> TableOutcome:
    """A table from `text`, with `columns` (in order) when given.

    Raises:
        tasks.text_to_table.schema.TableRequestError: blank text or invalid columns (before any generation).
    """
    messages = build_messages(text, columns)
    answer, _finish_reason = await generate(messages, output_schema(columns), max_tokens_for(columns))
    parsed = parse_table_output(answer, columns)
    if parsed.ok:
        return TableOutcome(parsed.table, True, list(parsed.warnings))
    empty = Table(columns=list(columns or []), rows=[])
    return TableOutcome(parsed.partial or empty, False, [f"{parsed.reason}: {parsed.message}"])
