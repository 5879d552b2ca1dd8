"""SFT conversations from the user's own records, in the three common shapes (found per record).

    OpenAI    ``{"messages": [{"role": "system"|"user"|"assistant", "content": str, "weight"?: 0|1}, ...]}``
              (``developer`` is read as ``system``; an assistant message with ``weight: 0`` stays in
              the context but is not trained on, as in OpenAI's fine-tuning format)
    ShareGPT  ``{"conversations": [{"from": "system"|"human"|"gpt", "value": str}, ...], "system"?: str}``
    Alpaca    ``{"instruction": str, "input"?: str, "output": str, "system"?: str,
              "history"?: [[instruction, output], ...]}``: the user turn is the instruction, then a
              blank line and the input when there is one (as the ``self_instruct`` source)

A conversation starts with a system or user message and has an assistant message to learn from;
as for the built-in sources, the loss is taken on assistant tokens only
(:mod:`training.data.chat`). A record that fits no shape, or a field of the wrong type, is a
:class:`~training.data.records.DataFileError` naming the file, line or record, and field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from training.data.conversation import Conversation
from training.data.records import field_error, read_records

ROLES = {"system": "system", "developer": "system", "user": "user", "human": "user",
         "assistant": "assistant", "gpt": "assistant"}
"""Role names of the OpenAI and ShareGPT shapes -> the chat template's roles."""


def _text(value: Any, where: str, field: str, optional: bool = False) -> str:
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        problem = "missing (must be a string)" if value is None else f"must be a string, got {type(value).__name__}"
        raise field_error(where, field, problem)
    return value


def parse_message(turn: Any, where: str, field: str) -> dict[str, Any]:
    """One message, OpenAI (``role``/``content``) or ShareGPT (``from``/``value``) style, as
    ``{"role", "content"}`` (plus ``"weight": 0`` for an assistant message not trained on)."""
    if not isinstance(turn, Mapping):
        raise field_error(where, field, f"must be a message object, got {type(turn).__name__}")
    sharegpt = turn.get("from") is not None or turn.get("value") is not None
    role_key, content_key = ("from", "value") if sharegpt else ("role", "content")
    role = turn.get(role_key)
    if not isinstance(role, str) or role not in ROLES:
        raise field_error(where, f"{field}.{role_key}",
                          f"must be one of {', '.join(ROLES)} (got {role!r}; tool and function turns are not supported)")
    message = {"role": ROLES[role], "content": _text(turn.get(content_key), where, f"{field}.{content_key}")}
    weight = turn.get("weight")
    if weight is not None:
        if weight not in (0, 1) or isinstance(weight, bool) or message["role"] != "assistant":
            raise field_error(where, f"{field}.weight", f"must be 0 or 1, on an assistant message (got {weight!r})")
        if weight == 0:
            message["weight"] = 0
    return message


def parse_messages(turns: Any, where: str, field: str) -> list[dict[str, Any]]:
    if not isinstance(turns, Sequence) or isinstance(turns, str) or not turns:
        raise field_error(where, field, "must be a non-empty list of messages")
    return [parse_message(turn, where, f"{field}[{i}]") for i, turn in enumerate(turns)]


def _check_trainable(messages: list[dict[str, Any]], where: str, field: str) -> None:
    if messages[0]["role"] == "assistant":
        raise field_error(where, f"{field}[0].role", "a conversation starts with a system or user message")
    if not any(m["role"] == "assistant" and m.get("weight", 1) for m in messages):
        raise field_error(where, field, "has no assistant message to learn from")


def _openai(record: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    messages = parse_messages(record["messages"], where, "messages")
    _check_trainable(messages, where, "messages")
    return messages


def _sharegpt(record: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    messages = parse_messages(record["conversations"], where, "conversations")
    system = _text(record.get("system"), where, "system", optional=True)
    if system and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system})
    _check_trainable(messages, where, "conversations")
    return messages


def _alpaca(record: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    instruction = _text(record.get("instruction"), where, "instruction")
    extra = _text(record.get("input"), where, "input", optional=True)
    output = _text(record.get("output"), where, "output")
    messages = []
    system = _text(record.get("system"), where, "system", optional=True)
    if system:
        messages.append({"role": "system", "content": system})
    history = record.get("history") or []
    if not isinstance(history, Sequence) or isinstance(history, str):
        raise field_error(where, "history", "must be a list of [instruction, output] pairs")
    for i, turn in enumerate(history):
        if not isinstance(turn, Sequence) or isinstance(turn, str) or len(turn) != 2:
            raise field_error(where, f"history[{i}]", "must be an [instruction, output] pair of strings")
        messages += [{"role": "user", "content": _text(turn[0], where, f"history[{i}][0]")},
                     {"role": "assistant", "content": _text(turn[1], where, f"history[{i}][1]")}]
    user = "\n\n".join(part for part in (instruction, extra) if part.strip())
    if not user:
        raise field_error(where, "instruction", "is empty (and so is the input)")
    return [*messages, {"role": "user", "content": user}, {"role": "assistant", "content": output}]


SHAPES = (("messages", _openai), ("conversations", _sharegpt), ("instruction", _alpaca), ("output", _alpaca))
"""Which field tells a record's shape, in the order they are tried."""


def conversation_messages(record: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """The chat messages of one record, whichever of the three shapes it has."""
    for key, parse in SHAPES:
        if record.get(key) is not None:
            return parse(record, where)
    fields = ", ".join(map(repr, sorted(record))) or "none"
    raise field_error(where, "messages", "missing: a record needs 'messages' (OpenAI), 'conversations' "
                                         f"(ShareGPT) or 'instruction' and 'output' (Alpaca); its fields: {fields}")


def load_conversations(name: str, source: str | None = None) -> list[Conversation]:
    """Every record of the data path `name` as a :class:`Conversation` of source `source` (default:
    `name`), in file order; ids ``<source>-<record number>``."""
    source = source or name
    conversations = []
    for number, (where, record) in enumerate(read_records(name), start=1):
        messages = conversation_messages(record, where)
        conversations.append(Conversation(tuple(messages), source, f"{source}-{number}"))
    return conversations
