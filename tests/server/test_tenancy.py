"""Tenancy: key ids, the key file, key settings, and per-tenant isolation of every stored row
(through the API with a fake engine, in the store, after migrating an old database, and in the export)."""

from __future__ import annotations

import argparse
import json
import sqlite3

import pytest

from cli.main import main
from common.config import add_settings_arguments, settings_from_args
from server.app import build_app
from server.settings import ServerSettings
from server.store import FeedbackRecord, MessageRecord, NotFoundError, Store, default_database_url, new_id, now
from server.tenancy import (
    ANONYMOUS,
    AuthSettingsError,
    KeyFileError,
    Principal,
    check_exposure,
    key_id,
    load_keys,
    read_key_file,
)
from tests.server.conftest import make_client, wait_ready

KEY_FILE = """\
# key          tenant  marker
acme-key-1     acme
acme-key-2     acme
ops-key        ops     admin

bare-key-b
"""


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# ---- keys ---------------------------------------------------------------------------------


def test_key_id_is_stable_and_never_the_key():
    assert key_id("secret-key") == key_id("secret-key")
    assert key_id("secret-key") != key_id("secret-kez")
    ident = key_id("secret-key")
    assert ident.startswith("key_") and len(ident) == 20 and "secret" not in ident
    int(ident[4:], 16)


def test_key_file_names_tenants_admins_and_bare_keys(tmp_path):
    path = tmp_path / "keys"
    path.write_text(KEY_FILE)
    keys = {k.key.decode(): k.principal for k in read_key_file(path)}
    assert keys == {
        "acme-key-1": Principal("acme"), "acme-key-2": Principal("acme"),
        "ops-key": Principal("ops", admin=True), "bare-key-b": Principal(key_id("bare-key-b")),
    }


@pytest.mark.parametrize(("text", "fragment"), [
    ("k1 acme\nk1 other\n", "listed twice"),
    ("k1 a b\n", "got 3 fields"),
    ("k1 key_0123\n", "must be 1-64"),
    ("k1 acme/../x\n", "must be 1-64"),
    ("k1 admin admin\n", "expected"),
])
def test_bad_key_files_name_the_line(tmp_path, text, fragment):
    path = tmp_path / "keys"
    path.write_text(text)
    with pytest.raises(KeyFileError, match=fragment) as caught:
        read_key_file(path)
    assert str(path) in str(caught.value)


def test_missing_key_file_is_a_clear_error(tmp_path):
    with pytest.raises(KeyFileError, match="cannot read"):
        read_key_file(tmp_path / "absent")


def test_a_key_both_on_the_command_line_and_in_the_file_is_refused(tmp_path):
    path = tmp_path / "keys"
    path.write_text("k1 acme\n")
    with pytest.raises(KeyFileError, match="listed twice"):
        load_keys(["k1"], path)
    assert len(load_keys(["k0", "k0"], path)) == 2  # a repeated bare key is one key


def _parsed(argv: list[str]) -> ServerSettings:
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, ServerSettings)
    return settings_from_args(ServerSettings, parser.parse_args(argv))


def test_repeated_and_comma_separated_keys_mean_the_same(monkeypatch):
    monkeypatch.delenv("ICEGRT_API_KEY", raising=False)
    expected = ["a", "b", "c"]
    assert _parsed(["--api-key", "a", "--api-key", "b", "--api-key", "c"]).api_key == expected
    assert _parsed(["--api-key", "a,b", "c"]).api_key == expected
    assert _parsed(["--api-key", "a", "b,c"]).api_key == expected
    monkeypatch.setenv("ICEGRT_API_KEY", "a, b,c")
    assert ServerSettings().api_key == expected
    monkeypatch.setenv("ICEGRT_API_KEY", "")
    assert ServerSettings().api_key == []


def test_allowed_origins_as_vllm_serve_takes_them(monkeypatch):
    monkeypatch.delenv("ICEGRT_ALLOWED_ORIGINS", raising=False)
    assert _parsed(["--allowed-origins", '["*"]']).allowed_origins == ["*"]  # vllm serve's JSON form
    assert _parsed(["--allowed-origins", '["https://a.example", "https://b.example"]']).allowed_origins == [
        "https://a.example", "https://b.example"]
    assert _parsed(["--allowed-origins", "https://a.example,https://b.example"]).allowed_origins == [
        "https://a.example", "https://b.example"]
    monkeypatch.setenv("ICEGRT_ALLOWED_ORIGINS", '["*"]')
    assert ServerSettings().allowed_origins == ["*"]


