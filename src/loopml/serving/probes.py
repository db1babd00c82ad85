"""Probing windows shared by every worker and replica through Redis.

With ``LOOPML_REDIS_URL`` set, :class:`RedisProbeStore` keeps each caller's probing window (see
:mod:`loopml.inference.extraction`) in one Redis key per model and caller, so requests a prober
spreads over ``--workers`` or replicas are counted together. The decision is the detector's own
(:meth:`~loopml.inference.extraction.ProbeDetector.step`), applied under an optimistic
transaction (``WATCH``/``MULTI``): concurrent requests of one caller are counted one after the
other, as in one process. Times come from the Redis server's clock, so replicas agree.

Each key expires one window after the caller's last request (then nothing in it would count any
more), and holds at most ``max_rows`` rows: memory is bounded by the callers active within a window.
Rows are kept as JSON (numbers, strings, booleans, null; other values as their text).

If Redis fails, the store counts in this process meanwhile (as the query limits do): a probe is
then caught only within one worker, and requests never fail because of Redis.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from loopml.inference.extraction import InProcessProbeStore, ProbeDecision, ProbeStep, ProbeStore, ProbeWindow

__all__ = ["RedisProbeStore"]

_log = logging.getLogger("loopml.serving")
_ATTEMPTS = 16


def _plain(value: Any) -> Any:
    """A JSON value for one row entry (NumPy scalars as Python ones, anything else as text)."""
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _encode(window: ProbeWindow) -> str:
    numeric = all(r.dtype.kind == "f" for r in window.rows)
    return json.dumps(
        {
            "t": list(window.times),
            "r": [r.tolist() for r in window.rows],
            "p": list(window.probes),
            "f": numeric,
        },
        default=_plain,
    )


def _decode(raw: bytes | str) -> ProbeWindow:
    data = json.loads(raw)
    dtype = np.float64 if data["f"] else object
    return ProbeWindow(
        times=tuple(float(t) for t in data["t"]),
        rows=tuple(np.array(r, dtype=dtype) for r in data["r"]),
        probes=tuple(float(t) for t in data["p"]),
    )


class RedisProbeStore:
    """Probing windows in Redis (one key per model and caller, expiring one window after its last use).

    Args:
        client: A ``redis.Redis`` client, or a ``redis://`` URL.
        prefix: Prefix of every key this store writes.
        clock: Seconds, for tests; by default the Redis server's clock, so replicas agree.
        fallback: Counts while Redis fails (default: this process's memory).
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "loopml:probes:",
        clock: Callable[[], float] | None = None,
        fallback: ProbeStore | None = None,
    ) -> None:
        import redis

        self._redis = redis.Redis.from_url(client) if isinstance(client, str) else client
        self._prefix = prefix
        self._clock = clock
        self._fallback: ProbeStore = fallback or InProcessProbeStore()

    def update(self, key: str, step: ProbeStep, *, ttl_s: float) -> ProbeDecision:
        try:
            return self._update(self._prefix + key, step, ttl_s=ttl_s)
        except Exception as err:
            _log.warning("Probing-window store failed (%s); detecting probes in this process meanwhile.", err)
            return self._fallback.update(key, step, ttl_s=ttl_s)

    def _update(self, key: str, step: ProbeStep, *, ttl_s: float) -> ProbeDecision:
        import redis

        with self._redis.pipeline(transaction=True) as pipe:
            for _ in range(_ATTEMPTS):
                try:
                    pipe.watch(key)
                    if self._clock is None:
                        seconds, micros = pipe.time()
                        now = float(seconds) + float(micros) / 1e6
                    else:
                        now = self._clock()
                    raw = pipe.get(key)
                    window, decision = step(_decode(raw) if raw else None, now)
                    pipe.multi()
                    pipe.set(key, _encode(window), px=int(ttl_s * 1000) + 1000)
                    pipe.execute()
                    return decision
                except redis.WatchError:
                    continue
        raise RuntimeError(f"the window of {key!r} changed under {_ATTEMPTS} tries in a row")
