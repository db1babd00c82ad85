"""What the gates look at: per-route facts over one window, protocol-free.

The server fills them from its metrics and prediction log; tests and simulations build them
directly. Nothing here knows HTTP or the serving code.

Example:
    >>> w = Window(start_ms=0, end_ms=60_000)
    >>> route = RouteObservations(requests=100, errors=1, latencies_ms=(5.0, 7.0))
    >>> Observations(window=w, routes={"primary": route}).route("canary").requests
    0
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

from loopml.errors import InvalidInput

__all__ = ["Observations", "Outcome", "RouteObservations", "Window"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """A half-open time window ``[start_ms, end_ms)``, milliseconds since the epoch."""

    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.end_ms < self.start_ms:
            raise InvalidInput(f"A window ends before it starts: [{self.start_ms}, {self.end_ms}).")


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """A prediction joined to its ground-truth label (``prediction`` a score, class or value).

    Attributes:
        prediction: The ``predict`` output (a class or value).
        label: The ground truth.
        score: A binary classifier's probability of its ``positive`` class (what AUC ranks by);
            None when the route's model gives no such score.
        positive: The class ``score`` is the probability of.
    """

    prediction: float | str
    label: float | str
    score: float | None = None
    positive: float | str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteObservations:
    """One route's facts in a window.

    Attributes:
        requests: Requests answered (or attempted) by the route.
        errors: Of those, the failed ones.
        latencies_ms: A sample of request latencies (all of them, or a uniform sample).
        latency_histogram: Or a latency histogram as Prometheus keeps it: cumulative
            ``(upper bound in ms, count)`` buckets, bounds increasing (the last may be ``inf``).
        predictions: A sample of outputs (scores or class labels), for the distribution gates.
        atypical_flags: Requests flagged as atypical inputs.
        outcomes: Labelled predictions that arrived through feedback.
        mirrored: For a shadow, pairs ``(primary's output, this route's output)`` of one request.
    """

    requests: int = 0
    errors: int = 0
    latencies_ms: tuple[float, ...] = ()
    latency_histogram: tuple[tuple[float, int], ...] = ()
    predictions: tuple[float | str, ...] = ()
    atypical_flags: int = 0
    outcomes: tuple[Outcome, ...] = ()
    mirrored: tuple[tuple[float | str, float | str], ...] = ()

    def __post_init__(self) -> None:
        for name in ("requests", "errors", "atypical_flags"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInput(f"`{name}` must be an integer >= 0. Got {value!r:.40}.")
        bounds = [b for b, _ in self.latency_histogram]
        counts = [c for _, c in self.latency_histogram]
        if any(b2 <= b1 for b1, b2 in itertools.pairwise(bounds)) or any(
            c2 < c1 for c1, c2 in itertools.pairwise(counts)
        ):
            raise InvalidInput(
                "`latency_histogram` must be cumulative buckets: bounds increasing, counts never decreasing."
            )
        if self.errors > self.requests or self.atypical_flags > self.requests:
            raise InvalidInput(
                f"errors ({self.errors}) and atypical_flags ({self.atypical_flags}) cannot exceed "
                f"requests ({self.requests})."
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Observations:
    """Facts of every route of a deployment over one window (keys: ``primary``, ``canary``, shadow names)."""

    window: Window
    routes: Mapping[str, RouteObservations] = field(default_factory=dict)

    def route(self, name: str) -> RouteObservations:
        """The facts of ``name``; an empty record when the route saw nothing."""
        return self.routes.get(name) or RouteObservations()
