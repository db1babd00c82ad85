"""The board replicas share rollout observations on, one contract over Redis, SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from loopml.serving.shared_observations import RedisObservationBoard
from loopml.store.repositories import ObservationRepository
from loopml.store.sql import open_store
from tests.conftest import STORE_BACKENDS

REDIS_URL = "redis://127.0.0.1:6379/5"
SQL = [pytest.param(b, id=b.name, marks=b.marks) for b in STORE_BACKENDS if b.name in ("sqlite", "postgres")]


@pytest.fixture(params=[*SQL, pytest.param(None, id="redis")])
def board(request: pytest.FixtureRequest) -> Iterator[ObservationRepository]:
    """Each board in turn: the SQL store's table, or Redis (under a prefix of its own)."""
    if request.param is None:
        prefix = f"test:{uuid.uuid4().hex}:"
        yield RedisObservationBoard(REDIS_URL, prefix=prefix)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        return
    with request.param.fresh_url(request) as url:
        store = open_store(url)
        try:
            yield store.observations
        finally:
            store.close()


def test_each_replica_keeps_its_latest_publication_per_window(board: ObservationRepository) -> None:
    board.publish("churn", "w1", "r2", {"n": 1}, ttl_s=60)
    board.publish("churn", "w1", "r1", {"n": 2}, ttl_s=60)
    board.publish("churn", "w1", "r2", {"n": 3, "items": [1.5, "yes", [0, 1]]}, ttl_s=60)
    board.publish("churn", "w2", "r1", {"n": 4}, ttl_s=60)
    board.publish("fraud", "w1", "r1", {"n": 5}, ttl_s=60)
    assert board.collect("churn", "w1") == [{"n": 2}, {"n": 3, "items": [1.5, "yes", [0, 1]]}]
    assert board.collect("churn", "w2") == [{"n": 4}]
    assert board.collect("churn", "w3") == []


def test_publications_expire(board: ObservationRepository) -> None:
    board.publish("churn", "w1", "r1", {"n": 1}, ttl_s=0.1)
    assert board.collect("churn", "w1") == [{"n": 1}]
    time.sleep(0.3)
    assert board.collect("churn", "w1") == []


def test_one_holder_at_a_time_until_it_gives_the_lease_back_or_it_expires(
    board: ObservationRepository,
) -> None:
    assert board.acquire("churn", "a", ttl_s=60)
    assert not board.acquire("churn", "b", ttl_s=60)
    assert board.acquire("fraud", "b", ttl_s=60)  # leases are per deployment
    assert board.acquire("churn", "a", ttl_s=0.1)  # the holder extends (here: shortens) it
    board.release("churn", "b")  # not b's to give back
    assert not board.acquire("churn", "b", ttl_s=60)
    time.sleep(0.3)  # a died: its lease expires
    assert board.acquire("churn", "b", ttl_s=60)
    board.release("churn", "b")
    assert board.acquire("churn", "a", ttl_s=60)


def test_redis_down_uses_the_store_meanwhile(tmp_path: Any) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        board = RedisObservationBoard("redis://127.0.0.1:1/0", fallback=store.observations)
        board.publish("churn", "w1", "r1", {"n": 1}, ttl_s=60)
        assert board.collect("churn", "w1") == [{"n": 1}] == store.observations.collect("churn", "w1")
        assert board.acquire("churn", "a", ttl_s=60) and not store.observations.acquire(
            "churn", "b", ttl_s=60
        )
        board.release("churn", "a")
        assert store.observations.acquire("churn", "b", ttl_s=60)
    finally:
        store.close()


def test_redis_down_without_a_fallback_is_an_error() -> None:
    board = RedisObservationBoard("redis://127.0.0.1:1/0")
    with pytest.raises(redis.ConnectionError):
        board.collect("churn", "w1")
