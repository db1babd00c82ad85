"""Per-model request guards: query limits, probing detection and atypical-input scoring.

Configured per model in ``serve.yaml``::

    models:
      - uri: models:/census@champion
        limits: {per_minute: 600, per_day: 100000}      # per caller (token), per model
        atypical: {policy: flag, max_distance: 4}       # log | flag | reject
        extraction: {window_s: 60, max_probes: 50, step: 0.1}
        restore: {clip: true, fallback: {city: other}}  # see loopml.inference.restoration

The data plane runs them for every protocol, in this order: the query limits (a token bucket of
``per_minute`` refilled continuously, and a fixed UTC-day window of ``per_day``), the probing
detector, the atypical scoring, then the input restoration. Probing and atypical scoring see the
request as sent (so a probe or an out-of-range value is still seen, and flagged, when restoration
would repair it); the model predicts the restored rows; the prediction log keeps the values as
sent, each restored row flagged ``clipped:COL`` / ``fallback:COL`` beside its atypical flags.
A restoration policy the package's training statistics cannot support is refused when the guard
is built, that is at start-up (or, for a deployment, when a new model is loaded: the old one keeps
serving). Limits and probing windows are shared by every worker and replica through Redis
when ``LOOPML_REDIS_URL`` is set (if Redis fails, each process limits and detects probes on its
own meanwhile: requests never fail because of Redis; see :mod:`loopml.serving.probes`). A
caller is the token that authenticated the request, or the client address without authentication.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from loopml.errors import InvalidInput
from loopml.inference.atypical import (
    AtypicalCheck,
    AtypicalInput,
    AtypicalPolicy,
    AtypicalReport,
    AtypicalScorer,
)
from loopml.inference.extraction import ExtractionCheck, ProbeDetector, ProbeStore
from loopml.inference.inputs import ModelInput
from loopml.inference.model import ServedModel
from loopml.inference.restoration import InputRestoration, InputRestorer
from loopml.security.ratelimit import DAY_S, FallbackLimiter, InProcessLimiter, Limiter
from loopml.serving.errors import RateLimited
from loopml.serving.metrics import ServingMetrics

__all__ = [
    "ModelGuards",
    "QueryLimiter",
    "QueryLimits",
    "RequestGuard",
    "atypical_flags",
    "merge_flags",
    "restored_rows",
]

_log = logging.getLogger("loopml.serving")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class QueryLimits:
    """Queries one caller may send to one model.

    Attributes:
        per_minute: Requests per minute (a token bucket: bursts up to this many), or None.
        per_day: Requests per UTC day, or None.
    """

    per_minute: int | None = None
    per_day: int | None = None

    def __post_init__(self) -> None:
        for key in ("per_minute", "per_day"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InvalidInput(f"limits.{key} must be a positive integer; got {value!r}.")

    @classmethod
    def from_mapping(cls, data: Any, *, where: str) -> QueryLimits | None:
        """Parse ``{per_minute: N, per_day: N}`` (None: unlimited).

        Raises:
            InvalidInput: unknown keys or bad values, naming them.
        """
        if data is None:
            return None
        if not isinstance(data, Mapping) or set(data) - {"per_minute", "per_day"}:
            raise InvalidInput(f"{where} must be a mapping with keys per_minute, per_day.")
        return cls(per_minute=data.get("per_minute"), per_day=data.get("per_day"))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ModelGuards:
    """The guards of one served model (each None: off)."""

    limits: QueryLimits | None = None
    atypical: AtypicalCheck | None = None
    extraction: ExtractionCheck | None = None
    restore: InputRestoration | None = None


class QueryLimiter:
    """Applies :class:`QueryLimits` per caller and model over a bucket backend.

    Args:
        backend: Where buckets live (in-process, or :class:`~loopml.security.ratelimit.RedisLimiter`).
        fallback: Used while the backend fails (e.g. Redis down).
        probes: Where the probing detectors keep their windows when shared (a
            :class:`~loopml.serving.probes.RedisProbeStore`); None: each detector in this process.
    """

    def __init__(
        self,
        backend: Limiter | None = None,
        *,
        fallback: Limiter | None = None,
        probes: ProbeStore | None = None,
    ) -> None:
        buckets: Limiter = backend or InProcessLimiter()
        self._buckets = buckets if fallback is None else FallbackLimiter(buckets, fallback)
        self.probes = probes

    def check(self, model: str, caller: str, limits: QueryLimits) -> None:
        """Count one request of ``caller`` to ``model``.

        Raises:
            RateLimited: over the per-minute rate or the daily quota (with the seconds to wait).
        """
        key = f"serve:{model}:{caller}"
        if limits.per_minute is not None:
            per_minute = limits.per_minute
            decision = self._buckets.consume(f"{key}:min", rate=per_minute / 60, burst=per_minute)
            if not decision.allowed:
                raise RateLimited(
                    f"Too many requests to model {model!r}: the limit is {per_minute} per minute per caller; "
                    f"retry in {decision.retry_after_s:.1f} s.",
                    retry_after=decision.retry_after_s,
                )
        if limits.per_day is not None:
            per_day = limits.per_day
            decision = self._buckets.count(f"{key}:day", limit=per_day, window_s=DAY_S)
            if not decision.allowed:
                raise RateLimited(
                    f"Daily quota of {per_day} requests to model {model!r} is used up for this caller; "
                    f"it resets at 00:00 UTC (in {decision.retry_after_s:.0f} s).",
                    retry_after=decision.retry_after_s,
                )


class RequestGuard:
    """The guards of one served model, ready to run.

    Args:
        model: The served model (its schema and training statistics).
        guards: What to check.
        limiter: Shared query limiter.

    Raises:
        InvalidInput: a restoration policy the model's training statistics cannot support (no
            statistics, or a fallback that is not a training category), naming the model.
    """

    def __init__(self, model: ServedModel, guards: ModelGuards, limiter: QueryLimiter) -> None:
        self.model = model
        self.guards = guards
        self._limiter = limiter
        stats = model.predictor.training_stats
        self._scorer = (
            AtypicalScorer(model.schema, stats, max_distance=guards.atypical.max_distance)
            if guards.atypical is not None
            else None
        )
        scales = {
            name: float(entry.get("std", 0.0))
            for name, entry in (stats or {}).get("columns", {}).items()
            if isinstance(entry, Mapping) and entry.get("kind") == "numeric"
        }
        self._probes = (
            ProbeDetector(
                model.schema,
                guards.extraction,
                scales=scales,
                store=limiter.probes,
                namespace=f"serve:{model.name}:{model.version}:",
            )
            if guards.extraction is not None
            else None
        )
        self._restorer: InputRestorer | None = None
        if guards.restore is not None and guards.restore.is_active:
            try:
                self._restorer = InputRestorer(model.schema, stats, guards.restore)
            except InvalidInput as err:
                raise InvalidInput(
                    f"Cannot apply the input restoration policy (restore:) of model {model.name!r} "
                    f"({model.source}): {err} Fix or remove its restore: section."
                ) from err

    def admit(self, rows: ModelInput, caller: str) -> None:
        """Query limits and probing detection, before any prediction.

        Raises:
            RateLimited: over a limit, or probing detected.
        """
        if self.guards.limits is not None:
            self._limiter.check(self.model.name, caller, self.guards.limits)
        if self._probes is not None:
            decision = self._probes.observe(caller, rows)
            if not decision.allowed:
                raise RateLimited(
                    f"Requests to model {self.model.name!r} are paused for this caller: {decision.probes} "
                    "near-identical inputs (one feature changed by small steps) within the last "
                    f"{self.guards.extraction.window_s if self.guards.extraction else 0:g} s look like "
                    "model-extraction probing.",
                    retry_after=decision.retry_after_s,
                )

    def score(self, rows: ModelInput) -> AtypicalReport | None:
        """Atypical-input scoring under the model's policy (None when the check is off).

        Raises:
            AtypicalInput: policy ``reject`` and an atypical row, naming it and why.
        """
        if self._scorer is None or self.guards.atypical is None:
            return None
        report = self._scorer.score(rows)
        if report.is_atypical:
            flags = report.flags()
            if self.guards.atypical.policy is AtypicalPolicy.REJECT:
                raise AtypicalInput(
                    f"Model {self.model.name!r} refuses atypical input (policy reject): "
                    f"{'; '.join(flags[:5])}. Values must lie in the training data's range and categories."
                )
            _log.info("atypical input for %s: %s", self.model.name, "; ".join(flags[:5]))
        return report

    def restore(self, rows: ModelInput) -> tuple[ModelInput, dict[str, int], tuple[tuple[str, ...], ...]]:
        """The rows under the restoration policy, the values each repair changed, per-row flags.

        Without a policy: ``rows`` unchanged, nothing counted, no flags.
        """
        if self._restorer is None:
            return rows, {}, ()
        return self._restorer.restore_rows(rows)


def atypical_flags(
    guard: RequestGuard, rows: ModelInput, metrics: ServingMetrics | None
) -> tuple[tuple[str, ...], ...]:
    """Score ``rows`` under the guard's atypical policy, count them, and return the flags to report.

    Returns:
        Per row, why it is atypical, under the ``flag`` policy; empty otherwise or when no row is.

    Raises:
        AtypicalInput: policy ``reject`` and an atypical row.
    """
    atypical = guard.guards.atypical
    try:
        report = guard.score(rows)
    except AtypicalInput:
        if metrics is not None and atypical is not None:
            metrics.atypical_requests.labels(guard.model.name, atypical.policy.value).inc()
        raise
    if report is None or not report.is_atypical or atypical is None:
        return ()
    if metrics is not None:
        metrics.atypical_requests.labels(guard.model.name, atypical.policy.value).inc()
        for reason, count in report.reason_counts().items():
            metrics.atypical_rows.labels(guard.model.name, reason).inc(count)
    return report.reasons if atypical.policy is AtypicalPolicy.FLAG else ()


def restored_rows(
    guard: RequestGuard, rows: ModelInput, metrics: ServingMetrics | None
) -> tuple[ModelInput, tuple[tuple[str, ...], ...]]:
    """Apply the guard's restoration policy to ``rows`` and count what it repaired.

    Returns:
        The rows to predict (``rows`` itself when nothing changed) and, per row, the repairs it got
        (``clipped:COL``, ``fallback:COL``); empty when no value changed or no policy is set.
    """
    repaired, counts, flags = guard.restore(rows)
    if counts and metrics is not None:
        for key, count in counts.items():
            repair, column = key.split(":", 1)
            metrics.restored_values.labels(guard.model.name, column, repair).inc(count)
    if counts:
        _log.info("restored input for %s: %s", guard.model.name, counts)
    return repaired, flags


def merge_flags(
    first: tuple[tuple[str, ...], ...], second: tuple[tuple[str, ...], ...]
) -> tuple[tuple[str, ...], ...]:
    """Per row, ``first``'s flags then ``second``'s (either may be empty: no row flagged)."""
    if not first or not second:
        return first or second
    return tuple(a + b for a, b in zip(first, second, strict=True))
