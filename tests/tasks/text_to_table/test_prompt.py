import pytest

from tasks.text_to_table.prompt import SYSTEM_PROMPT, build_messages
from tasks.text_to_table.schema import TableRequestError


def test_instructions_first_text_last():
    messages = build_messages("Blue Spice is a coffee shop.")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == SYSTEM_PROMPT
    assert messages[1]["content"] == "Text:\nBlue Spice is a coffee shop."


def test_requested_columns_come_before_the_text():
    messages = build_messages("Blue Spice is a coffee shop.", columns=[" name ", "eat  type"])
    assert messages[0]["content"] == SYSTEM_PROMPT  # identical prefix for every request
    assert messages[1]["content"] == 'Columns: ["name", "eat type"]\n\nText:\nBlue Spice is a coffee shop.'


def test_blank_text_is_refused_naming_the_field():
    with pytest.raises(TableRequestError, match="text is empty") as info:
        build_messages("  \n")
    assert info.value.param == "text"


def test_bad_columns_are_refused_naming_the_field():
    with pytest.raises(TableRequestError, match="requested twice") as info:
        build_messages("some text", columns=["Name", "name"])
    assert info.value.param == "columns"
