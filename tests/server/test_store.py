"""The conversation/feedback store: round trips, reference checks, SQLite settings, and that
acknowledged writes survive ``kill -9`` (of a process writing through the store, and of a server)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from server.store import (
    DATABASE_FILE,
    FeedbackRecord,
    InvalidReferenceError,
    MessageRecord,
    NotFoundError,
    Store,
    default_database_url,
    new_id,
    now,
)
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    s = Store.open(default_database_url(tmp_path))
    yield s
    s.close()


def exchange(store: Store, conversation_id: str, question: str, answer: str) -> MessageRecord:
    user = MessageRecord(new_id("msg"), conversation_id, "user", question, now())
    reply = MessageRecord(new_id("msg"), conversation_id, "assistant", answer, now(), model="m", finish_reason="stop")
    store.append_messages(conversation_id, [user, reply])
    return reply


def feedback(**fields) -> FeedbackRecord:
    return FeedbackRecord(id=new_id("fb"), created=now(), **fields)


def test_conversation_round_trip_keeps_order_and_fields(store):
    conv = store.create_conversation("m", {"team": "ads"}, system="be brief")
    first = exchange(store, conv.id, "q1", "a1")
    exchange(store, conv.id, "q2", "a2")
    got = store.get_conversation(conv.id)
    assert (got.id, got.model, got.metadata) == (conv.id, "m", {"team": "ads"})
    assert [(m.role, m.content) for m in got.messages] == [
        ("system", "be brief"), ("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2")]
    assert got.messages[2] == first


def test_unknown_conversation_names_the_field(store):
    for call in (store.get_conversation, store.delete_conversation):
        with pytest.raises(NotFoundError) as err:
            call("conv-missing")
        assert err.value.param == "conversation_id"
    with pytest.raises(NotFoundError):
        exchange(store, "conv-missing", "q", "a")


def test_delete_removes_messages_and_their_feedback(store):
    conv, other = store.create_conversation("m"), store.create_conversation("m")
    reply = exchange(store, conv.id, "q", "a")
    kept = exchange(store, other.id, "q", "b")
    store.add_feedback(feedback(conversation_id=conv.id, message_id=reply.id, rating=1))
    store.add_feedback(feedback(conversation_id=other.id, message_id=kept.id, rating=-1))
    store.delete_conversation(conv.id)
    with pytest.raises(NotFoundError):
        store.get_conversation(conv.id)
    assert [f.message_id for f in store.list_feedback()] == [kept.id]
    assert store.ranked_messages([reply.id, kept.id]).keys() == {kept.id}


def test_feedback_reference_checks_store_nothing_on_failure(store):
    a, b, c = (store.create_conversation("m", system="S") for _ in range(3))
    ra, rb = exchange(store, a.id, "Q", "ra"), exchange(store, b.id, "Q", "rb")
    exchange(store, c.id, "Q", "first")
    rc = exchange(store, c.id, "Q", "rc")  # same question, but a longer history: a different prompt
    user = store.get_conversation(a.id).messages[1]
    cases = [
        (feedback(conversation_id="conv-x", message_id=ra.id, rating=1), NotFoundError, "conversation_id"),
        (feedback(conversation_id=a.id, message_id=rb.id, rating=1), NotFoundError, "message_id"),
        (feedback(conversation_id=a.id, message_id=user.id, rating=1), InvalidReferenceError, "message_id"),
        (feedback(conversation_id=a.id, message_id=ra.id, ranking=(ra.id, "msg-x")), NotFoundError, "ranking[1]"),
        (feedback(conversation_id=a.id, message_id=ra.id, ranking=(user.id, ra.id)), InvalidReferenceError,
         "ranking[0]"),
        (feedback(conversation_id=a.id, message_id=ra.id, ranking=(ra.id, rb.id, rc.id)), InvalidReferenceError,
         "ranking[2]"),
    ]
    for record, error, param in cases:
        with pytest.raises(error) as err:
            store.add_feedback(record)
        assert err.value.param == param
    assert store.list_feedback() == []
    ok = store.add_feedback(feedback(conversation_id=a.id, message_id=ra.id, ranking=(rb.id, ra.id), comment="b"))
    unverified = store.add_feedback(feedback(completion_id="chatcmpl-anything", ranking=("chatcmpl-anything", "x")))
    assert store.list_feedback() == [ok, unverified]


def test_ranked_messages_carry_the_history_before_them(store):
    conv = store.create_conversation("m", system="S")
    first = exchange(store, conv.id, "q1", "a1")
    second = exchange(store, conv.id, "q2", "a2")
    found = store.ranked_messages([first.id, second.id, "msg-gone"])
    assert found[first.id].prompt == ({"role": "system", "content": "S"}, {"role": "user", "content": "q1"})
    assert [m["content"] for m in found[second.id].prompt] == ["S", "q1", "a1", "q2"]
    assert "msg-gone" not in found


def test_sqlite_runs_wal_with_full_sync(tmp_path):
    store = Store.open(default_database_url(tmp_path / "new" / "dir"))  # creates the directory
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()
    assert (tmp_path / "new" / "dir" / DATABASE_FILE).is_file()


def test_open_refuses_memory_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match="in-memory"):
        Store.open("sqlite://")
    with pytest.raises(ValueError, match="no database"):
        Store.open(default_database_url(tmp_path), create=False)
    assert not (tmp_path / DATABASE_FILE).exists()


WRITER = textwrap.dedent("""
    import sys
    from server.store import FeedbackRecord, MessageRecord, Store, new_id, now
    store = Store.open(sys.argv[1])
    while True:
        conv = store.create_conversation("m", system="S")
        reply = MessageRecord(new_id("msg"), conv.id, "assistant", "a", now())
        store.append_messages(conv.id, [MessageRecord(new_id("msg"), conv.id, "user", "q", now()), reply])
        fb = store.add_feedback(FeedbackRecord(new_id("fb"), now(), conversation_id=conv.id, message_id=reply.id,
                                               rating=1))
        print(conv.id, reply.id, fb.id, flush=True)  # acknowledged: every write above has committed
