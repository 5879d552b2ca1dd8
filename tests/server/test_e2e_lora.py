"""End to end on the shared server (tests/conftest.py): a second served name, an engine flag passed
through to vLLM, and a LoRA adapter served next to its base model, called with the `openai` SDK."""

from __future__ import annotations

import httpx

PROMPT = [{"role": "user", "content": "Name three colours."}]


def _reply(openai_client, model: str, reported: str | None = None) -> str:
    reply = openai_client.chat.completions.create(model=model, messages=PROMPT, max_tokens=12, temperature=0)
    assert reply.model == (reported or model)
    return reply.choices[0].message.content


def test_a_lora_adapter_answers_differently_from_its_base(openai_client):
    base = _reply(openai_client, "tiny")
    adapted = _reply(openai_client, "tiny-lora")
    assert adapted != base
    assert _reply(openai_client, "tiny-lora") == adapted  # greedy: the same adapter, the same answer
    assert _reply(openai_client, "tiny") == base  # the adapter's requests leave the base model alone
    card = openai_client.models.retrieve("tiny-lora")
    assert card.id == "tiny-lora" and card.parent == "tiny"


def test_the_second_served_name_is_the_same_model(openai_client):
    assert _reply(openai_client, "tiny-alias", reported="tiny") == _reply(openai_client, "tiny")


def test_domain_endpoints_take_the_adapter_as_model(live_server):
    body = {"ad": {"body": "Lose 10 kg in a week, guaranteed!"}, "model": "tiny-lora", "mode": "hybrid"}
    r = httpx.post(f"{live_server.base_url}/v1/ads/compliance", json=body, headers=live_server.headers, timeout=300)
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "tiny-lora"
    r = httpx.post(f"{live_server.base_url}/v1/ads/compliance", json={**body, "model": "tiny-lora-2"},
                   headers=live_server.headers, timeout=60)
    assert r.status_code == 404 and r.json()["error"]["param"] == "model"
