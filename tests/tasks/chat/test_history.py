import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.chat.history import ContextTooLongError, trim_history


def words(messages):
    """A simple token counter: one token per whitespace-separated word of content."""
    return sum(len(m["content"].split()) for m in messages)


def msg(role, content):
    return {"role": role, "content": content}


SYSTEM = msg("system", "be brief")  # 2
U1, A1 = msg("user", "a b c"), msg("assistant", "d e")  # 3 + 2
U2, A2 = msg("user", "f g h i"), msg("assistant", "j")  # 4 + 1
U3 = msg("user", "k l")  # 2
CONVERSATION = [SYSTEM, U1, A1, U2, A2, U3]  # 14 in all


@pytest.mark.parametrize(
    ("budget", "kept"),
    [
        (14, CONVERSATION),
        (13, [SYSTEM, U2, A2, U3]),  # 2 + 4 + 1 + 2 = 9
        (9, [SYSTEM, U2, A2, U3]),
        (8, [SYSTEM, U3]),  # 2 + 2 = 4
        (4, [SYSTEM, U3]),
    ],
)
def test_drops_oldest_whole_turns_and_keeps_the_system_message(budget, kept):
    assert trim_history(CONVERSATION, words, budget) == kept


def test_too_long_latest_message_is_a_typed_error():
    with pytest.raises(ContextTooLongError, match="needs 4 prompt tokens .* only 3 fit") as info:
        trim_history(CONVERSATION, words, 3)
    assert (info.value.needed, info.value.budget) == (4, 3)


def test_without_a_system_message():
    assert trim_history([U1, A1, U2, A2, U3], words, 7) == [U2, A2, U3]
    assert trim_history([U1, A1, U2, A2, U3], words, 6) == [U3]


def test_a_greeting_before_the_first_user_message_is_the_oldest_turn():
    greeting = msg("assistant", "hi there")
    assert trim_history([greeting, U3], words, 4) == [greeting, U3]
    assert trim_history([greeting, U3], words, 3) == [U3]


def test_a_trailing_assistant_message_stays_with_its_user_message():
    # the last turn is [U2, A2] = 5 tokens; it is never split
    assert trim_history([U1, A1, U2, A2], words, 9) == [U2, A2]
    with pytest.raises(ContextTooLongError):
        trim_history([U1, A1, U2, A2], words, 4)


def test_a_system_message_later_on_belongs_to_its_turn():
    note = msg("system", "note")
    assert trim_history([U1, note, A1, U3], words, 3) == [U3]
    assert trim_history([U1, note, A1, U3], words, 8) == [U1, note, A1, U3]


def test_bad_input_says_what_is_wrong():
    with pytest.raises(ValueError, match="no user message"):
        trim_history([SYSTEM, A1], words, 100)
    with pytest.raises(ValueError, match="no user message"):
        trim_history([], words, 100)
    with pytest.raises(ValueError, match="must be positive"):
        trim_history(CONVERSATION, words, 0)


def test_counts_tokens_a_logarithmic_number_of_times():
    calls = []

    def counting(messages):
        calls.append(len(messages))
        return words(messages)

    conversation = [m for i in range(100) for m in (msg("user", f"q{i}"), msg("assistant", f"a{i}"))]
    kept = trim_history(conversation, counting, 51)
    assert len(kept) == 50  # 25 turns of 2 one-word messages; a 26th would make 52 tokens
    assert len(calls) <= 1 + math.ceil(math.log2(100))


turn_sizes = st.lists(st.tuples(st.integers(1, 5), st.integers(0, 5)), min_size=1, max_size=12)


@given(turn_sizes, st.booleans(), st.integers(1, 60))
def test_keeps_the_most_turns_that_fit(sizes, with_system, budget):
    turns = [
        [msg("user", "w " * user)] + ([msg("assistant", "w " * reply)] if reply else [])
        for user, reply in sizes
    ]
    system = [msg("system", "s s")] if with_system else []
    conversation = system + [m for turn in turns for m in turn]
    # brute force: the largest k such that the system message and the last k turns fit
    fitting = [k for k in range(1, len(turns) + 1) if words(system + sum(turns[-k:], [])) <= budget]
    if not fitting:
        with pytest.raises(ContextTooLongError):
            trim_history(conversation, words, budget)
    else:
        assert trim_history(conversation, words, budget) == system + sum(turns[-max(fitting):], [])