""")


def test_acknowledged_writes_survive_kill_9_of_a_writer(tmp_path):
    url = default_database_url(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, url], cwd=REPO, stdout=subprocess.PIPE, text=True)
    acked = [proc.stdout.readline().split() for _ in range(30)]
    proc.send_signal(signal.SIGKILL)  # mid-write: it never stops writing
    proc.wait()
    assert all(len(line) == 3 for line in acked), acked
    store = Store.open(url, create=False)
    feedback_ids = {f.id for f in store.list_feedback()}
    for conversation_id, reply_id, feedback_id in acked:
        assert [m.role for m in store.get_conversation(conversation_id).messages][-1] == "assistant"
        assert store.ranked_messages([reply_id]).keys() == {reply_id}
        assert feedback_id in feedback_ids
    store.close()
    with sqlite3.connect(tmp_path / DATABASE_FILE) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


SERVER = textwrap.dedent("""
    import sys
    import uvicorn
    from server.app import build_app
    from server.settings import ServerSettings
    from tests.server.fake_engine import FakeEngine

    async def factory(*_):
        return FakeEngine()

    settings = ServerSettings(model="unused", served_model_name="fake-model", data_dir=sys.argv[1])
    uvicorn.run(build_app(settings, "/models/fake", engine_factory=factory), port=int(sys.argv[2]),
                log_level="warning")
""")


def test_acknowledged_writes_survive_kill_9_of_the_server(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path), str(port)], cwd=REPO,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "fake server did not start"
            time.sleep(0.05)
        conv = httpx.post(f"{base}/v1/conversations", json={"system": "S"}).json()
        reply = httpx.post(f"{base}/v1/conversations/{conv['id']}/messages", json={"content": "hi"}).json()
        fb = httpx.post(f"{base}/v1/feedback", json={"conversation_id": conv["id"], "message_id": reply["id"],
                                                     "rating": 1}).json()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # right after the last acknowledgement
        proc.wait()
    store = Store.open(default_database_url(tmp_path), create=False)
    messages = store.get_conversation(conv["id"]).messages
    assert [(m.role, m.content) for m in messages] == [("system", "S"), ("user", "hi"), ("assistant", reply["content"])]
    assert messages[-1].id == reply["id"]
    assert [f.id for f in store.list_feedback()] == [fb["id"]]
    store.close()


def test_a_store_that_cannot_open_fails_server_startup():
    from tests.server.conftest import make_client
    from tests.server.fake_engine import FakeEngine

    with pytest.raises(ValueError, match="in-memory"):
        with make_client(FakeEngine(), database_url="sqlite://"):
            pass
