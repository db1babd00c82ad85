"""Token-bucket backends: :class:`InProcessLimiter` (one process) and :class:`RedisLimiter` (shared).

Both answer :meth:`consume` (take ``cost`` tokens from a bucket, or say how long to wait) and
:meth:`count` (a fixed-window counter, for daily quotas). A bucket starts full (``burst``
tokens) and refills ``rate`` tokens per second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Decision", "FallbackLimiter", "InProcessLimiter", "Limiter", "RedisLimiter"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The answer for one request: allowed, tokens left, and seconds to wait when refused."""

    allowed: bool
    remaining: float
    retry_after_s: float = 0.0


class Limiter(Protocol):
    """A store of token buckets and counters."""

    def consume(self, key: str, *, rate: float, burst: int, cost: int = 1) -> Decision:
        """Take ``cost`` tokens from bucket ``key`` if it has them."""

    def count(self, key: str, *, limit: int, window_s: int) -> Decision:
        """Count one request in the current ``window_s`` window of ``key``; refuse past ``limit``."""


class FallbackLimiter:
    """A backend that may fail (Redis down) with a stand-in used meanwhile, so limits still hold per process.

    Args:
        backend: The preferred store (a shared :class:`RedisLimiter`).
        fallback: Used for each call the backend fails (a warning is logged each time).

    Example:
        >>> class Down:
        ...     def consume(self, key, **limits): raise ConnectionError("redis is down")
        ...     def count(self, key, **limits): raise ConnectionError("redis is down")
        >>> FallbackLimiter(Down(), InProcessLimiter()).consume("t", rate=1, burst=1).allowed
        True
    """

    def __init__(self, backend: Limiter, fallback: Limiter) -> None:
        self.backend = backend
        self.fallback = fallback

    def _call(self, action: Callable[[Limiter], Decision]) -> Decision:
        try:
            return action(self.backend)
        except Exception as err:
            log.warning("Rate-limit backend failed (%s); limiting in this process meanwhile.", err)
            return action(self.fallback)

    def consume(self, key: str, *, rate: float, burst: int, cost: int = 1) -> Decision:
        """:meth:`Limiter.consume` on the backend, or on the fallback while the backend fails."""
        return self._call(lambda b: b.consume(key, rate=rate, burst=burst, cost=cost))

    def count(self, key: str, *, limit: int, window_s: int) -> Decision:
        """:meth:`Limiter.count` on the backend, or on the fallback while the backend fails."""
        return self._call(lambda b: b.count(key, limit=limit, window_s=window_s))


class InProcessLimiter:
    """Buckets in this process's memory (thread-safe; least recently used keys are dropped).

    Args:
        clock: Monotonic seconds (tests inject their own).
        max_keys: Buckets kept; beyond it the least recently used are forgotten (refilled).

    Example:
        >>> now = [0.0]
        >>> limiter = InProcessLimiter(clock=lambda: now[0])
        >>> [limiter.consume("k", rate=1, burst=2).allowed for _ in range(3)]
        [True, True, False]
        >>> now[0] = 1.0
        >>> limiter.consume("k", rate=1, burst=2).allowed
        True
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._windows: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._lock = threading.Lock()

    def consume(self, key: str, *, rate: float, burst: int, cost: int = 1) -> Decision:
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.pop(key, (float(burst), now))
            tokens = min(float(burst), tokens + max(0.0, now - last) * rate)
            if tokens >= cost:
                tokens -= cost
                decision = Decision(allowed=True, remaining=tokens)
            else:
                decision = Decision(allowed=False, remaining=tokens, retry_after_s=(cost - tokens) / rate)
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return decision

    def count(self, key: str, *, limit: int, window_s: int) -> Decision:
        with self._lock:
            now = self._clock()
            window = int(now // window_s)
            seen_window, used = self._windows.pop(key, (window, 0))
            if seen_window != window:
                used = 0
            allowed = used < limit
            used += 1 if allowed else 0
            self._windows[key] = (window, used)
            if len(self._windows) > self._max_keys:
                self._windows.popitem(last=False)
            retry = 0.0 if allowed else (window + 1) * window_s - now
            return Decision(allowed=allowed, remaining=float(limit - used), retry_after_s=retry)


# KEYS[1] bucket; ARGV: rate, burst, cost, now (seconds; empty: the Redis server's clock).
_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens), tostring(retry)}
"""


class RedisLimiter:
    """Buckets in Redis, shared by every server replica (one atomic Lua script per request).

    Args:
        client: A ``redis.Redis`` client, or a ``redis://`` URL.
        prefix: Prefix of every key this limiter writes.
        clock: Seconds, for tests; by default the Redis server's clock, so replicas agree.
    """

    def __init__(
        self, client: Any, *, prefix: str = "loopml:ratelimit:", clock: Callable[[], float] | None = None
    ) -> None:
        import redis

        self._redis = redis.Redis.from_url(client) if isinstance(client, str) else client
        self._prefix = prefix
        self._clock = clock
        self._script = self._redis.register_script(_BUCKET_LUA)

    def consume(self, key: str, *, rate: float, burst: int, cost: int = 1) -> Decision:
        now = "" if self._clock is None else repr(self._clock())
        allowed, tokens, retry = self._script(keys=[self._prefix + "b:" + key], args=[rate, burst, cost, now])
        return Decision(allowed=bool(int(allowed)), remaining=float(tokens), retry_after_s=float(retry))

    def count(self, key: str, *, limit: int, window_s: int) -> Decision:
        now = self._clock() if self._clock is not None else float(self._redis.time()[0])
        window = int(now // window_s)
        redis_key = f"{self._prefix}w:{key}:{window}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(redis_key)
        pipe.expire(redis_key, window_s + 60)
        used = int(pipe.execute()[0])
        allowed = used <= limit
        retry = 0.0 if allowed else (window + 1) * window_s - now
        return Decision(allowed=allowed, remaining=float(max(0, limit - used)), retry_after_s=retry)
