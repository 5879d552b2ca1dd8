"""Requests choose what answers by `model`: any served name, or a LoRA adapter served on top."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from common.task_formats import AD_COMPLIANCE, AD_COMPLIANCE_COMPACT, CHECKPOINT_MARKER
from server.app import build_app
from server.settings import ServerSettings
from tasks.ad_compliance.compact import compact_answer
from tests.server.conftest import wait_ready
from tests.server.fake_engine import FakeEngine

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def peft_folder(path, *, trained_on_ads: bool = False):
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    if trained_on_ads:  # a run's checkpoint/adapter: the checkpoint's marker beside it says what it learnt
        (path.parent / CHECKPOINT_MARKER).write_text(
            json.dumps({"task_formats": {AD_COMPLIANCE: AD_COMPLIANCE_COMPACT}}))
    return path


def client_for(engine: FakeEngine, tmp_path, **settings) -> TestClient:
    async def factory(_settings, _path, names):
        engine.model_id, *aliases = names
        engine.aliases = tuple(aliases)
        engine.adapters = tuple(m.name for m in _settings.lora_modules)
        return engine

    app = build_app(ServerSettings(model="unused", data_dir=str(tmp_path / "data"), **settings), tmp_path / "base",
                    engine_factory=factory)
    return TestClient(app, raise_server_exceptions=False)


def test_every_served_name_is_accepted_and_listed(tmp_path):
    engine = FakeEngine()
    with client_for(engine, tmp_path, served_model_name=["chat", "chat-v2"]) as client:
        wait_ready(client)
        assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["chat", "chat-v2"]
        for name in ("chat", "chat-v2", None):
            body = client.post("/v1/chat/completions", json={**CHAT, "model": name}).json()
            assert body["model"] == "chat"
        assert engine.calls[-1][1].adapter is None
        missing = client.post("/v1/chat/completions", json={**CHAT, "model": "chat-v3"})
        assert missing.status_code == 404 and "'chat' or 'chat-v2'" in missing.json()["error"]["message"]
        assert client.get("/v1/models/chat-v2").json()["id"] == "chat-v2"
        assert client.get("/v1/models/chat-v3").status_code == 404


def test_an_adapters_name_generates_through_it(tmp_path):
    engine = FakeEngine(reply='{"rows":[["Ann","3"]]}', max_model_len=4096)
    adapter = peft_folder(tmp_path / "adapters" / "ads")
    with client_for(engine, tmp_path, served_model_name=["base"], lora_modules=[f"ads={adapter}"]) as client:
        wait_ready(client)
        models = client.get("/v1/models").json()["data"]
        assert [(m["id"], m["parent"]) for m in models] == [("base", None), ("ads", "base")]
        assert models[1]["root"] == str(adapter)
        reply = client.post("/v1/chat/completions", json={**CHAT, "model": "ads"})
        assert reply.json()["model"] == "ads" and engine.calls[-1][1].adapter == "ads"
        client.post("/v1/completions", json={"prompt": "a b", "model": "ads", "max_tokens": 2})
        assert engine.calls[-1][1].adapter == "ads"
        client.post("/v1/chat/completions", json=CHAT)
        assert engine.calls[-1][1].adapter is None
        table = client.post("/v1/text-to-table", json={"text": "Ann is 3.", "model": "ads"})
        assert table.status_code == 200, table.text
        assert engine.calls[-1][1].adapter == "ads"


def test_an_adapter_trained_on_ads_gets_the_compact_format_and_the_base_does_not(tmp_path):
    engine = FakeEngine(max_model_len=4096)
    adapter = peft_folder(tmp_path / "run" / "checkpoint" / "adapter", trained_on_ads=True)
    ad = {"headline": "Calm tea", "body": "Say goodbye to your inhaler with our herbal tea. $12 a box."}
    with client_for(engine, tmp_path, lora_modules=[f"expert={adapter}"]) as client:
        wait_ready(client)
        engine.queued_replies = [compact_answer([("health_claims", "Say goodbye to your inhaler", "Enjoy")]),
                                 '{"violations":[]}']
        expert = client.post("/v1/ads/compliance", json={"ad": ad, "model": "expert"}).json()
        assert expert["model"] == "expert" and expert["verdict_source"] == "model+rules"
        assert {params.adapter for _, params in engine.calls} == {"expert"}
        base = client.post("/v1/ads/compliance", json={"ad": ad}).json()
        assert base["mode"] == "rules"  # auto: the untrained base model's judgement does not count


def test_adapters_need_names_of_their_own(tmp_path):
    import pytest

    from common.errors import UserError

    adapter = peft_folder(tmp_path / "a")
    with pytest.raises(UserError, match="name of its own"):
        client_for(FakeEngine(), tmp_path, served_model_name=["m"], lora_modules=[f"m={adapter}"])
    with pytest.raises(UserError, match="name of its own"):
        client_for(FakeEngine(), tmp_path, lora_modules=[f"x={adapter}", f"x={adapter}"])


def test_the_models_generation_config_fills_what_a_request_leaves_out(tmp_path):
    """As vLLM applies a model's generation_config: its sampling values are the defaults, a request's own win."""
    engine = FakeEngine(max_model_len=4096)
    engine.sampling_defaults = {"temperature": 0.3, "top_p": 0.8, "repetition_penalty": 1.1, "max_tokens": 7}
    with client_for(engine, tmp_path) as client:
        wait_ready(client)
        client.post("/v1/chat/completions", json=CHAT)
        params = engine.calls[-1][1]
        assert (params.temperature, params.top_p, params.repetition_penalty, params.max_tokens) == (0.3, 0.8, 1.1, 7)
        client.post("/v1/chat/completions", json={**CHAT, "temperature": 1.0, "max_tokens": 3})
        params = engine.calls[-1][1]
        assert (params.temperature, params.top_p, params.max_tokens) == (1.0, 0.8, 3)
        client.post("/v1/completions", json={"prompt": "a b", "top_p": 1.0})
        params = engine.calls[-1][1]
        assert (params.temperature, params.top_p, params.max_tokens) == (0.3, 1.0, 16)  # completions: OpenAI's 16


def test_names_and_adapters_survive_the_token_rate_limiter(tmp_path):
    """With --rate-limit-tpm the engine is wrapped (server/limits.py); aliases and adapters pass through."""
    engine = FakeEngine()
    adapter = peft_folder(tmp_path / "ads")
    with client_for(engine, tmp_path, served_model_name=["a", "b"], lora_modules=[f"ads={adapter}"],
                    rate_limit_tpm=100_000) as client:
        wait_ready(client)
        assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["a", "b", "ads"]
        assert client.post("/v1/chat/completions", json={**CHAT, "model": "b"}).status_code == 200
        assert client.post("/v1/chat/completions", json={**CHAT, "model": "ads"}).json()["model"] == "ads"
        assert engine.calls[-1][1].adapter == "ads"