def test_cors_answers_only_the_origins_given_in_vllm_serve_json_form(engine, monkeypatch):
    monkeypatch.delenv("ICEGRT_ALLOWED_ORIGINS", raising=False)
    with make_client(engine, allowed_origins='["https://a.example"]') as client:
        allowed = client.get("/health", headers={"Origin": "https://a.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://a.example"
        other = client.get("/health", headers={"Origin": "https://b.example"})
        assert "access-control-allow-origin" not in other.headers


def test_no_keys_on_a_public_address_is_refused_unless_allowed(tmp_path):
    for host in ("0.0.0.0", "::", "10.1.2.3", "example.org"):
        with pytest.raises(AuthSettingsError, match="--allow-unauthenticated"):
            check_exposure([], host, allow_unauthenticated=False)
        check_exposure([], host, allow_unauthenticated=True)
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_exposure([], host, allow_unauthenticated=False)
    check_exposure(load_keys(["k"], None), "0.0.0.0", allow_unauthenticated=False)
    with pytest.raises(AuthSettingsError):
        build_app(ServerSettings(model="unused", host="0.0.0.0", data_dir=tmp_path), "/models/fake")


def test_serve_refuses_before_loading_anything(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ICEGRT_API_KEY", raising=False)
    monkeypatch.setenv("ICEGRT_API_KEY", "")  # the compose default used to switch auth off silently
    code = main(["serve", "--model", "tiny", "--host", "0.0.0.0", "--data-dir", str(tmp_path)])
    assert code == 2
    assert "--allow-unauthenticated" in capsys.readouterr().err


# ---- isolation through the API ------------------------------------------------------------


@pytest.fixture
def tenants(engine, tmp_path):
    path = tmp_path / "keys"
    path.write_text(KEY_FILE)
    with make_client(engine, api_key_file=path, api_key=["cli-key"], data_dir=tmp_path / "data") as client:
        wait_ready(client)
        yield client


def _conversation_with_reply(client, key: str) -> tuple[str, str]:
    conv = client.post("/v1/conversations", json={"system": "secret system prompt"}, headers=bearer(key)).json()
    reply = client.post(f"/v1/conversations/{conv['id']}/messages", json={"content": "hi"}, headers=bearer(key))
    assert reply.status_code == 200, reply.text
    return conv["id"], reply.json()["id"]


def _same_404(foreign, missing) -> None:
    assert foreign.status_code == missing.status_code == 404, (foreign.text, missing.text)
    f, m = foreign.json()["error"], missing.json()["error"]
    assert (f["type"], f["param"], f["code"]) == (m["type"], m["param"], m["code"])
    assert "secret" not in foreign.text


def test_another_key_gets_404_on_every_conversation_and_feedback_route(tenants):
    conv, msg = _conversation_with_reply(tenants, "acme-key-1")
    missing = "conv-" + "0" * 32
    for other in ("bare-key-b", "cli-key"):
        h = bearer(other)
        _same_404(tenants.get(f"/v1/conversations/{conv}", headers=h),
                  tenants.get(f"/v1/conversations/{missing}", headers=h))
        _same_404(tenants.post(f"/v1/conversations/{conv}/messages", json={"content": "x"}, headers=h),
                  tenants.post(f"/v1/conversations/{missing}/messages", json={"content": "x"}, headers=h))
        _same_404(tenants.delete(f"/v1/conversations/{conv}", headers=h),
                  tenants.delete(f"/v1/conversations/{missing}", headers=h))
        _same_404(tenants.post("/v1/feedback", json={"conversation_id": conv, "message_id": msg, "rating": -1},
                               headers=h),
                  tenants.post("/v1/feedback", json={"conversation_id": missing, "message_id": msg, "rating": -1},
                               headers=h))
        own_conv, own_msg = _conversation_with_reply(tenants, other)
        ranked = tenants.post("/v1/feedback", json={"conversation_id": own_conv, "message_id": own_msg,
                                                    "ranking": [own_msg, msg]}, headers=h)
        assert ranked.status_code == 404 and ranked.json()["error"]["param"] == "ranking[1]"
    store = tenants.app.state.store
    assert store.list_feedback() == []
    assert len(store.get_conversation(conv).messages) == 3  # nothing appended, nothing deleted


def test_keys_of_one_tenant_share_and_admins_see_everything(tenants):
    conv, msg = _conversation_with_reply(tenants, "acme-key-1")
    assert tenants.get(f"/v1/conversations/{conv}", headers=bearer("acme-key-2")).status_code == 200
    assert tenants.post("/v1/feedback", json={"conversation_id": conv, "message_id": msg, "rating": 1},
                        headers=bearer("acme-key-2")).status_code == 200
    assert tenants.get(f"/v1/conversations/{conv}", headers=bearer("ops-key")).status_code == 200
    assert tenants.post(f"/v1/conversations/{conv}/messages", json={"content": "x"},
                        headers=bearer("ops-key")).status_code == 200
    store = tenants.app.state.store
    record = store.get_conversation(conv)
    assert record.owner == "acme" and len(record.messages) == 5  # the admin's exchange stays the tenant's
    assert [fb.owner for fb in store.list_feedback()] == ["acme"]
    assert tenants.delete(f"/v1/conversations/{conv}", headers=bearer("ops-key")).status_code == 200


def test_rows_record_the_owner_never_the_key(tenants):
    conv, msg = _conversation_with_reply(tenants, "bare-key-b")
    tenants.post("/v1/feedback", json={"completion_id": "cmpl-1", "rating": 1}, headers=bearer("bare-key-b"))
    store = tenants.app.state.store
    assert store.get_conversation(conv).owner == key_id("bare-key-b")
    assert store.list_feedback()[0].owner == key_id("bare-key-b")
    with store.engine.connect() as connection:
        for table in ("conversations", "messages", "feedback"):
            owners = {row[0] for row in connection.exec_driver_sql(f"SELECT owner FROM {table}")}
            assert owners == {key_id("bare-key-b")}, table


def test_without_keys_everything_is_shared_as_before(client):
    conv = client.post("/v1/conversations", json={}).json()["id"]
    assert client.get(f"/v1/conversations/{conv}").status_code == 200
    assert client.app.state.store.get_conversation(conv).owner is None


# ---- the store: migration and export --------------------------------------------------------

OLD_SCHEMA = """
CREATE TABLE conversations (id VARCHAR(64) PRIMARY KEY, created INTEGER, model VARCHAR(256), metadata JSON);
CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id VARCHAR(64) UNIQUE,
  conversation_id VARCHAR(64) REFERENCES conversations(id) ON DELETE CASCADE, role VARCHAR(16), content TEXT,
  created INTEGER, model VARCHAR(256), finish_reason VARCHAR(16), prompt_tokens INTEGER, completion_tokens INTEGER);
CREATE TABLE feedback (seq INTEGER PRIMARY KEY AUTOINCREMENT, id VARCHAR(64) UNIQUE, created INTEGER,
  completion_id VARCHAR(256), conversation_id VARCHAR(64) REFERENCES conversations(id) ON DELETE CASCADE,
  message_id VARCHAR(64) REFERENCES messages(id) ON DELETE CASCADE, rating INTEGER, ranking JSON, comment TEXT);
INSERT INTO conversations VALUES ('conv-old', 1, 'm', '{}');
INSERT INTO messages (id, conversation_id, role, content, created) VALUES ('msg-u', 'conv-old', 'user', 'q', 1);
INSERT INTO messages (id, conversation_id, role, content, created) VALUES ('msg-a', 'conv-old', 'assistant', 'a', 1);
INSERT INTO feedback (id, created, conversation_id, message_id, rating) VALUES ('fb-old', 1, 'conv-old', 'msg-a', 1);
"""


def test_an_old_database_is_migrated_and_its_rows_belong_to_no_tenant(tmp_path):
    path = tmp_path / "icegrt.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(OLD_SCHEMA)
    store = Store.open(default_database_url(tmp_path))
    try:
        assert store.get_conversation("conv-old").owner is None
        assert [fb.id for fb in store.list_feedback()] == ["fb-old"]
        with pytest.raises(NotFoundError, match="does not exist"):
            store.get_conversation("conv-old", principal=Principal("acme"))
        assert store.list_feedback(principal=Principal("acme")) == []
        assert store.get_conversation("conv-old", principal=Principal("ops", admin=True)).id == "conv-old"
        mine = store.create_conversation("m", owner="acme")
        assert store.get_conversation(mine.id, principal=Principal("acme")).owner == "acme"
    finally:
        store.close()
    Store.open(default_database_url(tmp_path)).close()  # a second open finds the columns and adds nothing


def test_export_can_keep_one_owner(tmp_path, capsys, monkeypatch):
    store = Store.open(default_database_url(tmp_path))
    try:
        for owner in ("acme", "other"):
            ids = []
            for text in ("good", "bad"):  # two conversations asking the same question
                conv = store.create_conversation("m", owner=owner)
                user = MessageRecord(new_id("msg"), conv.id, "user", "Q", now())
                reply = MessageRecord(new_id("msg"), conv.id, "assistant", f"{text}-{owner}", now(), model="m",
                                      finish_reason="stop")
                store.append_messages(conv.id, [user, reply])
                ids.append((conv.id, reply.id))
            store.add_feedback(FeedbackRecord(new_id("fb"), now(), conversation_id=ids[0][0], message_id=ids[0][1],
                                              ranking=tuple(i for _, i in ids), owner=owner),
                               principal=Principal(owner))
    finally:
        store.close()
    monkeypatch.delenv("ICEGRT_DATABASE_URL", raising=False)
    out = tmp_path / "pairs.jsonl"
    assert main(["data", "export-preferences", "--output", str(out), "--data-dir", str(tmp_path),
                 "--owner", "acme"]) == 0
    assert json.loads(capsys.readouterr().out)["pairs"] == 1
    assert [json.loads(line)["chosen"] for line in out.read_text().splitlines()] == ["good-acme"]
    assert main(["data", "export-preferences", "--output", str(out), "--data-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["pairs"] == 2
    assert ANONYMOUS.may_see("acme") and not Principal("acme").may_see(None)
