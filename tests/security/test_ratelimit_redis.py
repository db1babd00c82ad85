"""The Redis-shared limiter against the real Redis on 127.0.0.1:6379: one budget across instances."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from loopml.security.auth import Role
from loopml.security.ratelimit import EndpointClass, RateLimiter, RateLimitPolicy, RedisLimiter

pytestmark = pytest.mark.redis
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test only; its keys are deleted afterwards."""
    import redis

    value = f"loopml-test:{uuid.uuid4().hex}:"
    yield value
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=value + "*"))
    if keys:
        client.delete(*keys)
    client.close()


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def test_two_instances_share_one_budget(prefix: str) -> None:
    clock = Clock()
    first = RedisLimiter(REDIS_URL, prefix=prefix, clock=clock)
    second = RedisLimiter(REDIS_URL, prefix=prefix, clock=clock)
    results = [(first if i % 2 else second).consume("tok", rate=1, burst=10).allowed for i in range(14)]
    assert results == [True] * 10 + [False] * 4
    refused = first.consume("tok", rate=1, burst=10)
    assert not refused.allowed and refused.retry_after_s == pytest.approx(1.0)
    clock.now += 2.5
    assert [second.consume("tok", rate=1, burst=10).allowed for _ in range(3)] == [True, True, False]


def test_burst_of_ten_thousand_is_bounded(prefix: str) -> None:
    """10,000 requests from one token through 4 limiter instances in 8 threads: only the burst passes."""
    clock = Clock()  # frozen time: no refill during the burst
    policy = RateLimitPolicy.from_mapping({"viewer": {"read": {"rate": 50, "burst": 100}}})
    limiters = [RateLimiter(RedisLimiter(REDIS_URL, prefix=prefix, clock=clock), policy) for _ in range(4)]
    allowed = [0] * 8

    def hammer(index: int) -> None:
        limiter = limiters[index % 4]
        for _ in range(1250):
            allowed[index] += limiter.check(
                "token:t1", role=Role.VIEWER, endpoint_class=EndpointClass.READ
            ).allowed

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 100


def test_server_clock_refills(prefix: str) -> None:
    limiter = RedisLimiter(REDIS_URL, prefix=prefix)  # Redis TIME
    assert limiter.consume("k", rate=1000, burst=1).allowed
    decision = limiter.consume("k", rate=0.001, burst=1)
    assert not decision.allowed and decision.retry_after_s > 100


def test_shared_daily_quota(prefix: str) -> None:
    clock = Clock()
    first = RedisLimiter(REDIS_URL, prefix=prefix, clock=clock)
    second = RedisLimiter(REDIS_URL, prefix=prefix, clock=clock)
    assert [(first, second)[i % 2].count("q", limit=3, window_s=86400).allowed for i in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    clock.now += 86400
    assert first.count("q", limit=3, window_s=86400).allowed


def test_keys_expire(prefix: str) -> None:
    import redis

    RedisLimiter(REDIS_URL, prefix=prefix).consume("k", rate=10, burst=20)
    client = redis.Redis.from_url(REDIS_URL)
    ttl = client.pttl(prefix + "b:k")
    client.close()
    assert 0 < ttl <= 3000  # burst / rate seconds plus one second
