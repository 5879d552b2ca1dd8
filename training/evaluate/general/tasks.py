"""The 12 general benchmarks: loaders for ``shared/data/benchmarks`` and their prompt formats.

The files come from llm-foundry, which stores some tasks already rendered in its own layout
(``Passage: ...``, ``Choices:`` blocks). Each loader turns a row back into the prompt format
of EleutherAI's lm-evaluation-harness (lm-eval 0.4 task configs), so scores are comparable with
published lm-eval numbers; where the files lack what lm-eval's format needs, the docstring of
the converter says what differs:

- ARC-Easy / ARC-Challenge: ``Question: {q}\\nAnswer:`` + `` {choice}`` (acc, acc_norm).
- PIQA: ``Question: {goal}\\nAnswer:`` + `` {solution}``.
- BoolQ: ``{passage}\\nQuestion: {question}?\\nAnswer:`` + `` no`` / `` yes``.
- WinoGrande: partial scoring: the sentence up to each option is the context and the shared
  rest of the sentence the continuation (lm-eval's ``multiple_input``).
- OpenBookQA: ``{question_stem}`` + `` {choice}``.
- CommonsenseQA: ``Question: {q}\\nA. ..\\nD. ..\\nAnswer:`` + `` A``..`` D`` (lm-eval's
  lettered format; this file has 4 of the original 5 options).
- SIQA: ``Q: {context} {question}\\nA:`` + `` {answer}`` (this file has 2 of the original 3 answers).
- COPA: ``{premise without its period} because|therefore`` + `` {choice, first letter lowered}``.
- AGIEval SAT-En: llm-foundry's lettered layout kept as is (``Passage: ..\\nQ: ..\\nChoices:\\n
  A.) ..\\nAnswer:`` + `` A``..`` D``); lm-eval scores the full ``(A) ...`` texts instead.
- LAMBADA (OpenAI): context + `` {last word}``, correct when every token of the word is the
  greedy choice (lm-eval's acc).
- GSM8K: 5-shot (the first 5 problems of ``sft/gsm8k_train.jsonl``), ``Question: {q}\\nAnswer:``
  with the full worked answers as shots; greedy generation until ``Question:``; exact match of
  the number after ``####`` (lm-eval's strict-match), flexible match (last number) reported too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from common.errors import UserError
from common.shared_data import shared_file


class TaskFormatError(UserError):
    """A benchmark row does not have the layout its loader expects."""


@dataclass(frozen=True)
class ChoiceDoc:
    """Multiple choice: choice i is scored as log P(continuations[i] | contexts[i]).

    ``lengths`` are the characters acc_norm divides by (lm-eval: the choice text, without the
    space that joins it to the context).
    """

    contexts: tuple[str, ...]
    continuations: tuple[str, ...]
    lengths: tuple[int, ...]
    gold: int


@dataclass(frozen=True)
class WordDoc:
    """LAMBADA: is ``continuation`` the model's greedy continuation of ``context``?"""

    context: str
    continuation: str


@dataclass(frozen=True)
class GenerationDoc:
    """GSM8K: generate from ``prompt``; ``answer`` is the reference number."""

    prompt: str
    answer: str


Doc = ChoiceDoc | WordDoc | GenerationDoc
Kind = Literal["choice", "word", "generation"]


@dataclass(frozen=True)
class Task:
    name: str
    file: str
    kind: Kind
    metric: Literal["acc", "acc_norm", "exact_match"]
    """The primary metric: what ``average`` and reports use."""
    convert: Callable[[dict], Doc]


def _choices(context: str, texts: list[str], gold: int) -> ChoiceDoc:
    if not 0 <= gold < len(texts):
        raise TaskFormatError(f"gold index {gold} outside the {len(texts)} choices")
    return ChoiceDoc(contexts=(context,) * len(texts), continuations=tuple(" " + t for t in texts),
                     lengths=tuple(len(t) for t in texts), gold=gold)


