"""Schema versions (Alembic, `server.migrations`): the revisions build exactly the model, a database
of the previous schema (the baseline, with rows) is upgraded when the server opens it and by
``icegrt db upgrade`` with its rows kept, databases made before schema versions are recognised, and
a newer or unknown schema is refused with what to do."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cli.main import main
from server.migrations import runner
from server.migrations.runner import SchemaError
from server.store import Base, FeedbackRecord, MessageRecord, Store, default_database_url, new_id, now
from server.tenancy import Principal
from tests.server.conftest import make_client, wait_ready
from tests.server.fake_engine import FakeEngine

# What the first release's store (commit 7832d8c, `Base.metadata.create_all` on SQLite) made: the
# baseline revision must make the same, statement for statement.
FIRST_RELEASE_SQL = """
CREATE TABLE conversations (
	id VARCHAR(64) NOT NULL, 
	created INTEGER NOT NULL, 
	model VARCHAR(256) NOT NULL, 
	metadata JSON NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE messages (
	seq INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	conversation_id VARCHAR(64) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	content TEXT NOT NULL, 
	created INTEGER NOT NULL, 
	model VARCHAR(256), 
	finish_reason VARCHAR(16), 
	prompt_tokens INTEGER, 
	completion_tokens INTEGER, 
	PRIMARY KEY (seq), 
	UNIQUE (id), 
	FOREIGN KEY(conversation_id) REFERENCES conversations (id) ON DELETE CASCADE
);
CREATE INDEX ix_messages_conversation_id ON messages (conversation_id);
CREATE TABLE feedback (
	seq INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	created INTEGER NOT NULL, 
	completion_id VARCHAR(256), 
	conversation_id VARCHAR(64), 
	message_id VARCHAR(64), 
	rating INTEGER, 
	ranking JSON, 
	comment TEXT, 
	PRIMARY KEY (seq), 
	UNIQUE (id), 
	FOREIGN KEY(conversation_id) REFERENCES conversations (id) ON DELETE CASCADE, 
	FOREIGN KEY(message_id) REFERENCES messages (id) ON DELETE CASCADE
);
CREATE INDEX ix_feedback_completion_id ON feedback (completion_id);
CREATE INDEX ix_feedback_conversation_id ON feedback (conversation_id);
"""

# What the tenancy release (commit 649638f) added on open to a database of the first release.
TENANCY_RELEASE_SQL = "".join(
    f"ALTER TABLE {t} ADD COLUMN owner VARCHAR(64); CREATE INDEX IF NOT EXISTS ix_{t}_owner ON {t} (owner);\n"
    for t in ("conversations", "messages", "feedback"))

ROWS_SQL = """
INSERT INTO conversations VALUES ('conv-old', 1700000000, 'old-model', '{"topic": "kept"}');
INSERT INTO messages (id, conversation_id, role, content, created) VALUES ('msg-s', 'conv-old', 'system', 'Be brief', 1700000000);
INSERT INTO messages (id, conversation_id, role, content, created) VALUES ('msg-u', 'conv-old', 'user', 'question', 1700000001);
INSERT INTO messages (id, conversation_id, role, content, created, model, finish_reason, prompt_tokens, completion_tokens)
  VALUES ('msg-a', 'conv-old', 'assistant', 'old answer', 1700000002, 'old-model', 'stop', 7, 2);
INSERT INTO feedback (id, created, conversation_id, message_id, rating, comment) VALUES ('fb-old', 1700000003, 'conv-old', 'msg-a', 1, 'good');
INSERT INTO feedback (id, created, completion_id, rating) VALUES ('fb-cmpl', 1700000004, 'chatcmpl-x', -1);
"""


def schema_sql(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name != 'alembic_version' "
                                  "AND name NOT LIKE 'sqlite_%' ORDER BY name")
        return [" ".join(row[0].split()) for row in rows]


def revision_of(path: Path) -> str | None:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE name = 'alembic_version'").fetchall()
        return connection.execute("SELECT version_num FROM alembic_version").fetchone()[0] if rows else None


def migrate_file(path: Path, revision: str) -> None:
    """`path` at `revision`, with the version recorded, as an earlier release with migrations would leave it."""
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        command.upgrade(runner.alembic_config(connection), revision)
        connection.commit()
    engine.dispose()


def baseline_database(directory: Path, *, versioned: bool) -> Path:
    """The previous schema with rows: versioned (revision 0001 recorded) or as the first release made it."""
    path = directory / "icegrt.db"
    if versioned:
        migrate_file(path, "0001")
    with sqlite3.connect(path) as connection:
        connection.executescript((FIRST_RELEASE_SQL if not versioned else "") + ROWS_SQL)
    return path


def assert_old_rows_kept(store: Store) -> None:
    conversation = store.get_conversation("conv-old")
    assert conversation.metadata == {"topic": "kept"} and conversation.model == "old-model"
    assert [(m.id, m.role, m.content) for m in conversation.messages] == [
        ("msg-s", "system", "Be brief"), ("msg-u", "user", "question"), ("msg-a", "assistant", "old answer")]
    assert (conversation.messages[2].prompt_tokens, conversation.messages[2].completion_tokens) == (7, 2)
    assert conversation.owner is None  # rows from before tenancy belong to no tenant
    assert [(f.id, f.rating) for f in store.list_feedback()] == [("fb-old", 1), ("fb-cmpl", -1)]


def assert_new_rows_work(store: Store) -> None:
    store.append_messages("conv-old", [MessageRecord(new_id("msg"), "conv-old", "user", "again", now()),
                                       MessageRecord(new_id("msg"), "conv-old", "assistant", "new answer", now())])
    assert [m.content for m in store.get_conversation("conv-old").messages][-2:] == ["again", "new answer"]
    mine = store.create_conversation("m", system="hi", owner="acme")
    reply = MessageRecord(new_id("msg"), mine.id, "assistant", "a", now(), model="m", finish_reason="stop")
    store.append_messages(mine.id, [MessageRecord(new_id("msg"), mine.id, "user", "q", now()), reply],
                          principal=Principal("acme"))
    store.add_feedback(FeedbackRecord(new_id("fb"), now(), conversation_id=mine.id, message_id=reply.id, rating=1,
                                      owner="acme"), principal=Principal("acme"))
    assert len(store.list_feedback(principal=Principal("acme"))) == 1


# ---- the revisions ------------------------------------------------------------------------


def test_the_revisions_build_exactly_the_model(tmp_path):
    Store.open(default_database_url(tmp_path)).close()
    assert revision_of(tmp_path / "icegrt.db") == runner.head()
    engine = sa.create_engine(default_database_url(tmp_path))
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == [], "the model in server/store.py and the head revision differ: write a revision"


def test_the_baseline_revision_is_the_first_release_schema(tmp_path):
    with sqlite3.connect(tmp_path / "first.db") as connection:
        connection.executescript(FIRST_RELEASE_SQL)
    migrate_file(tmp_path / "migrated.db", "0001")
    assert schema_sql(tmp_path / "migrated.db") == schema_sql(tmp_path / "first.db")


def test_the_revisions_go_down_and_up_again(tmp_path):
    path = baseline_database(tmp_path, versioned=True)
    migrate_file(path, "head")
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        command.downgrade(runner.alembic_config(connection), "0001")
        connection.commit()
    engine.dispose()
    assert revision_of(path) == "0001" and "owner" not in " ".join(schema_sql(path))
    store = Store.open(default_database_url(tmp_path))
    try:
        assert_old_rows_kept(store)
    finally:
        store.close()


# ---- opening an older database ----------------------------------------------------------------


def test_a_baseline_database_is_upgraded_on_open_and_its_rows_kept(tmp_path, caplog):
    baseline_database(tmp_path, versioned=True)
    with caplog.at_level(logging.INFO, logger="server.migrations.runner"):
        store = Store.open(default_database_url(tmp_path))
    try:
        assert "upgraded the schema from revision 0001 to 0002" in caplog.text
        assert revision_of(tmp_path / "icegrt.db") == runner.head()
        assert_old_rows_kept(store)
        assert_new_rows_work(store)
    finally:
        store.close()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="server.migrations.runner"):
        Store.open(default_database_url(tmp_path)).close()  # at the head: nothing to do, nothing logged
    assert "schema" not in caplog.text


def test_the_server_opens_a_baseline_database_and_serves_its_rows(tmp_path):
    baseline_database(tmp_path, versioned=False)
    with make_client(FakeEngine(), data_dir=str(tmp_path)) as client:
        wait_ready(client)
        old = client.get("/v1/conversations/conv-old")
        assert old.status_code == 200, old.text
        assert [m["content"] for m in old.json()["messages"]] == ["Be brief", "question", "old answer"]
        reply = client.post("/v1/conversations/conv-old/messages", json={"content": "and now?"})
        assert reply.status_code == 200, reply.text
        feedback = client.post("/v1/feedback", json={"conversation_id": "conv-old", "message_id": reply.json()["id"],
                                                     "rating": 1})
        assert feedback.status_code == 200, feedback.text
        created = client.post("/v1/conversations", json={"system": "new"})
        assert created.status_code == 200, created.text
        assert len(client.get("/v1/conversations/conv-old").json()["messages"]) == 5
    assert revision_of(tmp_path / "icegrt.db") == runner.head()


@pytest.mark.parametrize("release", ["first", "tenancy"])
def test_a_database_from_before_schema_versions_is_recognised(tmp_path, caplog, release):
    path = tmp_path / "icegrt.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(FIRST_RELEASE_SQL + ROWS_SQL + (TENANCY_RELEASE_SQL if release == "tenancy" else ""))
    matches = "0001" if release == "first" else "0002"
    with caplog.at_level(logging.INFO, logger="server.migrations.runner"):
        store = Store.open(default_database_url(tmp_path))
    try:
        assert f"found tables made before schema versions, matching revision {matches}" in caplog.text
        assert revision_of(path) == runner.head()
        assert_old_rows_kept(store)
        assert_new_rows_work(store)
    finally:
        store.close()


# ---- refusals -----------------------------------------------------------------------------------


def test_a_database_from_a_newer_release_is_refused(tmp_path, capsys, caplog):
    Store.open(default_database_url(tmp_path)).close()
    with sqlite3.connect(tmp_path / "icegrt.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(SchemaError, match="revision '0099', which this release does not know .* a newer icegrt"):
        Store.open(default_database_url(tmp_path))
    assert [r.levelname for r in caplog.records if "a newer icegrt" in r.getMessage()] == ["ERROR"]
    assert main(["db", "upgrade", "--data-dir", str(tmp_path)]) == 2
    assert "a newer icegrt upgraded it" in capsys.readouterr().err
    assert revision_of(tmp_path / "icegrt.db") == "0099"  # untouched


def test_tables_of_no_known_revision_are_refused_with_what_to_do(tmp_path, capsys):
    with sqlite3.connect(tmp_path / "icegrt.db") as connection:
        connection.executescript(FIRST_RELEASE_SQL.replace("comment TEXT", "note TEXT"))
    with pytest.raises(SchemaError) as refused:
        Store.open(default_database_url(tmp_path))
    message = str(refused.value)
    assert "no schema version" in message and "feedback has unknown columns ['note']" in message
    assert "icegrt db stamp" in message and "icegrt db upgrade" in message
    assert main(["db", "current", "--data-dir", str(tmp_path)]) == 0
    assert "match no known revision" in capsys.readouterr().out
    assert revision_of(tmp_path / "icegrt.db") is None


# ---- icegrt db ----------------------------------------------------------------------------------


def test_icegrt_db_upgrade_brings_a_baseline_file_to_the_head(tmp_path, capsys):
    baseline_database(tmp_path, versioned=True)
    assert main(["db", "current", "--data-dir", str(tmp_path), "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert (before["current"], before["head"]) == ("0001", runner.head()) and "older" in before["status"]

    assert main(["db", "upgrade", "--database-url", default_database_url(tmp_path)]) == 0
    assert "upgraded the schema from revision 0001 to 0002" in capsys.readouterr().out
    assert revision_of(tmp_path / "icegrt.db") == runner.head()
    assert main(["db", "upgrade", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("nothing to do")
    assert main(["db", "current", "--data-dir", str(tmp_path)]) == 0
    assert "status:   up to date" in capsys.readouterr().out

    store = Store.open(default_database_url(tmp_path))
    try:
        assert_old_rows_kept(store)
        assert_new_rows_work(store)
    finally:
        store.close()


def test_icegrt_db_upgrade_adopts_a_first_release_file_and_stamp_records_a_revision(tmp_path, capsys):
    baseline_database(tmp_path, versioned=False)
    assert main(["db", "current", "--data-dir", str(tmp_path)]) == 0
    assert "its tables match revision 0001" in capsys.readouterr().out
    assert main(["db", "upgrade", "--data-dir", str(tmp_path)]) == 0
    assert "matching revision 0001" in capsys.readouterr().out
    assert main(["db", "stamp", "0001", "--data-dir", str(tmp_path)]) == 0
    assert revision_of(tmp_path / "icegrt.db") == "0001"
    assert main(["db", "stamp", "0042", "--data-dir", str(tmp_path)]) == 2
    assert "unknown revision '0042'" in capsys.readouterr().err


def test_icegrt_db_refuses_a_missing_file(tmp_path, capsys):
    assert main(["db", "upgrade", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()
