"""Feedback: schema validation and reference checks through the API (nothing stored on error),
then the export to preference pairs with pair counts worked out by hand, and its CLI."""

from __future__ import annotations

import json

import pytest

from cli.main import main
from server.feedback.export import export_preferences, preference_pairs
from server.store import FeedbackRecord, MessageRecord, Store, default_database_url, new_id, now
from tests.server.conftest import make_client, wait_ready
from training.data.preference import read_pairs_jsonl


@pytest.fixture
def client(engine, tmp_path):
    with make_client(engine, served_model_name="fake-model", data_dir=tmp_path) as c:
        wait_ready(c)
        yield c


def stored(client) -> list[FeedbackRecord]:
    return client.app.state.store.list_feedback()


def new_reply(client, system: str = "S", question: str = "Q") -> tuple[str, str]:
    conv = client.post("/v1/conversations", json={"system": system}).json()
    reply = client.post(f"/v1/conversations/{conv['id']}/messages", json={"content": question}).json()
    return conv["id"], reply["id"]


def assert_error(response, status: int, param: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param


# ---- the API ------------------------------------------------------------------------------


def test_feedback_on_a_message_is_stored(client):
    conv, msg = new_reply(client)
    r = client.post("/v1/feedback", json={"conversation_id": conv, "message_id": msg, "rating": -1, "comment": "meh"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "feedback" and body["id"].startswith("fb-") and isinstance(body["created"], int)
    [record] = stored(client)
    assert (record.id, record.conversation_id, record.message_id, record.rating, record.comment) == (
        body["id"], conv, msg, -1, "meh")


def test_completion_feedback_is_stored_as_given(client):
    r = client.post("/v1/feedback", json={"completion_id": "chatcmpl-1", "ranking": ["chatcmpl-2", "chatcmpl-1"]})
    assert r.status_code == 200, r.text
    [record] = stored(client)
    assert (record.completion_id, record.ranking, record.conversation_id) == (
        "chatcmpl-1", ("chatcmpl-2", "chatcmpl-1"), None)


def test_ranking_replies_to_the_same_prompt_across_conversations(client):
    (c1, m1), (_, m2), (_, m3) = new_reply(client), new_reply(client), new_reply(client)
    r = client.post("/v1/feedback", json={"conversation_id": c1, "message_id": m1, "ranking": [m3, m1, m2]})
    assert r.status_code == 200, r.text
    assert stored(client)[0].ranking == (m3, m1, m2)


@pytest.mark.parametrize("body, param", [
    ({}, "completion_id"),
    ({"rating": 1}, "completion_id"),
    ({"completion_id": "c", "conversation_id": "x", "message_id": "m", "rating": 1}, "completion_id"),
    ({"conversation_id": "x", "rating": 1}, "message_id"),
    ({"message_id": "m", "rating": 1}, "message_id"),
    ({"completion_id": "c"}, "rating"),
    ({"completion_id": "c", "rating": 0}, "rating"),
    ({"completion_id": "c", "rating": 2}, "rating"),
    ({"completion_id": "c", "rating": True}, "rating"),
    ({"completion_id": "c", "rating": "1"}, "rating"),
    ({"completion_id": "c", "rating": 1.0}, "rating"),
    ({"completion_id": "c", "ranking": ["c"]}, "ranking"),
    ({"completion_id": "c", "ranking": ["c"] + [f"x{i}" for i in range(16)]}, "ranking"),
    ({"completion_id": "c", "ranking": ["c", "x", "c"]}, "ranking"),
    ({"completion_id": "c", "ranking": ["x", "y"]}, "ranking"),
    ({"completion_id": "c", "ranking": ["c", ""]}, "ranking[1]"),
    ({"completion_id": "c", "comment": ""}, "comment"),
    ({"completion_id": "c", "comment": "x" * 8193}, "comment"),
    ({"completion_id": "", "rating": 1}, "completion_id"),
    ({"completion_id": "c", "rating": 1, "ratng": 1}, "ratng"),
])
def test_malformed_feedback_is_400_naming_the_field_and_stores_nothing(client, body, param):
    assert_error(client.post("/v1/feedback", json=body), 400, param)
    assert stored(client) == []


def test_bad_references_are_404_or_400_naming_the_field_and_store_nothing(client):
    conv, msg = new_reply(client)
    _, other_prompt = new_reply(client, question="another question")
    user_msg = client.get(f"/v1/conversations/{conv}").json()["messages"][1]["id"]
    cases = [
        ({"conversation_id": "conv-nope", "message_id": msg, "rating": 1}, 404, "conversation_id"),
        ({"conversation_id": conv, "message_id": "msg-nope", "rating": 1}, 404, "message_id"),
        ({"conversation_id": conv, "message_id": user_msg, "rating": 1}, 400, "message_id"),
        ({"conversation_id": conv, "message_id": msg, "ranking": [msg, "msg-nope"]}, 404, "ranking[1]"),
        ({"conversation_id": conv, "message_id": msg, "ranking": [other_prompt, msg]}, 400, "ranking[0]"),
    ]
    for body, status, param in cases:
        assert_error(client.post("/v1/feedback", json=body), status, param)
    client.delete(f"/v1/conversations/{conv}")
    assert_error(client.post("/v1/feedback", json=cases[0][0] | {"conversation_id": conv}), 404, "conversation_id")
    assert stored(client) == []


# ---- export: pairs worked out by hand -------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    s = Store.open(default_database_url(tmp_path))
    yield s
    s.close()


def reply(store: Store, text: str, question: str = "Q", system: str | None = "S") -> tuple[str, str]:
    """A new conversation [system, question] answered with `text`; returns (conversation id, reply id)."""
    conv = store.create_conversation("m", system=system)
    answer = MessageRecord(new_id("msg"), conv.id, "assistant", text, now(), finish_reason="stop")
    store.append_messages(conv.id, [MessageRecord(new_id("msg"), conv.id, "user", question, now()), answer])
    return conv.id, answer.id


def rate(store: Store, target: tuple[str, str], rating: int) -> None:
    store.add_feedback(FeedbackRecord(new_id("fb"), now(), conversation_id=target[0], message_id=target[1],
                                      rating=rating))


def rank(store: Store, targets: list[tuple[str, str]]) -> None:
    conv, msg = targets[0]
    store.add_feedback(FeedbackRecord(new_id("fb"), now(), conversation_id=conv, message_id=msg,
                                      ranking=tuple(m for _, m in targets)))


def texts(pairs: list[dict]) -> list[tuple[str, str]]:
    return [(p["chosen"], p["rejected"]) for p in pairs]


def test_a_ranking_of_k_gives_k_choose_2_pairs_best_first(store):
    a, b, c, d = (reply(store, t) for t in "abcd")
    rank(store, [a, b, c])        # 3 pairs
    rank(store, [d, c, b, a])     # 6 pairs, all new (each is the reverse or a new reply)
    pairs, report = preference_pairs(store)
    assert texts(pairs) == [("a", "b"), ("a", "c"), ("b", "c"),
                            ("d", "c"), ("d", "b"), ("d", "a"), ("c", "b"), ("c", "a"), ("b", "a")]
    assert (report.pairs, report.ranking_pairs, report.rating_pairs) == (9, 9, 0)
    assert pairs[0]["prompt"] == [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    assert pairs[0]["source"].startswith("ranking:fb-") and pairs[0]["chosen_id"] == a[1]


def test_ratings_pair_good_with_bad_replies_to_the_same_prompt_latest_rating_wins(store):
    a, b, c, d = (reply(store, t, question="Q1") for t in "abcd")
    rate(store, a, 1)
    rate(store, b, 1)
    rate(store, c, -1)
    rate(store, d, -1)
    rate(store, b, -1)  # b's latest rating: good = {a}, bad = {b, c, d} -> 1 x 3 = 3 pairs
    x, y = reply(store, "x", question="Q2"), reply(store, "y", question="Q2")
    rate(store, x, 1)
    rate(store, y, -1)  # another prompt: 1 x 1 = 1 pair
    pairs, report = preference_pairs(store)
    assert sorted(texts(pairs)) == [("a", "b"), ("a", "c"), ("a", "d"), ("x", "y")]
    assert (report.rating_pairs, report.unpaired_ratings) == (4, 0)
    assert all(p["source"].startswith("rating:fb-") for p in pairs)


def test_unpaired_ratings_and_completion_feedback_are_counted_not_written(store):
    rate(store, reply(store, "lonely", question="Q1"), 1)                 # only +1 for Q1
    rate(store, reply(store, "p", question="Q2"), -1)                     # only -1 for Q2 (twice)
    rate(store, reply(store, "q", question="Q2"), -1)
    rate(store, reply(store, "g", question="Q3", system=None), 1)         # same question, other system
    rate(store, reply(store, "h", question="Q3", system="other"), -1)     # message: different prompts
    store.add_feedback(FeedbackRecord(new_id("fb"), now(), completion_id="chatcmpl-1", rating=1))
    store.add_feedback(FeedbackRecord(new_id("fb"), now(), completion_id="chatcmpl-1",
                                      ranking=("chatcmpl-1", "chatcmpl-2")))
    pairs, report = preference_pairs(store)
    assert pairs == []
    assert (report.unpaired_ratings, report.completion_feedback) == (5, 2)


def test_ties_duplicates_and_deleted_replies(store):
    a, b, same = reply(store, "a"), reply(store, "b"), reply(store, "a")
    rank(store, [a, b, same])     # (a,b) (a,a)=tie (b,a)
    rate(store, a, 1)
    rate(store, b, -1)            # (a,b) again: a duplicate of the ranking's pair
    c, d, e = reply(store, "c", question="Q2"), reply(store, "d", question="Q2"), reply(store, "e", question="Q2")
    rank(store, [c, d, e])
    store.delete_conversation(e[0])  # e drops out: 2 of 3 left -> 1 pair
    pairs, report = preference_pairs(store)
    assert texts(pairs) == [("a", "b"), ("b", "a"), ("c", "d")]
    assert (report.ties, report.duplicates, report.missing_messages) == (1, 1, 1)


def test_export_writes_jsonl_the_training_loader_reads(store, tmp_path):
    a, b = reply(store, "good"), reply(store, "bad")
    rank(store, [a, b])
    report = export_preferences(store, tmp_path / "pairs.jsonl")
    assert report.pairs == 1
    [pair] = read_pairs_jsonl(tmp_path / "pairs.jsonl")
    assert (pair.prompt[-1]["content"], pair.chosen, pair.rejected) == ("Q", "good", "bad")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".pairs")] == []  # no temp file left


def test_cli_exports_from_the_data_dir(store, tmp_path, capsys, monkeypatch):
    rank(store, [reply(store, "good"), reply(store, "bad")])
    monkeypatch.delenv("ICEGRT_DATABASE_URL", raising=False)
    out = tmp_path / "out.jsonl"
    assert main(["data", "export-preferences", "--output", str(out), "--data-dir", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["pairs"] == 1 and summary["output"] == str(out)
    assert len(out.read_text().splitlines()) == 1
    monkeypatch.setenv("ICEGRT_DATABASE_URL", default_database_url(tmp_path))
    assert main(["data", "export-preferences", "--output", str(out)]) == 0


def test_cli_refuses_a_missing_database(tmp_path, capsys):
    code = main(["data", "export-preferences", "--output", str(tmp_path / "o.jsonl"),
                 "--data-dir", str(tmp_path / "none")])
    assert code == 2
    assert "no database" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
