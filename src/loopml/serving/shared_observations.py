"""Replicas' observations and the analysis lease in Redis (when ``LOOPML_REDIS_URL`` is set).

:class:`RedisObservationBoard` implements
:class:`~loopml.store.repositories.ObservationRepository` for
:class:`~loopml.deploy.shared_analysis.SharedAnalysis`: each deployment's window is one Redis
hash (a field per replica, its tally as JSON), written with its expiry in one transaction, so a
publication is atomic and the hash lives ``ttl_s`` past the last replica's write (a dead
replica's field stays in it). The lease is one key per deployment, taken with ``SET NX PX`` (or
extended by its holder) and given back only by its holder, both in Lua scripts run atomically by
the server, whose clock times the expiry.

If Redis fails, the board uses its fallback meanwhile (the store's observations table), with a
warning: the analyses go on rather than stop.
"""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from loopml.store.repositories import ObservationRepository

__all__ = ["RedisObservationBoard"]

_log = logging.getLogger("loopml.serving")
T = TypeVar("T")

_ACQUIRE_LUA = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisObservationBoard:
    """Tallies and leases in Redis.

    Args:
        client: A ``redis.Redis`` client, or a ``redis://`` URL.
        prefix: Prefix of every key this board writes.
        fallback: Used while Redis fails (None: the error is raised).
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "loopml:deployments:",
        fallback: ObservationRepository | None = None,
    ) -> None:
        import redis

        self._redis = redis.Redis.from_url(client) if isinstance(client, str) else client
        self._prefix = prefix
        self._fallback = fallback
        self._acquire = self._redis.register_script(_ACQUIRE_LUA)
        self._release = self._redis.register_script(_RELEASE_LUA)

    def _window_key(self, deployment: str, window: str) -> str:
        return f"{self._prefix}observations:{deployment}:{window}"

    def _lease_key(self, deployment: str) -> str:
        return f"{self._prefix}lease:{deployment}"

    def _either(self, action: Callable[[], T], fallback: Callable[[ObservationRepository], T]) -> T:
        try:
            return action()
        except Exception as err:
            if self._fallback is None:
                raise
            _log.warning("Shared observations in Redis failed (%s); using the store meanwhile.", err)
            return fallback(self._fallback)

    def publish(
        self, deployment: str, window: str, replica: str, document: Mapping[str, Any], *, ttl_s: float
    ) -> None:
        """Write ``replica``'s tally of ``window``; the window's hash expires ``ttl_s`` from now."""
        key, raw = self._window_key(deployment, window), json.dumps(dict(document))

        def write() -> None:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, replica, raw)
                pipe.pexpire(key, int(ttl_s * 1000))
                pipe.execute()

        self._either(write, lambda f: f.publish(deployment, window, replica, document, ttl_s=ttl_s))

    def collect(self, deployment: str, window: str) -> builtins.list[dict[str, Any]]:
        """Every replica's tally of ``window`` still in Redis, ordered by replica."""

        def read() -> builtins.list[dict[str, Any]]:
            found = self._redis.hgetall(self._window_key(deployment, window))
            return [json.loads(found[k]) for k in sorted(found)]

        return self._either(read, lambda f: f.collect(deployment, window))

    def acquire(self, deployment: str, holder: str, *, ttl_s: float) -> bool:
        """Take (or extend) ``deployment``'s lease for ``ttl_s``; False when another holds it."""
        key = self._lease_key(deployment)
        return self._either(
            lambda: bool(self._acquire(keys=[key], args=[holder, int(ttl_s * 1000)])),
            lambda f: f.acquire(deployment, holder, ttl_s=ttl_s),
        )

    def release(self, deployment: str, holder: str) -> None:
        """Give ``deployment``'s lease back, if ``holder`` holds it."""
        key = self._lease_key(deployment)
        self._either(
            lambda: self._release(keys=[key], args=[holder]), lambda f: f.release(deployment, holder)
        )
