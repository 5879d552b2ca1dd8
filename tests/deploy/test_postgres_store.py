"""The store on a real PostgreSQL shared by several processes' worth of connections.

Each `Store` below has its own engine and connection pool, as each server replica does; threads
stand in for processes (the races are between database sessions, not Python objects).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from server.store import FeedbackRecord, MessageRecord, Store, new_id, now
from tests.deploy.services import postgres

REPLICAS = 4


@pytest.fixture(scope="module")
def database():
    with postgres() as instance:
        yield instance


def _open_together(url: str, n: int) -> list[Store]:
    barrier = threading.Barrier(n)

    def open_one(_):
        barrier.wait()
        return Store.open(url)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(open_one, range(n)))


def test_replicas_starting_together_create_the_schema_once(database):
    stores = _open_together(database.url, REPLICAS)  # raced on CREATE TABLE before the advisory lock
    try:
        conversation = stores[0].create_conversation("m")
        assert all(s.get_conversation(conversation.id).id == conversation.id for s in stores)
    finally:
        for store in stores:
            store.close()


def test_plain_postgresql_urls_use_the_shipped_driver(database):
    store = Store.open(database.url)
    try:
        assert store.engine.dialect.driver == "psycopg"
    finally:
        store.close()


def _exchange(conversation_id: str, tag: str) -> list[MessageRecord]:
    return [MessageRecord(new_id("msg"), conversation_id, "user", f"q-{tag}", now()),
            MessageRecord(new_id("msg"), conversation_id, "assistant", f"a-{tag}", now(), model="m",
                          finish_reason="stop")]


def test_concurrent_exchanges_on_one_conversation_never_interleave(database):
    stores = [Store.open(database.url) for _ in range(REPLICAS)]
    try:
        conversation = stores[0].create_conversation("m")
        per_replica = 15
        barrier = threading.Barrier(REPLICAS)

        def append_many(index: int) -> None:
            barrier.wait()
            for k in range(per_replica):
                stores[index].append_messages(conversation.id, _exchange(conversation.id, f"{index}-{k}"))

        with ThreadPoolExecutor(REPLICAS) as pool:
            list(pool.map(append_many, range(REPLICAS)))
        messages = stores[1].get_conversation(conversation.id).messages
        assert len(messages) == 2 * REPLICAS * per_replica
        for user, reply in zip(messages[::2], messages[1::2], strict=True):
            assert (user.role, reply.role) == ("user", "assistant")
            assert reply.content == "a-" + user.content.removeprefix("q-")
    finally:
        for store in stores:
            store.close()


def test_feedback_written_through_every_replica_is_all_there(database):
    stores = [Store.open(database.url) for _ in range(REPLICAS)]
    try:
        conversation = stores[0].create_conversation("m")
        exchange = _exchange(conversation.id, "rated")
        stores[1].append_messages(conversation.id, exchange)
        written = [
            stores[i].add_feedback(FeedbackRecord(new_id("fb"), now(), conversation_id=conversation.id,
                                                  message_id=exchange[1].id, rating=1 if i % 2 else -1))
            for i in range(REPLICAS)
        ]
        for store in stores:
            stored = {f.id for f in store.list_feedback()}
            assert {f.id for f in written} <= stored
    finally:
        for store in stores:
            store.close()
