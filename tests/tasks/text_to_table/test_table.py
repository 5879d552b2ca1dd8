import csv
import io

import pytest
from pydantic import ValidationError

from tasks.text_to_table.table import Table, normalize_text, to_csv, to_markdown


def test_rows_must_have_one_cell_per_column():
    with pytest.raises(ValidationError, match="row 1 has 1 cells but there are 2 columns"):
        Table(columns=["a", "b"], rows=[["1", "2"], ["3"]])


def test_normalize_text_lowercases_strips_and_collapses_whitespace():
    assert normalize_text("  Customer \t Rating\n ") == "customer rating"


def test_markdown_escapes_pipes_and_flattens_newlines():
    table = Table(columns=["name", "note"], rows=[["A|B", "two\nlines"], ["C", ""]])
    assert to_markdown(table) == (
        "| name | note |\n"
        "|---|---|\n"
        "| A\\|B | two lines |\n"
        "| C |  |\n"
    )


def test_csv_quotes_what_needs_quoting_and_reads_back():
    table = Table(columns=["name", "price"], rows=[['The "Eagle", Inn', "less than £20"], ["a\nb", ""]])
    text = to_csv(table)
    assert text.startswith('name,price\r\n"The ""Eagle"", Inn",less than £20\r\n')
    assert list(csv.reader(io.StringIO(text))) == [table.columns, *table.rows]


def test_csv_neutralises_spreadsheet_formulas():
    cells = ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "a=b", "plain"]
    table = Table(columns=["=col", "b", "c", "d", "e", "f", "g"], rows=[cells])
    header, row = list(csv.reader(io.StringIO(to_csv(table))))
    assert header[0] == "'=col"
    assert row == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "a=b", "plain"]


def test_table_without_columns_renders_empty():
    empty = Table(columns=[], rows=[])
    assert to_markdown(empty) == "" and to_csv(empty) == ""


def test_to_json_is_compact_and_keeps_unicode():
    table = Table(columns=["price"], rows=[["£20-25"]])
    assert table.to_json() == '{"columns": ["price"], "rows": [["£20-25"]]}'
