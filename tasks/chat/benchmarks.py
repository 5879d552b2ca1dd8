"""MT-Bench and Vicuna-Bench questions (FastChat's ``llm_judge`` data) as typed records."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict

from common.shared_data import shared_file

_QUESTIONS = {
    "mt_bench": "multiturn/mt_bench_questions.jsonl",
    "vicuna_bench": "multiturn/vicuna_bench_questions.jsonl",
}
_GPT4_ANSWERS = {"mt_bench": "multiturn/mt_bench_reference_gpt4.jsonl"}


class BenchmarkQuestion(BaseModel):
    """One question: a user turn per entry of ``turns``, each sent after the model's last reply.

    ``reference`` is the benchmark's own reference per turn (short answers or hints), given for
    39 MT-Bench questions. ``reference_answer`` is GPT-4's answer per turn, which FastChat's judge
    compares against for the math, reasoning and coding questions (30 of MT-Bench).
    """

    model_config = ConfigDict(frozen=True)

    benchmark: Literal["mt_bench", "vicuna_bench"]
    question_id: int
    category: str
    turns: tuple[str, ...]
    reference: tuple[str, ...] | None = None
    reference_answer: tuple[str, ...] | None = None


def load_questions(benchmark: Literal["mt_bench", "vicuna_bench"]) -> list[BenchmarkQuestion]:
    """All questions of ``benchmark`` in file order, with their references where there are any.

    Raises:
        ValueError: unknown benchmark name, or a reference answer for a question not in the set.
        common.shared_data.SharedDataError: a data file is missing or corrupt.
    """
    if benchmark not in _QUESTIONS:
        raise ValueError(f"unknown benchmark {benchmark!r}; use one of {sorted(_QUESTIONS)}")
    answers: dict[int, tuple[str, ...]] = {}
    if benchmark in _GPT4_ANSWERS:
        for record in _read_jsonl(_GPT4_ANSWERS[benchmark]):
            answers[record["question_id"]] = tuple(record["choices"][0]["turns"])
    questions = [
        BenchmarkQuestion(benchmark=benchmark, reference_answer=answers.get(record["question_id"]), **record)
        for record in _read_jsonl(_QUESTIONS[benchmark])
    ]
    unknown = set(answers) - {question.question_id for question in questions}
    if unknown:
        raise ValueError(f"reference answers for unknown {benchmark} question ids: {sorted(unknown)}")
    return questions


def _read_jsonl(relpath: str) -> list[dict]:
    with open(shared_file(relpath), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
