"""The schema as vLLM's structured-output backend (xgrammar) compiles it, when it is installed."""

import json

import pytest

from tasks.text_to_table.schema import TableLimits, max_tokens_for, output_schema

xgr = pytest.importorskip("xgrammar", reason="xgrammar (installed with vLLM) is not available")
from xgrammar.testing import _is_grammar_accept_string  # noqa: E402

SMALL = TableLimits(max_columns=2, max_rows=1, max_column_chars=3, max_cell_chars=4)


def _accepts(schema, text):
    grammar = xgr.Grammar.from_json_schema(json.dumps(schema), any_whitespace=False)
    return _is_grammar_accept_string(grammar, text)


def test_longest_answer_is_accepted_and_fits_the_budget():
    longest = '{"columns": ["aaa", "bbb"], "rows": [["cccc", "dddd"]]}'
    assert _accepts(output_schema(limits=SMALL), longest)
    assert len(longest) + 1 == max_tokens_for(limits=SMALL)


def test_one_character_too_many_is_rejected():
    assert not _accepts(output_schema(limits=SMALL), '{"columns": ["aaa"], "rows": [["ccccc"]]}')


def test_pinned_columns():
    schema = output_schema(["name", "eat type"], TableLimits(max_rows=1, max_cell_chars=4))
    assert _accepts(schema, '{"columns": ["name", "eat type"], "rows": [["Blue", "pub"]]}')
    assert not _accepts(schema, '{"columns": ["eat type", "name"], "rows": []}')
    assert not _accepts(schema, '{"columns": ["name", "eat type"], "rows": [["Blue"]]}')
