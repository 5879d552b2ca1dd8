"""Per-tenant quotas and size limits on stored conversations (fake engine), and the expiry sweep."""

from __future__ import annotations

import asyncio

import pytest

from server.conversations.quotas import sweep_expired
from server.store import MessageRecord, NotFoundError, Store, default_database_url, new_id, now
from server.tenancy import key_id
from tests.server.conftest import make_client, wait_ready


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_error(r, status: int, param=None, code=None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert (err["param"], err["code"]) == (param, code)
    return err


@pytest.fixture
def limited(engine, tmp_path):
    with make_client(engine, api_key=["ka", "kb"], data_dir=tmp_path, max_conversations_per_key=2,
                     max_stored_bytes_per_key=60, max_system_prompt_bytes=10, max_history_bytes=40) as client:
        wait_ready(client)
        yield client


def test_conversation_count_is_per_key(limited):
    for _ in range(2):
        assert limited.post("/v1/conversations", json={}, headers=bearer("ka")).status_code == 200
    err = assert_error(limited.post("/v1/conversations", json={}, headers=bearer("ka")), 429, "conversation",
                       "quota_exceeded")
    assert "limit of 2" in err["message"]
    assert limited.post("/v1/conversations", json={}, headers=bearer("kb")).status_code == 200  # not kb's quota
    first = _ids(limited, "ka")[0]
    assert limited.delete(f"/v1/conversations/{first}", headers=bearer("ka")).status_code == 200
    assert limited.post("/v1/conversations", json={}, headers=bearer("ka")).status_code == 200  # room again


def _ids(client, key: str) -> list[str]:
    store = client.app.state.store
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT id FROM conversations WHERE owner = ?", (key_id(key),))
        return [row[0] for row in rows]


def test_a_long_system_prompt_is_413(limited):
    assert_error(limited.post("/v1/conversations", json={"system": "é" * 6}, headers=bearer("ka")), 413, "system",
                 "system_prompt_too_large")  # 12 bytes, 6 characters
    assert limited.post("/v1/conversations", json={"system": "short"}, headers=bearer("ka")).status_code == 200


def test_history_and_stored_bytes_are_refused_before_generation(limited, engine):
    engine.reply = "ok"
    conv = limited.post("/v1/conversations", json={}, headers=bearer("ka")).json()["id"]
    post = f"/v1/conversations/{conv}/messages"
    assert limited.post(post, json={"content": "x" * 30}, headers=bearer("ka")).status_code == 200  # 32 bytes
    calls = len(engine.calls)
    assert_error(limited.post(post, json={"content": "y" * 10}, headers=bearer("ka")), 413, "content",
                 "conversation_too_large")
    other = limited.post("/v1/conversations", json={}, headers=bearer("ka")).json()["id"]
    err = assert_error(limited.post(f"/v1/conversations/{other}/messages", json={"content": "z" * 30},
                                    headers=bearer("ka")), 429, None, "quota_exceeded")
    assert "limit of 60" in err["message"]
    assert len(engine.calls) == calls  # nothing generated for the refused messages
    kb = limited.post("/v1/conversations", json={}, headers=bearer("kb")).json()["id"]
    assert limited.post(f"/v1/conversations/{kb}/messages", json={"content": "z" * 30},
                        headers=bearer("kb")).status_code == 200


def test_idle_conversations_expire(tmp_path):
    store = Store.open(default_database_url(tmp_path))
    try:
        old, active, fresh = (store.create_conversation("m") for _ in range(3))
        with store.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE conversations SET created = created - 1000 WHERE id IN (?, ?)",
                                       (old.id, active.id))
        store.append_messages(active.id, [MessageRecord(new_id("msg"), active.id, "user", "q", now())])
        assert store.tenant_usage("nobody").conversations == 0

        async def one_sweep():
            task = asyncio.create_task(sweep_expired(store, ttl_s=500))
            await asyncio.sleep(0.5)
            task.cancel()

        asyncio.run(one_sweep())
        remaining = {store.get_conversation(c.id).id for c in (active, fresh)}
        assert remaining == {active.id, fresh.id}
        with pytest.raises(NotFoundError):
            store.get_conversation(old.id)
    finally:
        store.close()
