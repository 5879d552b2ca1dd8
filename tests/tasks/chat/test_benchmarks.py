from collections import Counter

import pytest

from common.paths import shared_data_dir
from tasks.chat.benchmarks import load_questions

pytestmark = pytest.mark.skipif(
    not (shared_data_dir() / "multiturn" / "mt_bench_questions.jsonl").is_file(),
    reason="shared data bundle (multiturn/) not present at ../shared/data or $ICEGRT_SHARED_DATA",
)


def test_mt_bench():
    questions = load_questions("mt_bench")
    assert len(questions) == 80
    assert all(len(q.turns) == 2 and q.benchmark == "mt_bench" for q in questions)
    assert set(Counter(q.category for q in questions).values()) == {10}
    assert len(Counter(q.category for q in questions)) == 8
    with_reference = [q for q in questions if q.reference is not None]
    assert len(with_reference) == 39 and all(len(q.reference) == 2 for q in with_reference)
    with_answer = [q for q in questions if q.reference_answer is not None]
    assert len(with_answer) == 30
    assert {q.category for q in with_answer} == {"math", "reasoning", "coding"}
    q101 = next(q for q in questions if q.question_id == 101)
    assert q101.reference[0] == "You are in second place."
    assert q101.reference_answer[0].startswith("If you have just overtaken the second person")


def test_vicuna_bench():
    questions = load_questions("vicuna_bench")
    assert len(questions) == 80
    assert all(len(q.turns) == 1 and q.reference is None and q.reference_answer is None for q in questions)
    assert questions[0].turns == ("How can I improve my time management skills?",)


def test_unknown_benchmark():
    with pytest.raises(ValueError, match="unknown benchmark"):
        load_questions("arena_hard")