def _strip_prefix(text: str, prefix: str) -> str:
    if not text.startswith(prefix):
        raise TaskFormatError(f"expected the query to start with {prefix!r}: {text[:60]!r}")
    return text[len(prefix):]


def arc(row: dict) -> ChoiceDoc:
    question = _strip_prefix(row["query"], "Question: ")
    return _choices(f"Question: {question}\nAnswer:", row["choices"], row["gold"])


def piqa(row: dict) -> ChoiceDoc:
    goal = _strip_prefix(row["query"], "Question: ").removesuffix("\n")
    return _choices(f"Question: {goal}\nAnswer:", row["choices"], row["gold"])


def boolq(row: dict) -> ChoiceDoc:
    """The file's ``Question:`` line already ends with lm-eval's ``?``."""
    passage_and_question = _strip_prefix(row["query"], "Passage: ")
    if "\nQuestion: " not in passage_and_question or row["choices"] != ["no", "yes"]:
        raise TaskFormatError("expected 'Passage: ...\\nQuestion: ...' with choices ['no', 'yes']")
    return _choices(f"{passage_and_question}\nAnswer:", row["choices"], row["gold"])


def winogrande(row: dict) -> ChoiceDoc:
    """Partial scoring: the continuation is the same for both options, so acc_norm equals acc."""
    options = row["context_options"]
    continuation = " " + row["continuation"]
    if not 0 <= row["gold"] < len(options):
        raise TaskFormatError(f"gold index {row['gold']} outside the {len(options)} options")
    return ChoiceDoc(contexts=tuple(options), continuations=(continuation,) * len(options),
                     lengths=(len(row["continuation"]),) * len(options), gold=row["gold"])


def openbookqa(row: dict) -> ChoiceDoc:
    return _choices(row["query"], row["choices"], row["gold"])


def lettered(row: dict) -> ChoiceDoc:
    """CommonsenseQA: lm-eval's lettered layout has no ``Choices:`` line; drop llm-foundry's."""
    query = row["query"]
    if "\nChoices:\n" not in query or not query.endswith("\nAnswer:"):
        raise TaskFormatError("expected a 'Choices:' block and a closing 'Answer:'")
    return _choices(query.replace("\nChoices:\n", "\n", 1), row["choices"], row["gold"])


_SIQA = re.compile(r"Context: (?P<context>.*)\nQuestion: (?P<question>.*)\nChoices:\n(?P<answers>(?:[A-Z]\. .*\n)+)Answer:")


def siqa(row: dict) -> ChoiceDoc:
    """Rebuilt from llm-foundry's lettered layout into lm-eval's ``Q: .. A:`` with answer texts."""
    match = _SIQA.fullmatch(row["query"])
    if match is None:
        raise TaskFormatError(f"expected 'Context: ..\\nQuestion: ..\\nChoices:\\nA. ..\\nAnswer:': {row['query'][:60]!r}")
    answers = [line[3:] for line in match["answers"].splitlines()]
    if len(answers) != len(row["choices"]):
        raise TaskFormatError(f"{len(answers)} answers listed but {len(row['choices'])} choices")
    return _choices(f"Q: {match['context']} {match['question']}\nA:", answers, row["gold"])


def copa(row: dict) -> ChoiceDoc:
    """llm-foundry writes ``premise, therefore``; lm-eval writes ``premise therefore``."""
    query = row["query"]
    for connector in ("because", "therefore"):
        if query.endswith(f", {connector}"):
            context = query.removesuffix(f", {connector}") + f" {connector}"
            texts = [t[:1].lower() + t[1:] for t in row["choices"]]
            return _choices(context, texts, row["gold"])
    raise TaskFormatError(f"expected the premise to end with ', because' or ', therefore': {query[-40:]!r}")


def agieval(row: dict) -> ChoiceDoc:
    if not row["query"].endswith("\nAnswer:"):
        raise TaskFormatError("expected the query to end with 'Answer:'")
    return _choices(row["query"], row["choices"], row["gold"])


