"""Requests in, per-task scores out: every log-likelihood request of every selected task goes
to the backend in one call (vLLM batches them all), generations in a second call.

Each task's scores keep one row per example (``"rows": [{"id": index in file order, metric:
0/1 per example, ...}]``) beside the aggregates, so that two checkpoints' runs on the same examples
can be paired later (:mod:`training.evaluate.paired`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from training.evaluate.general.backend import Backend
from training.evaluate.general.metrics import (choice_predictions, exact_match, flexible_answer, mean_and_stderr,
                                               strict_answer)
from training.evaluate.general.tasks import GSM8K_STOP, ChoiceDoc, Doc, GenerationDoc, Task, WordDoc

GSM8K_MAX_TOKENS = 256
"""lm-eval's default ``max_gen_toks``."""


def loglikelihood_requests(doc: Doc) -> list[tuple[str, str]]:
    if isinstance(doc, ChoiceDoc):
        return list(zip(doc.contexts, doc.continuations))
    if isinstance(doc, WordDoc):
        return [(doc.context, doc.continuation)]
    return []


def _metric(name: str, values: Sequence[float]) -> dict:
    mean, stderr = mean_and_stderr(values)
    return {name: mean, f"{name}_stderr": stderr}


def _rows(**per_example: Sequence[float]) -> list[dict]:
    """One ``{"id": i, name: value, ...}`` per example from equal-length per-example lists."""
    columns = list(per_example.items())
    return [{"id": i, **{name: values[i] for name, values in columns}} for i in range(len(columns[0][1]))]


def score_choices(docs: Sequence[ChoiceDoc], results: Sequence[Sequence[tuple[float, bool]]]) -> dict:
    acc, acc_norm = [], []
    for doc, doc_results in zip(docs, results):
        pred, pred_norm = choice_predictions([ll for ll, _ in doc_results], doc.lengths)
        acc.append(float(pred == doc.gold))
        acc_norm.append(float(pred_norm == doc.gold))
    return {**_metric("acc", acc), **_metric("acc_norm", acc_norm), "rows": _rows(acc=acc, acc_norm=acc_norm)}


def score_words(results: Sequence[Sequence[tuple[float, bool]]]) -> dict:
    """LAMBADA: acc is greedy match of the last word; perplexity is exp of its mean negative log-likelihood."""
    lls = [r[0][0] for r in results]
    acc = [float(r[0][1]) for r in results]
    return {**_metric("acc", acc), "perplexity": math.exp(-sum(lls) / len(lls)), "rows": _rows(acc=acc)}


def score_generations(docs: Sequence[GenerationDoc], outputs: Sequence[str]) -> dict:
    """GSM8K: exact match of the strict answer; ``acc`` repeats it so every task has ``acc``."""
    strict = [float(exact_match(strict_answer(o), d.answer)) for d, o in zip(docs, outputs)]
    flexible = [float(exact_match(flexible_answer(o), d.answer)) for d, o in zip(docs, outputs)]
    scores = _metric("exact_match", strict)
    return {**scores, "acc": scores["exact_match"], "acc_stderr": scores["exact_match_stderr"],
            **_metric("exact_match_flexible", flexible),
            "rows": _rows(exact_match=strict, acc=strict, exact_match_flexible=flexible)}


def evaluate(tasks: Sequence[Task], docs: Mapping[str, Sequence[Doc]], backend: Backend,
             samples: list[dict] | None = None) -> dict[str, dict]:
    """Scores per task name: the metrics of its kind, ``n`` and ``metric`` (the primary one).

    When `samples` is a list, one record per example is appended to it (task, index, the
    backend's results or generation, gold), for checking against another harness."""
    requests, spans = [], {}
    for task in tasks:
        for i, doc in enumerate(docs[task.name]):
            doc_requests = loglikelihood_requests(doc)
            spans[task.name, i] = (len(requests), len(requests) + len(doc_requests))
            requests.extend(doc_requests)
    results = backend.loglikelihood(requests) if requests else []
    generation_tasks = [t for t in tasks if t.kind == "generation"]
    prompts = [d.prompt for t in generation_tasks for d in docs[t.name]]
    outputs = iter(backend.generate(prompts, max_tokens=GSM8K_MAX_TOKENS, stop=GSM8K_STOP) if prompts else [])

    scores = {}
    for task in tasks:
        task_docs = docs[task.name]
        per_doc = [results[slice(*spans[task.name, i])] for i in range(len(task_docs))]
        task_outputs = [next(outputs) for _ in task_docs] if task.kind == "generation" else []
        if task.kind == "choice":
            task_scores = score_choices(task_docs, per_doc)
        elif task.kind == "word":
            task_scores = score_words(per_doc)
        else:
            task_scores = score_generations(task_docs, task_outputs)
        if samples is not None:
            samples.extend(_sample_records(task, task_docs, per_doc, task_outputs))
        scores[task.name] = {**task_scores, "n": len(task_docs), "metric": task.metric}
    return scores


def _sample_records(task: Task, docs: Sequence[Doc], per_doc: Sequence[Sequence[tuple[float, bool]]],
                    outputs: Sequence[str]) -> list[dict]:
    if task.kind == "generation":
        return [{"task": task.name, "index": i, "output": o, "answer": d.answer, "strict": strict_answer(o)}
                for i, (d, o) in enumerate(zip(docs, outputs))]
    return [{"task": task.name, "index": i, "loglikelihoods": [ll for ll, _ in r], "greedy": [g for _, g in r],
             **({"gold": d.gold} if isinstance(d, ChoiceDoc) else {})} for i, (d, r) in enumerate(zip(docs, per_doc))]


def average(scores: Mapping[str, dict]) -> float:
    """Mean over tasks of each task's primary metric."""
    return sum(s[s["metric"]] for s in scores.values()) / len(scores)
