"""The engine-side generation helpers: budgets, collecting with an observer, structured generation."""

from __future__ import annotations

import asyncio

import pytest

from inference.engine import ContextLengthError, EngineRequestError, GenerationParams
from inference.generation import StructuredGenerator, collect, output_budget
from tests.server.fake_engine import FakeEngine


class Recorder:
    def __init__(self):
        self.counts, self.finished = [], None

    def tokens(self, count: int) -> None:
        self.counts.append(count)

    def finish(self, prompt_tokens: int, generated_tokens: int) -> None:
        self.finished = (prompt_tokens, generated_tokens)


def test_collect_tells_its_observer_every_token_and_the_totals():
    engine, observer = FakeEngine(reply="one two three"), Recorder()
    result = asyncio.run(collect(engine, [1, 2], GenerationParams(max_tokens=10), "r", observer))
    assert result.choices[0].text == "one two three" and result.choices[0].finish_reason == "stop"
    assert observer.counts == [1, 1, 1] and observer.finished == (2, 3)


def test_budget_overflows_are_context_length_errors_naming_the_field():
    engine = FakeEngine(max_model_len=10)
    assert output_budget(engine, 4, None, "max_tokens") == 6
    with pytest.raises(ContextLengthError) as caught:
        output_budget(engine, 4, 7, "max_tokens")
    assert caught.value.param == "max_tokens" and caught.value.code == "context_length_exceeded"
    with pytest.raises(EngineRequestError) as caught:  # the server maps every EngineRequestError to 400
        output_budget(engine, 10, None, "max_tokens", prompt_param="text")
    assert caught.value.param == "text"


def test_structured_generation_is_greedy_clamped_and_tallied():
    engine, observers = FakeEngine(reply='{"a": 1}', max_model_len=64), []

    def observe():
        observers.append(Recorder())
        return observers[-1]

    generate = StructuredGenerator(engine, "req", input_param="text", observe=observe)
    text, finish = asyncio.run(generate([{"role": "user", "content": "hi"}], {"type": "object"}, 1000))
    assert (text, finish) == ('{"a": 1}', "stop")
    [(prompt, params)] = engine.calls
    assert params.temperature == 0.0 and params.json_schema == {"type": "object"}
    assert params.max_tokens == 64 - len(prompt)  # clamped to the room left
    assert generate.usage.as_dict() == {"prompt_tokens": len(prompt), "completion_tokens": 2,
                                        "total_tokens": len(prompt) + 2}
    assert len(observers) == 1 and observers[0].finished == (len(prompt), 2)
