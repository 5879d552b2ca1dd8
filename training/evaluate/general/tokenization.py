"""The context/continuation token split both scoring backends use (lm-eval's ``_encode_pair``).

Tokenizing the continuation alone would change the tokens at the boundary (``" yes"`` is one
token after ``"Answer:"`` but may merge differently on its own), so the pair is tokenized
whole and the context alone, and the continuation is whatever the whole has past the
context's tokens. Trailing spaces of the context move to the continuation first, because
BPE tokenizers attach a space to the word after it.
"""

from __future__ import annotations


def encode_pair(tokenizer, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) with the tokenizer's default special tokens (as lm-eval)."""
    if not context:
        raise ValueError("an empty context cannot be scored: every benchmark request has one")
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
    whole = tokenizer.encode(context + continuation)
    context_ids = tokenizer.encode(context)
    continuation_ids = whole[len(context_ids):]
    if not continuation_ids:
        raise ValueError(f"the continuation {continuation!r} tokenizes to nothing after its context")
    return context_ids, continuation_ids


def truncate_left(context_ids: list[int], continuation_ids: list[int], max_len: int) -> list[int]:
    """Context + continuation, cut from the left to `max_len` tokens (the continuation must fit)."""
    if len(continuation_ids) >= max_len:
        raise ValueError(f"a continuation of {len(continuation_ids)} tokens does not fit a {max_len}-token window")
    return (context_ids + continuation_ids)[-max_len:]
