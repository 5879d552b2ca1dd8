"""The two scoring backends on the tiny model: the same continuation log-likelihoods, and a
planted answer (the model's own greedy continuation among random-token garbage) found by both."""

from __future__ import annotations

import random

import pytest

from training.evaluate.general.evaluate import loglikelihood_requests, score_choices
from training.evaluate.general.hf_backend import HfBackend
from training.evaluate.general.tasks import TASKS, ChoiceDoc, load_docs
from training.evaluate.general.tokenization import encode_pair

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def hf(tiny_model_path):
    return HfBackend(tiny_model_path, batch_tokens=2048)


@pytest.fixture(scope="module")
def vllm(tiny_model_path):
    from training.evaluate.general.vllm_backend import VllmBackend

    backend = VllmBackend(tiny_model_path, enforce_eager=True)
    yield backend
    backend.close()


def real_requests() -> list[tuple[str, str]]:
    """Two examples of every log-likelihood task: short and long contexts, 1- and many-token continuations."""
    names = [n for n, t in TASKS.items() if t.kind != "generation"]
    return [r for n in names for doc in load_docs(TASKS[n], limit=2) for r in loglikelihood_requests(doc)]


def test_backends_agree_on_loglikelihoods(hf, vllm):
    requests = real_requests()
    ours, theirs = hf.loglikelihood(requests), vllm.loglikelihood(requests)
    for (context, continuation), (ll_hf, greedy_hf), (ll_vllm, greedy_vllm) in zip(requests, ours, theirs):
        assert ll_hf < 0
        assert ll_vllm == pytest.approx(ll_hf, abs=2e-3, rel=1e-4), (context[-40:], continuation)
        assert greedy_hf == greedy_vllm, (context[-40:], continuation)


def planted_docs(hf: HfBackend, n_tokens: int = 3, n_garbage: int = 3) -> list[ChoiceDoc]:
    """Contexts from LAMBADA (the tiny model repeats their last word, which re-tokenizes cleanly,
    where after ARC's 'Answer:' it repeats ':' and the colons merge); the gold choice is the model's greedy continuation (tokens that
    survive re-tokenization), the others random tokens of the same count."""
    import torch

    rng = random.Random(0)
    docs = []
    for doc in load_docs(TASKS["lambada_openai"], limit=12):
        context = doc.context
        ids = torch.tensor([hf.tokenizer.encode(context)])
        greedy = hf.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=n_tokens,
                                   do_sample=False, pad_token_id=hf.pad_id)[0, ids.shape[1]:].tolist()
        planted = hf.tokenizer.decode(greedy)
        try:
            clean = encode_pair(hf.tokenizer, context, planted)[1] == greedy
        except ValueError:  # merged into the context's last token
            clean = False
        if not clean:
            continue  # decoding and re-encoding changed the tokens: not a clean plant
        garbage = [hf.tokenizer.decode([rng.randrange(1000, 40000) for _ in range(n_tokens)]) for _ in range(n_garbage)]
        choices = [planted, *garbage]
        docs.append(ChoiceDoc(contexts=(context,) * len(choices), continuations=tuple(choices),
                              lengths=tuple(len(c) for c in choices), gold=0))
    assert len(docs) >= 3, "too few clean plants to test with"
    return docs


@pytest.mark.parametrize("backend_name", ["hf", "vllm"])
def test_planted_greedy_answer_is_found(backend_name, hf, request):
    backend = request.getfixturevalue(backend_name)
    docs = planted_docs(hf)
    per_doc = [backend.loglikelihood(loglikelihood_requests(doc)) for doc in docs]
    assert all(results[0][1] for results in per_doc), "the planted greedy continuation must score as greedy"
    assert not any(greedy for results in per_doc for _, greedy in results[1:])
    assert score_choices(docs, per_doc)["acc"] == 1.0
    nonsense = [ChoiceDoc(d.contexts, d.continuations, d.lengths, gold=1) for d in docs]
    assert score_choices(nonsense, per_doc)["acc"] == 0.0
