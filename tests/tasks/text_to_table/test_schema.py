import json

import jsonschema
import pytest

from tasks.text_to_table.schema import (
    DEFAULT_LIMITS,
    TableLimits,
    TableRequestError,
    check_columns,
    max_tokens_for,
    output_schema,
)

SMALL = TableLimits(max_columns=2, max_rows=1, max_column_chars=3, max_cell_chars=4)


def _walk(node):
    yield node
    for value in node.values():
        children = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, dict):
                yield from _walk(child)


@pytest.mark.parametrize("columns", [None, ["name", "area"]])
def test_every_array_and_string_is_bounded(columns):
    schema = output_schema(columns)
    jsonschema.Draft202012Validator.check_schema(schema)
    for node in _walk(schema):
        if node.get("type") == "array":
            assert "maxItems" in node, node
        if node.get("type") == "string":
            assert "maxLength" in node, node


def test_schema_accepts_a_table_and_rejects_overlong_or_extra_parts():
    validator = jsonschema.Draft202012Validator(output_schema(limits=SMALL))
    assert validator.is_valid({"columns": ["abc", "d"], "rows": [["wxyz", ""]]})
    assert not validator.is_valid({"columns": ["abcd"], "rows": []})  # name too long
    assert not validator.is_valid({"columns": ["a"], "rows": [["x"], ["y"]]})  # too many rows
    assert not validator.is_valid({"columns": ["a"], "rows": [], "note": "x"})


def test_requested_columns_are_pinned_in_order_and_rows_sized_to_them():
    validator = jsonschema.Draft202012Validator(output_schema(["name", "area"]))
    assert validator.is_valid({"columns": ["name", "area"], "rows": [["Blue Spice", "riverside"]]})
    assert not validator.is_valid({"columns": ["area", "name"], "rows": []})
    assert not validator.is_valid({"columns": ["name", "area", "food"], "rows": []})
    assert not validator.is_valid({"columns": ["name", "area"], "rows": [["Blue Spice"]]})


def test_max_tokens_is_the_longest_allowed_answer_plus_eos():
    # envelope 23 + columns ["aaa", "bbb"] 14 + rows [["cccc", "dddd"]] 18 + EOS 1 = 56
    longest = '{"columns": ["aaa", "bbb"], "rows": [["cccc", "dddd"]]}'
    assert len(longest) == 55
    assert max_tokens_for(limits=SMALL) == 56
    # pinned: ["ab"] is 6 characters; rows [["cccc"]] 10: 23 + 6 + 10 + 1 = 40
    assert max_tokens_for(["ab"], SMALL) == 40


def test_default_budget():
    # columns 2 + 10*34 + 18 = 360; row 2 + 10*50 + 18 = 520; rows 2 + 12*520 + 22 = 6264
    assert max_tokens_for() == 23 + 360 + 6264 + 1
    assert max_tokens_for(["name"]) < max_tokens_for()


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ([], "columns is empty"),
        (["a", " "], "must not be empty"),
        ([str(i) for i in range(DEFAULT_LIMITS.max_columns + 1)], "at most 10"),
        (["x" * 33], "at most 32"),
        (["Area", "area "], "requested twice"),
    ],
)
def test_bad_columns_say_what_to_fix(columns, message):
    with pytest.raises(TableRequestError, match=message) as info:
        check_columns(columns)
    assert info.value.param == "columns"


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="max_rows must be at least 1"):
        TableLimits(max_rows=0)


def test_schema_is_json_serialisable():
    assert json.loads(json.dumps(output_schema(["a"]))) == output_schema(["a"])
