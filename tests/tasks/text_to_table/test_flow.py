"""The text-to-table flow with a scripted ``generate``: what the server and evaluation both run."""

from __future__ import annotations

import asyncio
import json

import pytest

from tasks.text_to_table.flow import extract_table
from tasks.text_to_table.schema import TableRequestError, max_tokens_for


def scripted(answer: str, finish_reason: str = "stop"):
    calls = []

    async def generate(messages, json_schema, max_tokens):
        calls.append((messages, json_schema, max_tokens))
        return answer, finish_reason

    generate.calls = calls
    return generate


def test_a_readable_answer_is_a_complete_table():
    generate = scripted(json.dumps({"columns": ["name", "age"], "rows": [["Alice", "34"], ["Bob", "27"]]}))
    outcome = asyncio.run(extract_table("Alice is 34. Bob is 27.", ["name", "age"], generate))
    assert outcome.complete and outcome.table.rows == [["Alice", "34"], ["Bob", "27"]]
    [(messages, schema, max_tokens)] = generate.calls
    assert "Alice is 34" in messages[-1]["content"] and schema["type"] == "object"
    assert max_tokens == max_tokens_for(["name", "age"])


def test_a_cut_off_answer_keeps_its_complete_rows_and_says_why():
    answer = '{"columns": ["name", "age"], "rows": [["Alice", "34"], ["Bo'
    outcome = asyncio.run(extract_table("Alice is 34. Bob is 27.", ["name", "age"], scripted(answer, "length")))
    assert not outcome.complete and outcome.table.rows == [["Alice", "34"]]
    assert outcome.warnings and outcome.warnings[0].startswith("truncated")


def test_an_unreadable_answer_is_an_empty_table_with_the_requested_columns():
    outcome = asyncio.run(extract_table("some text", ["a", "b"], scripted("not json at all")))
    assert not outcome.complete and outcome.table.columns == ["a", "b"] and outcome.table.rows == []


def test_bad_requests_fail_before_any_generation():
    generate = scripted("{}")
    with pytest.raises(TableRequestError) as caught:
        asyncio.run(extract_table("   ", None, generate))
    assert caught.value.param == "text" and generate.calls == []
