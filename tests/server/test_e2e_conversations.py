"""End to end on the real server (vLLM, tiny model): a conversation through create, post (plain and
streamed), get, feedback, export and delete, over HTTP with the shared server's API key."""

from __future__ import annotations

import json

import httpx
import pytest

from cli.main import main

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def http(live_server):
    with httpx.Client(base_url=live_server.base_url, headers=live_server.headers, timeout=120) as client:
        yield client


def post(http, conversation_id: str, content: str, **options) -> httpx.Response:
    return http.post(f"/v1/conversations/{conversation_id}/messages",
                     json={"content": content, "max_tokens": 8, "temperature": 0, **options})


def test_conversation_lifecycle(http):
    conv = http.post("/v1/conversations", json={"system": "You are terse.", "metadata": {"suite": "e2e"}})
    assert conv.status_code == 200, conv.text
    conv = conv.json()
    assert conv["object"] == "conversation" and conv["model"] == "tiny"

    r = post(http, conv["id"], "Say hello")
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["object"] == "conversation.message" and reply["finish_reason"] in ("stop", "length")
    assert 0 < reply["usage"]["completion_tokens"] <= 8

    with http.stream("POST", f"/v1/conversations/{conv['id']}/messages",
                     json={"content": "And again", "max_tokens": 8, "stream": True}) as stream:
        assert stream.status_code == 200
        events = [line[6:] for line in stream.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks, final = [json.loads(e) for e in events[:-2]], json.loads(events[-2])
    assert final["object"] == "conversation.message"
    assert "".join(c["delta"]["content"] for c in chunks) == final["content"]

    messages = http.get(f"/v1/conversations/{conv['id']}").json()["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant"]
    assert [messages[2]["id"], messages[4]["id"]] == [reply["id"], final["id"]]
    assert (messages[2]["content"], messages[4]["content"]) == (reply["content"], final["content"])

    rated = http.post("/v1/feedback", json={"conversation_id": conv["id"], "message_id": reply["id"], "rating": 1})
    assert rated.status_code == 200 and rated.json()["object"] == "feedback"

    assert http.delete(f"/v1/conversations/{conv['id']}").json()["deleted"] is True
    gone = http.get(f"/v1/conversations/{conv['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["param"] == "conversation_id"


def test_errors_name_the_field(http):
    r = post(http, "conv-nope", "hi")
    assert r.status_code == 404 and r.json()["error"]["param"] == "conversation_id"
    conv = http.post("/v1/conversations").json()
    r = post(http, conv["id"], "word " * 5000)
    assert r.status_code == 400 and r.json()["error"]["param"] == "content"
    r = http.post("/v1/feedback", json={"conversation_id": conv["id"], "message_id": "msg-nope", "rating": 1})
    assert r.status_code == 404 and r.json()["error"]["param"] == "message_id"
    r = http.post("/v1/feedback", json={"completion_id": "chatcmpl-x", "rating": 5})
    assert r.status_code == 400 and r.json()["error"]["param"] == "rating"
    assert http.get(f"/v1/conversations/{conv['id']}").json()["messages"] == []


def test_ranked_replies_become_preference_pairs(http, live_server, tmp_path, capsys):
    replies = []
    for seed in (1, 2, 3):  # three samples for the same prompt, one conversation each
        conv = http.post("/v1/conversations", json={"system": "Rank me"}).json()
        reply = post(http, conv["id"], "Name a colour", temperature=1.0, seed=seed).json()
        replies.append((conv["id"], reply["id"]))
    ranking = [replies[2][1], replies[0][1], replies[1][1]]
    r = http.post("/v1/feedback", json={"conversation_id": replies[0][0], "message_id": replies[0][1],
                                        "ranking": ranking, "comment": "third sample best"})
    assert r.status_code == 200, r.text

    out = tmp_path / "pairs.jsonl"
    data_dir = live_server.log_path.parent / "data"  # tests/conftest.py:start_server's --data-dir
    assert main(["data", "export-preferences", "--output", str(out), "--data-dir", str(data_dir)]) == 0
    capsys.readouterr()
    pairs = [p for p in map(json.loads, out.read_text().splitlines()) if p["source"].startswith("ranking:")]
    ids = [(p["chosen_id"], p["rejected_id"]) for p in pairs]
    expected = [(ranking[0], ranking[1]), (ranking[0], ranking[2]), (ranking[1], ranking[2])]
    assert set(ids) <= set(expected) and len(ids) >= 1  # identical sampled texts would be a tie, not a pair
    assert pairs[0]["prompt"] == [{"role": "system", "content": "Rank me"}, {"role": "user", "content": "Name a colour"}]
