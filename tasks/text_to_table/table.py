"""The table type shared by the prompt, parser, scorer and server, and its renderings."""

from __future__ import annotations

import csv
import io
import json

from pydantic import BaseModel, ConfigDict, model_validator


class Table(BaseModel):
    """Named columns and rows of string cells; every row has exactly one cell per column."""

    model_config = ConfigDict(frozen=True)

    columns: list[str]
    rows: list[list[str]]

    @model_validator(mode="after")
    def _rows_match_columns(self) -> Table:
        for index, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"row {index} has {len(row)} cells but there are {len(self.columns)} "
                    "columns; give every row one cell per column (use '' for a missing value)"
                )
        return self

    def to_json(self) -> str:
        """Compact JSON in the shape the model is asked for (also the SFT target)."""
        return json.dumps({"columns": self.columns, "rows": self.rows}, ensure_ascii=False)


def normalize_text(text: str) -> str:
    """Lowercased, stripped, every run of whitespace (spaces, tabs, newlines) made one space.

    How column names are matched to requested ones and how the scorer compares cells:
    ``"  Customer   Rating "`` and ``"customer rating"`` are the same name.
    """
    return " ".join(text.split()).lower()


def to_markdown(table: Table) -> str:
    """A GitHub-flavoured markdown table; ``|`` is escaped and line breaks become spaces.

    A table without columns renders as an empty string.
    """
    if not table.columns:
        return ""

    def line(cells: list[str]) -> str:
        escaped = (" ".join(cell.replace("|", "\\|").split()) for cell in cells)
        return "| " + " | ".join(escaped) + " |"

    lines = [line(table.columns), "|" + "|".join("---" for _ in table.columns) + "|"]
    lines.extend(line(row) for row in table.rows)
    return "\n".join(lines) + "\n"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formula(cell: str) -> str:
    """A cell a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``+1``, ``@SUM``), as text:
    a leading ``'`` (OWASP's CSV-injection advice). The table's text comes from the model, which copies
    its input, so anyone who writes that input could otherwise plant a formula in the file."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def to_csv(table: Table) -> str:
    """RFC 4180 CSV (header row first, CRLF line ends, quotes where a cell needs them), formulas neutralised."""
    if not table.columns:
        return ""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in (table.columns, *table.rows):
        writer.writerow([neutralize_formula(cell) for cell in row])
    return buffer.getvalue()
