"""Fit a conversation into the context window by dropping its oldest turns.

A turn is a user message with everything after it up to the next user message (normally one
assistant reply). The system message, if the conversation starts with one, and the latest turn
are always kept; older turns are kept newest first while the whole still fits, and a turn is
kept or dropped whole, so the model never sees an answer without its question.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

M = TypeVar("M", bound=Mapping[str, Any])


class ContextTooLongError(ValueError):
    """Even the system message and the latest turn alone exceed the token budget (HTTP 400)."""

    def __init__(self, needed: int, budget: int) -> None:
        super().__init__(
            f"the latest message needs {needed} prompt tokens (with the system message, if any) but "
            f"only {budget} fit in the context window after the tokens reserved for the reply; "
            "shorten the message or the system prompt, or ask for fewer reply tokens"
        )
        self.needed = needed
        self.budget = budget


def trim_history(messages: Sequence[M], count_tokens: Callable[[list[M]], int], budget: int) -> list[M]:
    """The longest suffix of whole turns that, with the system message, fits in ``budget`` tokens.

    ``messages`` are chat messages (mappings with a ``"role"``). ``count_tokens`` gives the
    prompt size of a message list; the server passes
    ``functools.partial(count_chat_tokens, tokenizer)`` so the count includes the chat
    template's own tokens, and ``budget`` is the context length less the reply's ``max_tokens``.
    Messages before the first user message (a greeting) count as the oldest turn.

    The count is assumed to grow as turns are added (true of any chat template), which lets a
    binary search find the answer with about log2(turns) + 1 calls of ``count_tokens``.

    Raises:
        ValueError: ``messages`` holds no user message, or ``budget`` is not positive.
        ContextTooLongError: the system message and the latest turn alone exceed ``budget``.
    """
    if budget < 1:
        raise ValueError(
            f"token budget must be positive, got {budget}: the reply leaves no room for a prompt"
        )
    system = list(messages[:1]) if messages and messages[0]["role"] == "system" else []
    rest = list(messages[len(system):])
    starts = [index for index, message in enumerate(rest) if message["role"] == "user"]
    if not starts:
        raise ValueError("the conversation has no user message: add one to reply to")
    if starts[0] > 0:
        starts.insert(0, 0)

    def keep(turns: int) -> list[M]:
        return system + rest[starts[-turns]:]

    needed = count_tokens(keep(1))
    if needed > budget:
        raise ContextTooLongError(needed, budget)
    low, high = 1, len(starts)  # keep(low) fits; find the largest count of turns that does
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(keep(middle)) <= budget:
            low = middle
        else:
            high = middle - 1
    return keep(low)
