"""Two stateless `icegrt serve` replicas share one PostgreSQL store behind nginx.

Real components throughout: Debian's PostgreSQL and nginx (tests/deploy/services.py), two vLLM
servers on the tiny model (started as tests/conftest.py starts servers), and the
``icegrt data export-preferences`` command. A conversation started on one replica continues on
the other, nginx alternates requests between them, and feedback written through either is all
in the shared store. The commands are docs/deploy.md's "Scaling out" ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from server.store import Store
from tests.conftest import API_KEY, LiveServer, start_server, stop_server
from tests.deploy.services import Nginx, Postgres, nginx, postgres

pytestmark = pytest.mark.slow  # two vLLM servers: about a minute on two cores
REPLY = {"max_tokens": 8, "temperature": 1.0}


@dataclass
class Cluster:
    database: Postgres
    replicas: tuple[LiveServer, LiveServer]
    balancer: Nginx

    def address(self, replica: LiveServer) -> str:
        return replica.base_url.removeprefix("http://")


def _start_replicas(tmp_path_factory, database_url: str) -> list[LiveServer]:
    logs = tmp_path_factory.mktemp("replicas")
    args = ("--database-url", database_url, "--kv-cache-space", "0.5")
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(start_server, logs / f"replica-{name}.log", *args) for name in "ab"]
    started, errors = [], []
    for future in futures:
        try:
            started.append(future.result())
        except RuntimeError as exc:
            errors.append(exc)
    if errors:
        for server in started:
            stop_server(server)
        raise errors[0]
    return started


@pytest.fixture(scope="module")
def cluster(tiny_model_path, tmp_path_factory):
    with postgres() as database:
        a, b = _start_replicas(tmp_path_factory, database.url)
        try:
            with nginx([a.base_url.removeprefix("http://"), b.base_url.removeprefix("http://")]) as balancer:
                yield Cluster(database, (a, b), balancer)
        finally:
            for replica in (a, b):
                stop_server(replica)


def _post(base_url: str, path: str, body: dict) -> dict:
    response = httpx.post(f"{base_url}{path}", json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def _get(base_url: str, path: str) -> dict:
    response = httpx.get(f"{base_url}{path}", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_conversation_started_on_one_replica_continues_on_the_other(cluster):
    a, b = cluster.replicas
    conversation = _post(a.base_url, "/v1/conversations", {"system": "Be brief."})
    first = _post(a.base_url, f"/v1/conversations/{conversation['id']}/messages", {"content": "Hello!", **REPLY})
    second = _post(b.base_url, f"/v1/conversations/{conversation['id']}/messages", {"content": "And then?", **REPLY})

    # B's prompt held A's exchange: the stored history, not B's memory, is the conversation
    assert second["usage"]["prompt_tokens"] > first["usage"]["prompt_tokens"] + first["usage"]["completion_tokens"]
    for replica in (a, b):
        history = _get(replica.base_url, f"/v1/conversations/{conversation['id']}")["messages"]
        assert [m["role"] for m in history] == ["system", "user", "assistant", "user", "assistant"]
        assert [history[1]["content"], history[3]["content"]] == ["Hello!", "And then?"]
        assert [history[2]["id"], history[4]["id"]] == [first["id"], second["id"]]
        assert [history[2]["content"], history[4]["content"]] == [first["content"], second["content"]]


def _served_by(balancer: Nginx, count_before: int) -> str:
    """The upstream that served the request logged after `count_before` lines (nginx logs it on finishing)."""
    deadline = time.monotonic() + 5
    while len(used := balancer.upstreams_used()) <= count_before:
        assert time.monotonic() < deadline, "nginx logged no upstream for the request"
        time.sleep(0.05)
    return used[count_before]


def test_nginx_alternates_replicas_and_feedback_through_both_is_all_there(cluster, tmp_path):
    a, b = cluster.replicas
    lb = cluster.balancer
    served: list[str] = []

    def through_nginx(path: str, body: dict) -> dict:
        before = len(lb.upstreams_used())
        result = _post(lb.base_url, path, body)
        served.append(_served_by(lb, before))
        return result

    # two conversations on the same prompt, each created on one replica and answered on the other
    replies = []
    for seed in (1, 2):
        conversation = through_nginx("/v1/conversations", {})
        replies.append(through_nginx(f"/v1/conversations/{conversation['id']}/messages",
                                     {"content": "Name a colour.", "seed": seed, **REPLY}))
    assert all(first != second for first, second in zip(served[::2], served[1::2], strict=True)), served
    assert set(served) == {cluster.address(a), cluster.address(b)}
    assert replies[0]["content"] != replies[1]["content"]  # else the export drops the pair as a tie

    good, bad = replies
    written = [
        _post(a.base_url, "/v1/feedback", {"conversation_id": good["conversation_id"], "message_id": good["id"], "rating": 1}),
        _post(b.base_url, "/v1/feedback", {"conversation_id": bad["conversation_id"], "message_id": bad["id"], "rating": -1}),
        through_nginx("/v1/feedback", {"conversation_id": bad["conversation_id"], "message_id": bad["id"],
                                       "ranking": [bad["id"], good["id"]]}),
        through_nginx("/v1/feedback", {"conversation_id": good["conversation_id"], "message_id": good["id"],
                                       "comment": "via the balancer"}),
    ]
    store = Store.open(cluster.database.url, create=False)
    try:
        assert {f["id"] for f in written} <= {f.id for f in store.list_feedback()}
    finally:
        store.close()

    output = tmp_path / "pairs.jsonl"
    exported = subprocess.run(
        [sys.executable, "-m", "cli.main", "data", "export-preferences", "--database-url", cluster.database.url,
         "--output", str(output)], capture_output=True, text=True, timeout=120)
    assert exported.returncode == 0, exported.stderr
    report = json.loads(exported.stdout)
    assert (report["ranking_pairs"], report["rating_pairs"], report["pairs"]) == (1, 1, 2)
    pairs = [json.loads(line) for line in output.read_text().splitlines()]
    assert {(p["chosen_id"], p["rejected_id"]) for p in pairs} == {(bad["id"], good["id"]), (good["id"], bad["id"])}
    assert all(p["prompt"] == [{"role": "user", "content": "Name a colour."}] for p in pairs)
