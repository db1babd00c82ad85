"""In-process token buckets (with an injected clock), daily quotas and the rate-limit policy."""

from __future__ import annotations

import logging
import threading

import pytest

from loopml.config import Settings
from loopml.errors import InvalidInput
from loopml.security.auth import Role
from loopml.security.ratelimit import (
    DEFAULT_LIMITS,
    Decision,
    EndpointClass,
    FallbackLimiter,
    InProcessLimiter,
    Limit,
    RateLimiter,
    RateLimitPolicy,
    RedisLimiter,
    rate_limiter_from_settings,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_starts_full_then_refills_at_the_rate() -> None:
    clock = Clock()
    limiter = InProcessLimiter(clock=clock)
    decisions = [limiter.consume("k", rate=2, burst=5) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert decisions[4].remaining == 0
    assert decisions[5].retry_after_s == pytest.approx(0.5)
    clock.now += 0.25
    refused = limiter.consume("k", rate=2, burst=5)
    assert not refused.allowed and refused.retry_after_s == pytest.approx(0.25)
    clock.now += 0.25
    assert limiter.consume("k", rate=2, burst=5).allowed
    clock.now += 100  # refill is capped at the burst
    assert sum(limiter.consume("k", rate=2, burst=5).allowed for _ in range(10)) == 5


def test_keys_are_independent_and_cost_counts() -> None:
    limiter = InProcessLimiter(clock=Clock())
    assert limiter.consume("a", rate=1, burst=3, cost=3).allowed
    assert not limiter.consume("a", rate=1, burst=3).allowed
    assert limiter.consume("b", rate=1, burst=3).allowed
    assert limiter.consume("c", rate=1, burst=2, cost=3).retry_after_s == pytest.approx(1.0)


def test_least_recently_used_keys_are_dropped_past_the_cap() -> None:
    limiter = InProcessLimiter(clock=Clock(), max_keys=2)
    for key in ("a", "b", "c"):
        limiter.consume(key, rate=1, burst=1)
    assert limiter.consume("a", rate=1, burst=1).allowed  # forgotten, so full again
    assert not limiter.consume("c", rate=1, burst=1).allowed


def test_fixed_window_counter() -> None:
    clock = Clock()
    limiter = InProcessLimiter(clock=clock)
    results = [limiter.count("q", limit=3, window_s=100).allowed for _ in range(4)]
    assert results == [True, True, True, False]
    assert limiter.count("q", limit=3, window_s=100).retry_after_s == pytest.approx(
        100.0
    )  # window [1000, 1100)
    clock.now = 1100.0
    assert limiter.count("q", limit=3, window_s=100).allowed


def test_threads_never_exceed_the_burst() -> None:
    limiter = InProcessLimiter(clock=lambda: 0.0)
    allowed = []

    def hammer() -> None:
        allowed.append(sum(limiter.consume("t", rate=1, burst=100).allowed for _ in range(1000)))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 100


def test_rate_limiter_applies_role_class_and_quota() -> None:
    clock = Clock()
    policy = RateLimitPolicy.from_mapping(
        {
            "viewer": {"read": {"rate": 1, "burst": 2}, "daily_quota": 3},
            "auth_failure": {"rate": 1, "burst": 1},
        }
    )
    limiter = RateLimiter(InProcessLimiter(clock=clock), policy)
    read = EndpointClass.READ
    assert [limiter.check("t1", role=Role.VIEWER, endpoint_class=read).allowed for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert limiter.check("t2", role=Role.VIEWER, endpoint_class=read).allowed  # per key
    assert limiter.check("t1", role=Role.VIEWER, endpoint_class=EndpointClass.WRITE).allowed  # per class
    clock.now += 10
    quota = limiter.check("t1", role=Role.VIEWER, endpoint_class=read)
    assert not quota.allowed and quota.retry_after_s > 3600  # the 4th request of the day
    assert limiter.check("ip", role=None, endpoint_class=EndpointClass.AUTH_FAILURE).allowed
    assert not limiter.check("ip", role=None, endpoint_class=EndpointClass.AUTH_FAILURE).allowed
    assert limiter.check("t9", role=Role.EDITOR, endpoint_class=read).allowed  # editors have no quota


def test_default_policy_is_sensible() -> None:
    policy = RateLimitPolicy()
    assert policy.limit_for(Role.VIEWER, EndpointClass.READ) == Limit(rate=50, burst=100)
    assert policy.limit_for(Role.EDITOR, EndpointClass.WRITE) == Limit(rate=200, burst=400)
    assert policy.quota_for(Role.EDITOR) is None
    for role in Role:
        assert set(DEFAULT_LIMITS[role]) == {c for c in EndpointClass if c is not EndpointClass.AUTH_FAILURE}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"root": {}}, "unknown key 'root'"),
        ({"viewer": {"reads": {"rate": 1, "burst": 1}}}, "unknown endpoint class 'reads'"),
        ({"viewer": {"read": {"rate": 0, "burst": 1}}}, "'rate' must be > 0"),
        ({"viewer": {"read": {"rate": 1, "burst": 0}}}, "'burst' must be at least 1"),
        ({"viewer": {"read": {"rate": "x", "burst": 1}}}, "rate must be a number"),
        ({"viewer": {"read": {"rate": 1}}}, "must be {rate = <per second>, burst = <count>}"),
        ({"viewer": {"daily_quota": -1}}, "daily_quota must be a positive integer"),
        ({"viewer": 5}, "must be a table"),
    ],
)
def test_bad_policy_config(config: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        RateLimitPolicy.from_mapping(config)
    assert message in str(err.value)


def test_backend_follows_the_settings() -> None:
    assert isinstance(rate_limiter_from_settings(Settings()).backend, InProcessLimiter)
    shared = rate_limiter_from_settings(Settings(redis_url="redis://127.0.0.1:6379/0"))
    assert isinstance(shared.backend, RedisLimiter)


def test_failing_backend_falls_back_to_the_process() -> None:
    class Broken:
        def consume(self, key: str, *, rate: float, burst: int, cost: int = 1) -> object:
            raise ConnectionError("redis is down")

        def count(self, key: str, *, limit: int, window_s: int) -> object:
            raise ConnectionError("redis is down")

    policy = RateLimitPolicy.from_mapping({"viewer": {"read": {"rate": 1, "burst": 1}}})
    limiter = RateLimiter(Broken(), policy, fallback=InProcessLimiter(clock=Clock()))  # type: ignore[arg-type]
    assert limiter.check("t", role=Role.VIEWER, endpoint_class=EndpointClass.READ).allowed
    assert not limiter.check("t", role=Role.VIEWER, endpoint_class=EndpointClass.READ).allowed
    with pytest.raises(ConnectionError):
        RateLimiter(Broken(), policy).check("t", role=Role.VIEWER, endpoint_class=EndpointClass.READ)  # type: ignore[arg-type]


def test_fallback_limiter_counts_in_the_fallback_only_while_the_backend_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Flaky:
        down = True

        def __init__(self) -> None:
            self.inner = InProcessLimiter(clock=Clock())

        def consume(self, key: str, *, rate: float, burst: int, cost: int = 1) -> Decision:
            if self.down:
                raise ConnectionError("redis is down")
            return self.inner.consume(key, rate=rate, burst=burst, cost=cost)

        def count(self, key: str, *, limit: int, window_s: int) -> Decision:
            if self.down:
                raise ConnectionError("redis is down")
            return self.inner.count(key, limit=limit, window_s=window_s)

    backend = Flaky()
    limiter = FallbackLimiter(backend, InProcessLimiter(clock=Clock()))
    with caplog.at_level(logging.WARNING):
        assert limiter.consume("k", rate=0.001, burst=1).allowed
        assert not limiter.consume("k", rate=0.001, burst=1).allowed  # the fallback's bucket is spent
        assert limiter.count("d", limit=1, window_s=60).allowed
    assert sum("redis is down" in r.getMessage() for r in caplog.records) == 3
    backend.down = False  # back: the backend's own buckets answer again
    assert limiter.consume("k", rate=0.001, burst=1).allowed
    assert not limiter.consume("k", rate=0.001, burst=1).allowed
