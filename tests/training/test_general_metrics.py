"""Metrics of the general benchmarks against numbers worked out by hand, and the evaluation's
routing of requests to tasks through a fake backend."""

from __future__ import annotations

import math

import pytest

from training.evaluate.general.backend import cut_at_stop
from training.evaluate.general.evaluate import average, evaluate
from training.evaluate.general.hf_backend import token_batches
from training.evaluate.general.metrics import (choice_predictions, exact_match, flexible_answer, mean_and_stderr,
                                               strict_answer)
from training.evaluate.general.tasks import ChoiceDoc, GenerationDoc, Task, WordDoc


def test_stderr_is_sample_std_over_sqrt_n():
    # values 1,0,1,1: mean 0.75; sample variance (3 * 0.0625 + 0.5625) / 3 = 0.25; stderr sqrt(0.25 / 4) = 0.25
    mean, stderr = mean_and_stderr([1, 0, 1, 1])
    assert mean == 0.75 and stderr == pytest.approx(0.25)
    assert mean_and_stderr([1.0]) == (1.0, None)
    with pytest.raises(ValueError):
        mean_and_stderr([])


def test_acc_norm_divides_by_characters():
    # raw: -4 > -6, so choice 0; per character: -4/2 = -2 < -6/6 = -1, so choice 1
    assert choice_predictions([-4.0, -6.0], [2, 6]) == (0, 1)
    assert choice_predictions([-1.0, -1.0], [3, 3]) == (0, 0)  # ties go to the first, as numpy argmax


def test_gsm8k_answer_extraction_and_normalization():
    text = "She has 3 + 4 = 7 apples.\n#### 1,200.\n\nThen 5"
    assert strict_answer(text) == "1,200."
    assert flexible_answer(text) == "5"
    assert flexible_answer("costs $1,234.") == "$1,234."
    assert strict_answer("no marker 42") == "[invalid]" and flexible_answer("none") == "[invalid]"
    assert exact_match("1,200.", "1200") and exact_match("$18", "18") and not exact_match("18", "180")
    assert not exact_match("[invalid]", "18")


def test_cut_at_stop_takes_the_earliest():
    assert cut_at_stop("a 1\n#### 2\n\nQuestion: b</s>", ["</s>", "Question:"]) == "a 1\n#### 2\n\n"
    assert cut_at_stop("no stop", ["Question:"]) == "no stop"


def test_token_batches_bound_padded_tokens():
    lengths = [5, 100, 30, 30, 200, 1]
    batches = list(token_batches(lengths, 120))
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert batches[0] == [4]  # longer than the budget alone: still scored
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * longest <= 120


class FakeBackend:
    """Log-likelihood = minus the continuation's length in characters (without its leading space);
    greedy when it says 'gold'."""

    name = "fake"

    def __init__(self):
        self.requests, self.prompts = [], []

    def loglikelihood(self, requests):
        self.requests.extend(requests)
        return [(-float(len(cont.strip())), "gold" in cont) for _, cont in requests]

    def generate(self, prompts, *, max_tokens, stop):
        self.prompts.extend(prompts)
        return [f"so {p[-2:]}\n#### {p[-2:]}" for p in prompts]

    def close(self):
        pass


def test_evaluate_routes_results_to_their_tasks():
    choice = Task("mc", "unused", "choice", "acc_norm", lambda r: r)
    word = Task("word", "unused", "word", "acc", lambda r: r)
    gen = Task("gen", "unused", "generation", "exact_match", lambda r: r)
    docs = {
        # shortest continuation wins acc; acc_norm sees -len/len = -1 for both and picks the first
        "mc": [ChoiceDoc(("c", "c"), (" xx", " x"), (2, 1), gold=1), ChoiceDoc(("c", "c"), (" x", " xxxx"), (1, 4), gold=1)],
        "word": [WordDoc("ctx", " gold"), WordDoc("ctx", " other")],
        "gen": [GenerationDoc("Q 12", "12"), GenerationDoc("Q 34", "35"), GenerationDoc("Q 56", "56")],
    }
    backend = FakeBackend()
    samples: list[dict] = []
    scores = evaluate([choice, word, gen], docs, backend, samples)
    assert len(backend.requests) == 6 and backend.prompts == ["Q 12", "Q 34", "Q 56"]
    assert scores["mc"]["acc"] == 0.5 and scores["mc"]["acc_norm"] == 0.0 and scores["mc"]["n"] == 2
    assert scores["word"]["acc"] == 0.5 and scores["word"]["perplexity"] == pytest.approx(math.exp(4.5))
    assert scores["gen"]["exact_match"] == pytest.approx(2 / 3) and scores["gen"]["acc"] == scores["gen"]["exact_match"]
    assert scores["gen"]["metric"] == "exact_match" and "acc_norm" not in scores["gen"]
    assert average(scores) == pytest.approx((0.0 + 0.5 + 2 / 3) / 3)
    assert [(r["task"], r["index"]) for r in samples] == [("mc", 0), ("mc", 1), ("word", 0), ("word", 1),
                                                          ("gen", 0), ("gen", 1), ("gen", 2)]
    assert samples[1] == {"task": "mc", "index": 1, "loglikelihoods": [-1.0, -4.0], "greedy": [False, False], "gold": 1}
    assert samples[5]["strict"] == "34" and samples[5]["answer"] == "35"
    # per-example rows, paired later by id (index in file order)
    assert scores["mc"]["rows"] == [{"id": 0, "acc": 1.0, "acc_norm": 0.0}, {"id": 1, "acc": 0.0, "acc_norm": 0.0}]
    assert scores["word"]["rows"] == [{"id": 0, "acc": 1.0}, {"id": 1, "acc": 0.0}]
    assert [r["exact_match"] for r in scores["gen"]["rows"]] == [1.0, 0.0, 1.0]
