"""A checkpoint trained on ad compliance is prompted in the compact format; `auto` then uses it."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from common.task_formats import AD_COMPLIANCE, AD_COMPLIANCE_COMPACT, CHECKPOINT_MARKER
from server.app import build_app
from server.settings import ServerSettings
from tasks.ad_compliance.compact import SYSTEM, compact_answer
from tests.server.conftest import wait_ready
from tests.server.fake_engine import FakeEngine

AD = {"headline": "Calm tea", "body": "Say goodbye to your inhaler with our herbal tea. $12 a box."}


def test_trained_checkpoint_gets_the_compact_format_and_the_model_decides(tmp_path):
    model = tmp_path / "ice-grt"
    model.mkdir()
    (model / CHECKPOINT_MARKER).write_text(json.dumps({"task_formats": {AD_COMPLIANCE: AD_COMPLIANCE_COMPACT}}))
    engine = FakeEngine(max_model_len=4096)
    engine.queued_replies = [compact_answer([("health_claims", "Say goodbye to your inhaler", "Enjoy")]),
                             '{"violations":[]}']

    async def factory(*_):
        return engine

    app = build_app(ServerSettings(model="unused", data_dir=str(tmp_path / "data")), model, engine_factory=factory)
    with TestClient(app) as client:
        wait_ready(client)
        body = client.post("/v1/ads/compliance", json={"ad": AD}).json()
    assert body["mode"] == "hybrid" and body["verdict_source"] == "model+rules"
    assert [v["policy_id"] for v in body["violations"]] == ["health_claims"]
    assert body["violations"][0]["evidence"][0]["text"] == "Say goodbye to your inhaler"
    assert body["suggested_revision"]["body"] == "Enjoy with our herbal tea. $12 a box."
    assert body["revision_source"] == "model" and body["revision_compliant"] is True
    assert len(engine.calls) == 2
    prompt_words, params = engine.calls[0]
    assert len(prompt_words) < len(SYSTEM.split()) + 40  # no policy catalogue in the prompt
    assert "fix" in params.json_schema["properties"]["violations"]["items"]["properties"]
