"""The same store behaviour on SQLite and on a real PostgreSQL: tenant isolation, the migration of
a database made before tenancy, and text that only one of them would accept as given (NUL, lone
surrogates), which both now store the same way."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.store import (
    FeedbackRecord,
    MessageRecord,
    NotFoundError,
    QuotaExceededError,
    Store,
    default_database_url,
    new_id,
    now,
)
from server.tenancy import Principal
from tests.deploy.services import postgres

ACME, OTHER, ADMIN = Principal("acme"), Principal("other"), Principal("ops", admin=True)


@pytest.fixture(scope="module")
def database():
    with postgres() as instance:
        yield instance


def _reset(url: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS feedback, messages, conversations, alembic_version")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return default_database_url(tmp_path)
    database = request.getfixturevalue("database")
    _reset(database.url)
    return database.url


@pytest.fixture
def store(url):
    opened = Store.open(url)
    yield opened
    opened.close()


def _exchange(store: Store, conversation_id: str, question: str, answer: str, principal: Principal) -> str:
    reply = MessageRecord(new_id("msg"), conversation_id, "assistant", answer, now(), model="m", finish_reason="stop")
    store.append_messages(conversation_id, [MessageRecord(new_id("msg"), conversation_id, "user", question, now()),
                                            reply], principal=principal)
    return reply.id


def test_each_tenant_sees_only_its_own_rows(store):
    conv = store.create_conversation("m", system="acme's system prompt", owner="acme")
    reply = _exchange(store, conv.id, "q", "a", ACME)
    with pytest.raises(NotFoundError):
        store.get_conversation(conv.id, principal=OTHER)
    with pytest.raises(NotFoundError):
        store.append_messages(conv.id, [MessageRecord(new_id("msg"), conv.id, "user", "x", now())], principal=OTHER)
    with pytest.raises(NotFoundError):
        store.add_feedback(FeedbackRecord(new_id("fb"), now(), conversation_id=conv.id, message_id=reply, rating=-1,
                                          owner="other"), principal=OTHER)
    with pytest.raises(NotFoundError):
        store.delete_conversation(conv.id, principal=OTHER)
    assert len(store.get_conversation(conv.id, principal=ADMIN).messages) == 3
    store.add_feedback(FeedbackRecord(new_id("fb"), now(), conversation_id=conv.id, message_id=reply, rating=1,
                                      owner="acme"), principal=ACME)
    assert len(store.list_feedback(principal=ACME)) == 1 and store.list_feedback(principal=OTHER) == []
    assert set(store.ranked_messages([reply], principal=OTHER)) == set()
    assert set(store.ranked_messages([reply], principal=ACME)) == {reply}
    store.delete_conversation(conv.id, principal=ACME)


OLD_TABLES = (
    "CREATE TABLE conversations (id VARCHAR(64) PRIMARY KEY, created INTEGER, model VARCHAR(256), metadata JSON)",
    "CREATE TABLE messages (seq {serial} PRIMARY KEY, id VARCHAR(64) UNIQUE, conversation_id VARCHAR(64) "
    "REFERENCES conversations(id) ON DELETE CASCADE, role VARCHAR(16), content TEXT, created INTEGER, "
    "model VARCHAR(256), finish_reason VARCHAR(16), prompt_tokens INTEGER, completion_tokens INTEGER)",
    "CREATE TABLE feedback (seq {serial} PRIMARY KEY, id VARCHAR(64) UNIQUE, created INTEGER, completion_id "
    "VARCHAR(256), conversation_id VARCHAR(64) REFERENCES conversations(id) ON DELETE CASCADE, message_id "
    "VARCHAR(64) REFERENCES messages(id) ON DELETE CASCADE, rating INTEGER, ranking JSON, comment TEXT)",
    "INSERT INTO conversations VALUES ('conv-old', 1, 'm', '{{}}')",
    "INSERT INTO messages (id, conversation_id, role, content, created) VALUES ('msg-old', 'conv-old', 'user', 'q', 1)",
)


def test_a_database_from_before_tenancy_is_migrated(url):
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    serial = "SERIAL" if engine.dialect.name == "postgresql" else "INTEGER"
    with engine.begin() as connection:
        for statement in OLD_TABLES:
            connection.exec_driver_sql(statement.format(serial=serial))
    engine.dispose()
    store = Store.open(url)
    try:
        assert store.get_conversation("conv-old").owner is None
        with pytest.raises(NotFoundError):
            store.get_conversation("conv-old", principal=ACME)
        assert store.get_conversation("conv-old", principal=ADMIN).messages[0].content == "q"
        conv = store.create_conversation("m", owner="acme")
        _exchange(store, conv.id, "q", "a", ACME)
        assert len(store.get_conversation(conv.id, principal=ACME).messages) == 2
    finally:
        store.close()


HOSTILE = "nul\x00 in text, a lone \ud800 surrogate"
STORED = "nul\ufffd in text, a lone \ufffd surrogate"


def test_nul_and_lone_surrogates_are_stored_alike_everywhere(store):
    conv = store.create_conversation("m", {"k\x00": HOSTILE}, system=HOSTILE, owner="acme")
    reply = _exchange(store, conv.id, HOSTILE, HOSTILE, ACME)
    record = store.get_conversation(conv.id, principal=ACME)
    assert record.metadata == {"k\ufffd": STORED}
    assert [m.content for m in record.messages] == [STORED] * 3
    store.add_feedback(FeedbackRecord(new_id("fb"), now(), conversation_id=conv.id, message_id=reply, rating=1,
                                      comment=HOSTILE, owner="acme"), principal=ACME)
    store.add_feedback(FeedbackRecord(new_id("fb"), now(), completion_id=HOSTILE, rating=1, owner="acme"),
                       principal=ACME)
    assert [(fb.comment, fb.completion_id) for fb in store.list_feedback()] == [(STORED, None), (None, STORED)]
    with pytest.raises(NotFoundError):
        store.get_conversation("conv-\x00", principal=ACME)  # a lookup by such an id is a miss, not a crash
    with pytest.raises(NotFoundError):
        store.delete_conversation("\ud800", principal=ADMIN)


def test_usage_and_expiry(store):
    conv = store.create_conversation("m", system="sé", owner="acme")  # 3 bytes
    _exchange(store, conv.id, "q", "ü", ACME)  # 1 + 2 bytes
    assert (store.tenant_usage("acme").conversations, store.tenant_usage("acme").content_bytes) == (1, 6)
    assert store.tenant_usage("other").content_bytes == 0
    with pytest.raises(QuotaExceededError):
        store.create_conversation("m", owner="acme", max_conversations=1)
    assert store.delete_inactive(now() - 60) == 0
    assert store.delete_inactive(now() + 60) == 1
    assert store.tenant_usage("acme").conversations == 0
