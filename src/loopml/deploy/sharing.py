"""Observations shared by serving replicas, and the one replica that decides each analysis.

Several ``loopml serve`` replicas behind a load balancer each see part of a deployment's traffic.
So that the release gates judge all of it, each replica publishes what it saw in the current
analysis window (a :class:`WindowTally`: exact counts of requests, errors and atypical flags,
and bounded uniform samples of latencies, predictions, answered requests and shadow pairs) to a
board every replica reads (Redis, or the store's ``deployment_observations`` table; see
:class:`~loopml.store.repositories.ObservationRepository`). When an analysis is due, the replica
that takes the deployment's lease (expiring, so it moves on when its holder dies) re-reads the
stored state, checks that the analysis is still due for the same window (no other replica
decided it meanwhile), merges every replica's tally (:func:`merge_tallies`: counts summed,
samples merged in proportion to what each replica saw), joins the feedback labels to the merged
answered requests, and stores one verdict. The others follow the stored state.

A replica that dies leaves its last publication on the board until it expires (``keep_s`` after
it was written), so its observations still count in the window's analysis; what it saw after
its last publication (at most one publication interval) is lost.

Example:
    >>> a = WindowTally(start_ms=0, routes={"canary": RouteTally(requests=3, errors=1,
    ...     latencies=Reservoir(seen=3, items=(1.0, 2.0, 3.0)))})
    >>> b = WindowTally(start_ms=0, routes={"canary": RouteTally(requests=2, errors=2,
    ...     latencies=Reservoir(seen=2, items=(5.0, 6.0)))})
    >>> merged = merge_tallies([a, WindowTally.from_document(b.to_document())], sample_size=10)
    >>> merged.routes["canary"].requests, merged.routes["canary"].errors
    (5, 3)
    >>> sorted(merged.routes["canary"].latencies.items)
    [1.0, 2.0, 3.0, 5.0, 6.0]
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from loopml.deploy.observations import Observations, RouteObservations, Window
from loopml.deploy.outcomes import Answered, LabelLookup, route_outcomes
from loopml.errors import InvalidInput

__all__ = [
    "Reservoir",
    "RouteTally",
    "WindowTally",
    "merge_reservoirs",
    "merge_tallies",
    "observations_of",
]

Value = float | str
#: One answered request as a route keeps it: id, outputs, row positions, scores, positive class, keys.
Kept = tuple[str, tuple[Value, ...], tuple[int, ...], tuple[float, ...], Value | None, tuple[str, ...]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reservoir:
    """A uniform sample: ``items`` kept out of ``seen`` (all of them while ``seen`` is small)."""

    seen: int = 0
    items: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.seen < len(self.items):
            raise InvalidInput(f"A sample keeps {len(self.items)} items out of {self.seen} seen; it cannot.")


def merge_reservoirs(samples: Sequence[Reservoir], *, size: int, rng: random.Random) -> Reservoir:
    """One uniform sample of at most ``size`` items from uniform samples of disjoint streams.

    Each stream contributes in proportion to what it saw (largest remainders), drawn at random
    from its sample, so every merged item stands for about the same number of events.
    """
    seen = sum(s.seen for s in samples)
    kept = [s for s in samples if s.items]
    if sum(len(s.items) for s in kept) <= size:
        return Reservoir(seen=seen, items=tuple(x for s in kept for x in s.items))
    shares = [size * s.seen / seen for s in kept]
    quotas = [math.floor(x) for x in shares]
    by_remainder = sorted(range(len(kept)), key=lambda i: shares[i] - quotas[i], reverse=True)
    for i in by_remainder[: size - sum(quotas)]:
        quotas[i] += 1
    items: list[Any] = []
    for s, quota in zip(kept, quotas, strict=True):
        items += rng.sample(s.items, min(quota, len(s.items)))
    return Reservoir(seen=seen, items=tuple(items))


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteTally:
    """One route's facts in a window as one replica saw them (mergeable with other replicas')."""

    requests: int = 0
    errors: int = 0
    atypical: int = 0
    latencies: Reservoir = field(default_factory=Reservoir)
    predictions: Reservoir = field(default_factory=Reservoir)
    mirrored: Reservoir = field(default_factory=Reservoir)
    answered: Reservoir = field(default_factory=Reservoir)

    def observations(self) -> RouteObservations:
        """The facts the gates read (without outcomes: labels are joined by :func:`observations_of`)."""
        return RouteObservations(
            requests=self.requests,
            errors=self.errors,
            latencies_ms=tuple(float(x) for x in self.latencies.items),
            predictions=tuple(self.predictions.items),
            atypical_flags=self.atypical,
            mirrored=tuple(self.mirrored.items),
        )


def _finite(value: object) -> bool:
    """False for NaN and infinities (JSON in the store holds neither); True for anything else."""
    return value == value and value != math.inf and value != -math.inf


def _answer_finite(item: Kept) -> bool:
    return all(map(_finite, item[1])) and all(map(_finite, item[3])) and _finite(item[4])


def _finite_items(kind: str, items: tuple[Any, ...]) -> list[Any]:
    """The items JSON can carry (tuples become arrays): those without a non-finite number."""
    if kind == "latencies":
        return [x for x in items if math.isfinite(x)]
    if kind == "predictions":
        return [x for x in items if x == x and x != math.inf and x != -math.inf]
    if kind == "mirrored":
        return [x for x in items if _finite(x[0]) and _finite(x[1])]
    return [x for x in items if _answer_finite(x)]


def _typed(kind: str, item: Any) -> Any:
    if kind in ("latencies", "predictions"):
        return item
    if kind == "mirrored":
        return (item[0], item[1])
    rid, predictions, rows, scores, positive, keys = item
    return (str(rid), tuple(predictions), tuple(rows), tuple(scores), positive, tuple(keys))


_SAMPLES = ("latencies", "predictions", "mirrored", "answered")
_COUNTS = ("requests", "errors", "atypical")


def _route_of(doc: Mapping[str, Any]) -> RouteTally:
    samples = {
        kind: Reservoir(seen=int(doc[kind]["seen"]), items=tuple(_typed(kind, x) for x in doc[kind]["items"]))
        for kind in _SAMPLES
    }
    return RouteTally(
        requests=int(doc["requests"]),
        errors=int(doc["errors"]),
        atypical=int(doc["atypical"]),
        latencies=samples["latencies"],
        predictions=samples["predictions"],
        mirrored=samples["mirrored"],
        answered=samples["answered"],
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowTally:
    """What one replica (or, merged, every replica) saw of a deployment since ``start_ms``, per route."""

    start_ms: int
    routes: Mapping[str, RouteTally] = field(default_factory=dict)

    def to_document(self) -> dict[str, Any]:
        """A JSON-serialisable document (tuples stand for arrays; items holding a non-finite
        number are left out of the samples)."""
        routes: dict[str, Any] = {}
        for name, r in self.routes.items():
            doc: dict[str, Any] = {k: getattr(r, k) for k in _COUNTS}
            for kind in _SAMPLES:
                sample: Reservoir = getattr(r, kind)
                doc[kind] = {"seen": sample.seen, "items": _finite_items(kind, sample.items)}
            routes[name] = doc
        return {"start_ms": self.start_ms, "routes": routes}

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> WindowTally:
        """Read back :meth:`to_document`.

        Raises:
            InvalidInput: the document is not one.
        """
        try:
            routes = {str(name): _route_of(doc) for name, doc in document["routes"].items()}
            return cls(start_ms=int(document["start_ms"]), routes=routes)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise InvalidInput(f"Not a window tally document: {err!r:.200}") from err


def merge_tallies(
    tallies: Iterable[WindowTally], *, sample_size: int = 5_000, seed: int | None = None
) -> WindowTally:
    """Every replica's tally of one window as one: counts summed, samples merged
    (:func:`merge_reservoirs`, at most ``sample_size`` items each); starts at the earliest start."""
    found = list(tallies)
    if not found:
        raise InvalidInput("No tally to merge: at least one replica's observations are needed.")
    rng = random.Random(seed)
    names = list(dict.fromkeys(n for t in found for n in t.routes))
    routes: dict[str, RouteTally] = {}
    for name in names:
        parts = [t.routes[name] for t in found if name in t.routes]
        samples = {
            kind: merge_reservoirs([getattr(p, kind) for p in parts], size=sample_size, rng=rng)
            for kind in _SAMPLES
        }
        routes[name] = RouteTally(
            requests=sum(p.requests for p in parts),
            errors=sum(p.errors for p in parts),
            atypical=sum(p.atypical for p in parts),
            latencies=samples["latencies"],
            predictions=samples["predictions"],
            mirrored=samples["mirrored"],
            answered=samples["answered"],
        )
    return WindowTally(start_ms=min(t.start_ms for t in found), routes=routes)


def _answered(items: Sequence[Kept]) -> list[Answered]:
    return [
        Answered(
            request_id=i,
            predictions=p,
            rows=rows[: len(p)],
            scores=s[: len(p)],
            positive=positive,
            keys=keys[: len(p)],
        )
        for i, p, rows, s, positive, keys in items
    ]


def observations_of(
    tally: WindowTally,
    *,
    now_ms: int,
    labels: LabelLookup | None = None,
    key_labels: LabelLookup | None = None,
) -> Observations:
    """The gates' view of ``tally`` over ``[start_ms, now_ms)``, each route's answered requests
    joined with the feedback labels ``labels`` (by request id) and ``key_labels`` (by key
    feature) find as its outcomes (None: no outcomes)."""
    routes = {name: r.observations() for name, r in tally.routes.items()}
    if labels is not None:
        kept = {name: _answered(r.answered.items) for name, r in tally.routes.items()}
        joined = route_outcomes(kept, labels, key_labels)
        routes = {name: replace(r, outcomes=joined.get(name, ())) for name, r in routes.items()}
    return Observations(
        window=Window(start_ms=tally.start_ms, end_ms=max(now_ms, tally.start_ms)), routes=routes
    )
