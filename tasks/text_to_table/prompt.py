"""Chat messages that ask a model to extract a table from text.

The instructions are the same for every request and come first (the system message); the
requested columns, if any, and then the text come last. vLLM's prefix caching reuses the KV cache
of a shared prompt prefix, so every request after the first skips the instructions' prefill.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from tasks.text_to_table.schema import DEFAULT_LIMITS, TableLimits, TableRequestError, check_columns

SYSTEM_PROMPT = (
    "You turn text into a table. Answer with one JSON object and nothing else, in the form "
    '{"columns": ["column name", ...], "rows": [["cell", ...], ...]}. '
    "Each row is one entity or record described in the text and has exactly one cell per column. "
    "Copy values from the text, keep them short, and use an empty string where the text gives no "
    "value. When the user lists the columns, use exactly those names in that order."
)


def build_messages(
    text: str, columns: Sequence[str] | None = None, limits: TableLimits = DEFAULT_LIMITS
) -> list[dict[str, str]]:
    """``[system, user]`` messages for ``text``, optionally pinning the column names.

    Raises:
        TableRequestError: ``text`` is blank (``param="text"``), or ``columns`` is invalid
            (``param="columns"``, see :func:`~tasks.text_to_table.schema.check_columns`).
    """
    if not text.strip():
        raise TableRequestError("text is empty: send the text to extract a table from", param="text")
    user = f"Text:\n{text}"
    if columns is not None:
        names = check_columns(columns, limits)
        user = f"Columns: {json.dumps(names, ensure_ascii=False)}\n\n{user}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
