"""Collects the facts the gates consume, request by request, into bounded per-route samples.

The model server calls :meth:`ObservationCollector.record` for every answered (or failed)
request of a route, and :meth:`~ObservationCollector.record_mirror` for every shadow answer;
:meth:`~ObservationCollector.observations` turns what was seen since ``start_ms`` into
:class:`~loopml.deploy.observations.Observations`, with the feedback labels found for the
answered requests joined as each route's outcomes (:mod:`loopml.deploy.outcomes`). Counts are
exact; latencies, predictions, answered requests and mirrored pairs are uniform samples
(reservoir sampling) of at most ``sample_size`` each, so memory stays bounded however long a step
lasts. Safe to call from several threads.

Example:
    >>> c = ObservationCollector(start_ms=0, sample_size=100)
    >>> c.record("primary", error=False, latency_ms=3.0, predictions=(1, 0))
    >>> c.record("canary", error=True, latency_ms=9.0)
    >>> obs = c.observations(now_ms=10)
    >>> obs.route("primary").requests, obs.route("canary").errors, obs.route("primary").predictions
    (1, 1, (1, 0))
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from loopml.deploy.observations import Observations
from loopml.deploy.outcomes import LabelLookup
from loopml.deploy.sharing import Reservoir, RouteTally, WindowTally, observations_of

__all__ = ["ObservationCollector"]

Value = float | str


@dataclass(slots=True)
class _Reservoir:
    size: int
    seen: int = 0
    items: list[object] = field(default_factory=list)

    def add(self, item: object, rng: random.Random) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
            return
        slot = rng.randrange(self.seen)
        if slot < self.size:
            self.items[slot] = item

    def frozen(self) -> Reservoir:
        return Reservoir(seen=self.seen, items=tuple(self.items))


@dataclass(slots=True)
class _Route:
    size: int
    requests: int = 0
    errors: int = 0
    atypical: int = 0
    latencies: _Reservoir = field(init=False)
    predictions: _Reservoir = field(init=False)
    mirrored: _Reservoir = field(init=False)
    answered: _Reservoir = field(init=False)

    def __post_init__(self) -> None:
        self.latencies = _Reservoir(self.size)
        self.predictions = _Reservoir(self.size)
        self.mirrored = _Reservoir(self.size)
        self.answered = _Reservoir(self.size)

    def tally(self) -> RouteTally:
        return RouteTally(
            requests=self.requests,
            errors=self.errors,
            atypical=self.atypical,
            latencies=self.latencies.frozen(),
            predictions=self.predictions.frozen(),
            mirrored=self.mirrored.frozen(),
            answered=self.answered.frozen(),
        )


class ObservationCollector:
    """Per-route facts of one window that started at ``start_ms``.

    Args:
        start_ms: When the window started (the rollout step's start).
        sample_size: Most latencies, predictions and mirrored pairs kept per route.
        seed: Seeds the sampling (tests).
    """

    def __init__(self, *, start_ms: int, sample_size: int = 5_000, seed: int | None = None) -> None:
        self.start_ms = start_ms
        self._size = sample_size
        self._routes: dict[str, _Route] = {}
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def _route(self, name: str) -> _Route:
        route = self._routes.get(name)
        if route is None:
            route = self._routes[name] = _Route(self._size)
        return route

    def record(
        self,
        route: str,
        *,
        error: bool,
        latency_ms: float,
        predictions: Sequence[Value] = (),
        atypical: bool = False,
        request_id: str | None = None,
        rows: Sequence[int] = (),
        scores: Sequence[float] = (),
        positive: Value | None = None,
        keys: Sequence[str] = (),
    ) -> None:
        """One request of ``route``: failed or not, its latency, its outputs (one per row), flagged or not.

        With ``request_id``, the request is kept (sampled) for the feedback labels posted for it;
        ``rows`` gives the positions of the predicted rows when the route answered only some
        rows of the request; ``scores`` a binary classifier's probability of its ``positive``
        class for those rows (what the AUC gate ranks by); ``keys`` their values of the label
        key feature.
        """
        with self._lock:
            r = self._route(route)
            r.requests += 1
            r.errors += int(error)
            r.atypical += int(atypical and not error)
            r.latencies.add(latency_ms, self._rng)
            for p in predictions:
                r.predictions.add(p, self._rng)
            if request_id is not None and predictions:  # a plain tuple: this runs per request
                kept = (
                    request_id,
                    tuple(predictions),
                    tuple(rows),
                    tuple(scores),
                    (positive if scores else None),
                    tuple(keys),
                )
                r.answered.add(kept, self._rng)

    def record_mirror(
        self,
        shadow: str,
        *,
        error: bool,
        latency_ms: float,
        pairs: Sequence[tuple[Value, Value]] = (),
    ) -> None:
        """One mirrored request of ``shadow``: its outcome and the ``(primary, shadow)`` output pairs."""
        with self._lock:
            r = self._route(shadow)
            r.requests += 1
            r.errors += int(error)
            r.latencies.add(latency_ms, self._rng)
            for primary, mirrored in pairs:
                r.predictions.add(mirrored, self._rng)
                r.mirrored.add((primary, mirrored), self._rng)

    def observations(
        self, *, now_ms: int, labels: LabelLookup | None = None, key_labels: LabelLookup | None = None
    ) -> Observations:
        """What was seen in ``[start_ms, now_ms)``.

        Args:
            now_ms: The end of the window.
            labels: Finds the feedback labels of request ids; each route's answered requests are
                joined with them into its ``outcomes`` (None: no outcomes). Called outside the
                lock (it may query a store).
            key_labels: Finds the labels keyed by the label key feature's values (None: none).
        """
        return observations_of(self.tally(), now_ms=now_ms, labels=labels, key_labels=key_labels)

    def tally(self) -> WindowTally:
        """What was seen since ``start_ms``, as a mergeable tally (shared with other replicas)."""
        with self._lock:
            routes = {name: r.tally() for name, r in self._routes.items()}
        return WindowTally(start_ms=self.start_ms, routes=routes)

    @property
    def recorded(self) -> int:
        """Requests and mirrored copies recorded so far (tells whether anything new was seen)."""
        with self._lock:
            return sum(r.requests for r in self._routes.values())
