from hypothesis import given
from hypothesis import strategies as st

from tasks.text_to_table.parse import ParsedTable, TableParseFailure, parse_table_output
from tasks.text_to_table.table import Table

GOOD = '{"columns": ["name", "area"], "rows": [["Blue Spice", "riverside"], ["Aromi", "city centre"]]}'


def test_valid_answer():
    result = parse_table_output(GOOD)
    assert result == ParsedTable(
        Table(columns=["name", "area"], rows=[["Blue Spice", "riverside"], ["Aromi", "city centre"]])
    )
    assert result.ok and result.warnings == ()


def test_markdown_fence_and_trailing_chatter():
    result = parse_table_output(f"Here you go:\n```json\n{GOOD}\n```\nAnything else?")
    assert result.ok and result.warnings == ()
    result = parse_table_output(f"{GOOD} Hope this helps")
    assert result.ok and result.warnings == ("ignored 15 characters after the JSON object",)


def test_truncated_answer_keeps_its_complete_rows():
    cut = '{"columns": ["name", "area"], "rows": [["Blue Spice", "riverside"], ["Aromi", "city ce'
    result = parse_table_output(cut)
    assert isinstance(result, TableParseFailure) and not result.ok
    assert result.reason == "truncated"
    assert result.partial == Table(columns=["name", "area"], rows=[["Blue Spice", "riverside"]])


def test_truncated_inside_a_string_with_brackets_and_escapes():
    cut = '{"columns": ["a"], "rows": [["x]\\"y"], ["[z'
    result = parse_table_output(cut)
    assert result.reason == "truncated"
    assert result.partial == Table(columns=["a"], rows=[['x]"y']])


def test_truncated_before_any_column_has_no_partial():
    result = parse_table_output('{"columns": ["na')
    assert result == TableParseFailure("truncated", result.message, partial=None)


def test_malformed_json_is_not_json():
    assert parse_table_output('{"columns": ["a"],, "rows": []}').reason == "not_json"
    assert parse_table_output('{"columns": ["a"]]').reason == "not_json"
    assert parse_table_output("I cannot make a table of that.").reason == "not_json"


def test_absurd_nesting_is_not_json_rather_than_a_crash():
    assert parse_table_output('{"a": ' + "[" * 100_000).reason == "not_json"
    assert parse_table_output('{"a": ' + "[" * 5_000).reason == "not_json"
    assert parse_table_output('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}").reason == "not_json"


def test_empty_answer():
    assert parse_table_output("  \n").reason == "empty"


def test_json_that_is_not_a_table():
    assert parse_table_output('{"rows": "none"}').reason == "wrong_shape"
    assert parse_table_output('{"rows": [["x"]]}').reason == "wrong_shape"
    assert parse_table_output('{"columns": [], "rows": [["x"]]}').reason == "wrong_shape"


def test_rows_are_padded_or_cut_to_the_column_count():
    result = parse_table_output('{"columns": ["a", "b"], "rows": [["1"], ["2", "3", "4"], "5"]}')
    assert result.table.rows == [["1", ""], ["2", "3"], ["5", ""]]
    assert result.warnings == (
        "row 0 had 1 cells for 2 columns; padded",
        "row 1 had 3 cells for 2 columns; cut",
        "row 2 was a single value, not a list",
        "row 2 had 1 cells for 2 columns; padded",
    )


def test_non_string_cells_become_text():
    result = parse_table_output('{"columns": ["n", 2], "rows": [[1.5, null], [true, ["x"]]]}')
    assert result.table == Table(columns=["n", "2"], rows=[["1.5", ""], ["true", '["x"]']])


def test_rows_given_as_objects():
    result = parse_table_output('{"rows": [{"name": "A", "area": "x"}, {"area": "y", "food": "z"}]}')
    assert result.table == Table(columns=["name", "area", "food"], rows=[["A", "x", ""], ["", "y", "z"]])


def test_requested_columns_reorder_fill_and_drop():
    answer = '{"columns": ["Area", "food", "name"], "rows": [["riverside", "French", "Aromi"]]}'
    result = parse_table_output(answer, columns=["name", "area", "near"])
    assert result.table == Table(columns=["name", "area", "near"], rows=[["Aromi", "riverside", ""]])
    assert result.warnings == (
        "requested columns missing from the answer, left empty: ['near']",
        "dropped columns that were not requested: ['food']",
    )


def test_requested_columns_fall_back_to_position_when_no_name_matches():
    result = parse_table_output('{"columns": ["x", "y"], "rows": [["1", "2"]]}', columns=["a", "b"])
    assert result.table == Table(columns=["a", "b"], rows=[["1", "2"]])
    assert "by position" in result.warnings[0]


def test_requested_columns_used_when_the_answer_has_none():
    result = parse_table_output('{"rows": [["1", "2"]]}', columns=["a", "b"])
    assert result.table == Table(columns=["a", "b"], rows=[["1", "2"]])


cells = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=8)


@given(st.integers(1, 4).flatmap(lambda n: st.tuples(
    st.lists(cells, min_size=n, max_size=n), st.lists(st.lists(cells, min_size=n, max_size=n), max_size=4)
)))
def test_round_trip_of_any_table(parts):
    table = Table(columns=parts[0], rows=parts[1])
    assert parse_table_output(table.to_json()) == ParsedTable(table)


@given(st.text(max_size=200))
def test_never_raises_on_arbitrary_text(text):
    assert parse_table_output(text).ok in (True, False)


@given(st.integers(0, len(GOOD) - 1))
def test_every_prefix_of_a_good_answer_is_a_typed_result(cut):
    result = parse_table_output(GOOD[:cut])
    assert result.reason == ("empty" if cut == 0 else "truncated")
    if result.partial is not None:
        assert result.partial.columns == ["name", "area"]
        full = [["Blue Spice", "riverside"], ["Aromi", "city centre"]]
        assert result.partial.rows == full[: len(result.partial.rows)]