def lambada(row: dict) -> WordDoc:
    return WordDoc(context=row["context"], continuation=" " + row["continuation"])


GSM8K_SHOTS = 5
GSM8K_SHOTS_FILE = "sft/gsm8k_train.jsonl"
GSM8K_STOP = ("Question:", "</s>", "<|im_end|>")


def gsm8k_prefix() -> str:
    """The 5 worked examples in front of every GSM8K question (lm-eval's layout, first_n shots)."""
    shots = read_rows(GSM8K_SHOTS_FILE, GSM8K_SHOTS)
    return "".join(f"Question: {s['question']}\nAnswer: {s['answer']}\n\n" for s in shots)


def gsm8k(row: dict, prefix: str | None = None) -> GenerationDoc:
    prefix = gsm8k_prefix() if prefix is None else prefix
    return GenerationDoc(prompt=f"{prefix}Question: {row['context']}\nAnswer:", answer=row["answer"])


TASKS: dict[str, Task] = {t.name: t for t in [
    Task("arc_easy", "benchmarks/arc_easy.jsonl", "choice", "acc_norm", arc),
    Task("arc_challenge", "benchmarks/arc_challenge.jsonl", "choice", "acc_norm", arc),
    Task("piqa", "benchmarks/piqa.jsonl", "choice", "acc_norm", piqa),
    Task("boolq", "benchmarks/boolq.jsonl", "choice", "acc", boolq),
    Task("winogrande", "benchmarks/winogrande.jsonl", "choice", "acc", winogrande),
    Task("openbookqa", "benchmarks/openbook_qa.jsonl", "choice", "acc_norm", openbookqa),
    Task("commonsense_qa", "benchmarks/commonsense_qa.jsonl", "choice", "acc", lettered),
    Task("siqa", "benchmarks/siqa.jsonl", "choice", "acc", siqa),
    Task("copa", "benchmarks/copa.jsonl", "choice", "acc", copa),
    Task("lambada_openai", "benchmarks/lambada_openai.jsonl", "word", "acc", lambada),
    Task("gsm8k", "benchmarks/gsm8k.jsonl", "generation", "exact_match", gsm8k),
    Task("agieval_sat_en", "benchmarks/agi_eval_sat_en.jsonl", "choice", "acc", agieval),
]}


def select_tasks(names: str | None) -> list[Task]:
    """Tasks named in a comma-separated list (all when None), in the order given."""
    if names is None:
        return list(TASKS.values())
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in TASKS]
    if unknown or not wanted:
        raise ValueError(f"unknown task(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(TASKS)}")
    return [TASKS[n] for n in dict.fromkeys(wanted)]


def check_files(tasks: list[Task]) -> None:
    """Fail before any work if a task's file (or GSM8K's shots) is missing or corrupt."""
    for task in tasks:
        shared_file(task.file)
        if task.kind == "generation":
            shared_file(GSM8K_SHOTS_FILE)


def read_rows(relpath: str, limit: int | None) -> list[dict]:
    """The first `limit` rows (all when None) of a JSONL file of the bundle."""
    path: Path = shared_file(relpath)
    rows = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if limit is not None and len(rows) >= limit:
                break
            if line.strip():
                rows.append(json.loads(line))
    return rows


def load_docs(task: Task, limit: int | None = None) -> list[Doc]:
    """The task's first `limit` examples (deterministic: file order), in prompt form."""
    rows = read_rows(task.file, limit)
    convert = task.convert
    if task.kind == "generation":
        prefix = gsm8k_prefix()
        convert = lambda row: gsm8k(row, prefix)  # noqa: E731
    docs = []
    for number, row in enumerate(rows, start=1):
        try:
            docs.append(convert(row))
        except (TaskFormatError, KeyError, TypeError) as exc:
            raise TaskFormatError(f"{task.file} line {number}: {exc!r}") from exc
    return docs
