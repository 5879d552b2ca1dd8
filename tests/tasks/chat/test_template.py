import functools

import pytest

from tasks.chat.history import trim_history
from tasks.chat.template import count_chat_tokens, render_prompt


class FakeTokenizer:
    """Renders ``<role> content </s>`` per message; one token per whitespace-separated word."""

    chat_template = "{{ fake }}"

    def apply_chat_template(self, conversation, tokenize, add_generation_prompt):
        assert tokenize is False
        text = "".join(f"<{m['role']}> {m['content']} </s> " for m in conversation)
        return text + ("<assistant>" if add_generation_prompt else "")

    def encode(self, text, add_special_tokens=True):
        return ([1] if add_special_tokens else []) + [len(word) for word in text.split()]


MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello world"}]


def test_render_uses_the_template_and_adds_the_generation_prompt():
    expected = "<system> be brief </s> <user> hello world </s> <assistant>"
    assert render_prompt(FakeTokenizer(), MESSAGES) == expected


def test_count_includes_template_tokens_but_no_extra_special_tokens():
    # <system> be brief </s> = 4, <user> hello world </s> = 4, <assistant> = 1
    assert count_chat_tokens(FakeTokenizer(), MESSAGES) == 9


def test_tokenizer_without_a_template_is_refused():
    tokenizer = FakeTokenizer()
    tokenizer.chat_template = None
    with pytest.raises(ValueError, match="no chat template"):
        render_prompt(tokenizer, MESSAGES)


def test_trim_history_with_the_template_counter():
    conversation = [*MESSAGES, {"role": "assistant", "content": "hi"}, {"role": "user", "content": "and now"}]
    counter = functools.partial(count_chat_tokens, FakeTokenizer())
    # all: 4 + 4 + 3 + 4 + 1 = 16; without the first turn: 4 + 4 + 1 = 9
    assert trim_history(conversation, counter, 16) == conversation
    assert trim_history(conversation, counter, 15) == [MESSAGES[0], conversation[-1]]


def test_real_tokenizer(tiny_model_path):
    """The real SmolLM2 tokenizer and chat template (the tiny test model carries them)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    prompt = render_prompt(tokenizer, MESSAGES)
    assert "hello world" in prompt and prompt.index("be brief") < prompt.index("hello world")
    count = count_chat_tokens(tokenizer, MESSAGES)
    assert count == len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    longer = [*MESSAGES, {"role": "assistant", "content": "hi"}, {"role": "user", "content": "again"}]
    assert count_chat_tokens(tokenizer, longer) > count
