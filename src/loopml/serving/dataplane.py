"""The protocol-free data plane: find the model, predict (micro-batched), post-process, record.

Protocol adapters parse their wire format into a :class:`~loopml.inference.inputs.ModelInput` and
call :meth:`DataPlane.infer`; every protocol therefore gets the same batching, output policy,
metrics and prediction log.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np
from threadpoolctl import threadpool_limits

from loopml.errors import InvalidInput, NotFound
from loopml.inference.atypical import AtypicalInput, AtypicalPolicy
from loopml.inference.inputs import ModelInput
from loopml.inference.model import ServedModel
from loopml.serving import tracing
from loopml.serving.batching import MicroBatcher
from loopml.serving.guards import ModelGuards, QueryLimiter, RequestGuard
from loopml.serving.metrics import ServingMetrics

__all__ = ["DataPlane", "InferenceResult", "InferenceSink", "ModelRepository"]


class ModelRepository:
    """The served models by name and version; the first version given for a name is its default.

    Raises:
        InvalidInput: the same name and version given twice.
    """

    def __init__(self, models: Iterable[ServedModel]) -> None:
        self._by_name: dict[str, dict[str, ServedModel]] = {}
        for model in models:
            versions = self._by_name.setdefault(model.name, {})
            if model.version in versions:
                raise InvalidInput(
                    f"Model {model.name!r} version {model.version} is listed twice; give each served model "
                    "a distinct name (serve.yaml 'name:')."
                )
            versions[model.version] = model

    def names(self) -> list[str]:
        """Served model names, in the order given."""
        return list(self._by_name)

    def all(self) -> list[ServedModel]:
        """Every served model version."""
        return [m for versions in self._by_name.values() for m in versions.values()]

    def versions(self, name: str) -> list[str]:
        """The served versions of ``name``.

        Raises:
            NotFound: no model of that name.
        """
        return list(self._versions(name))

    def _versions(self, name: str) -> dict[str, ServedModel]:
        versions = self._by_name.get(name)
        if versions is None:
            known = ", ".join(repr(n) for n in self._by_name) or "none"
            raise NotFound(f"No model named {name!r} is served here; served models: {known}.")
        return versions

    def get(self, name: str, version: str | None = None) -> ServedModel:
        """The model ``name`` (its default version unless ``version`` is given).

        Raises:
            NotFound: unknown name or version, listing what is served.
        """
        versions = self._versions(name)
        if version is None:
            return next(iter(versions.values()))
        found = versions.get(version)
        if found is None:
            raise NotFound(
                f"Model {name!r} has no served version {version!r}; served versions: {', '.join(versions)}."
            )
        return found


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class InferenceResult:
    """The answer to one request.

    Attributes:
        request_id: The request's id (the client's, or a fresh UUID).
        model: The model that answered.
        outputs: Output name → values (after the output policy), one entry per row.
        latency_s: Seconds from the data plane receiving the rows to the outputs being ready.
        flags: Per row, why it was atypical (``out_of_range:age`` ...), under the model's ``flag``
            policy; empty when no row was flagged.
    """

    request_id: str
    model: ServedModel
    outputs: dict[str, np.ndarray]
    latency_s: float
    flags: tuple[tuple[str, ...], ...] = ()


class InferenceSink(Protocol):
    """Something told about every answered request (the prediction log); must never block."""

    def record(
        self, result: InferenceResult, rows: ModelInput, *, protocol: str, principal: str | None
    ) -> None:
        """Take note of one answered request."""
        ...

    def close(self) -> None:
        """Flush and stop."""
        ...


class DataPlane:
    """Serves the models of a repository.

    Args:
        repository: The models.
        metrics: Where batch sizes and predict times are counted.
        sinks: Told about each answered request (e.g. the prediction log).
        guards: Model name → its request guards (see :mod:`loopml.serving.guards`).
        limiter: Counts query limits (default: in this process).
    """

    def __init__(
        self,
        repository: ModelRepository,
        *,
        metrics: ServingMetrics | None = None,
        sinks: Sequence[InferenceSink] = (),
        guards: Mapping[str, ModelGuards] | None = None,
        limiter: QueryLimiter | None = None,
    ) -> None:
        self.repository = repository
        self._sinks = tuple(sinks)
        self._metrics = metrics
        unknown = sorted(set(guards or {}) - set(repository.names()))
        if unknown:
            raise InvalidInput(f"Guards are configured for model(s) {unknown} that are not served.")
        shared = limiter or QueryLimiter()
        self._guards = {
            (m.name, m.version): RequestGuard(m, (guards or {})[m.name], shared)
            for m in repository.all()
            if m.name in (guards or {})
        }
        # One prediction thread whose native pools (OpenMP, BLAS) run single-threaded: requests are
        # batched and workers are processes, so nested pools would only oversubscribe the CPUs (an
        # idle OpenMP team waking up on a busy machine cost the demo's model 10x per call).
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="predict", initializer=threadpool_limits, initargs=(1,)
        )
        self._batchers = {
            (m.name, m.version): MicroBatcher(
                m, executor=self._executor, observer=metrics.batch_observer(m.name) if metrics else None
            )
            for m in repository.all()
        }

    def model(self, name: str, version: str | None = None) -> ServedModel:
        """The model addressed by ``name`` (and ``version``). Raises NotFound."""
        return self.repository.get(name, version)

    async def infer(
        self,
        model: ServedModel,
        rows: ModelInput,
        *,
        protocol: str,
        request_id: str | None = None,
        principal: str | None = None,
        caller: str | None = None,
    ) -> InferenceResult:
        """Guard the request, predict ``rows`` with ``model`` and apply its output policy.

        Args:
            caller: Whom query limits and probing are counted for (the token; default the principal).

        Raises:
            RateLimited: over the model's query limits, or probing detected.
            AtypicalInput: an atypical row under the ``reject`` policy.
            InvalidInput: the model refused the values.
        """
        started = time.perf_counter()
        flags: tuple[tuple[str, ...], ...] = ()
        guard = self._guards.get((model.name, model.version))
        if guard is not None:
            guard.admit(rows, caller or principal or "anonymous")
            flags = self._score(guard, rows)
        tracing.record_child("validate", tracing.request_started(), tracing.mark())
        outputs = await self._batchers[(model.name, model.version)].predict(rows)
        result = InferenceResult(
            request_id=request_id or uuid.uuid4().hex,
            model=model,
            outputs=outputs,
            latency_s=time.perf_counter() - started,
            flags=flags,
        )
        logged = tracing.mark()
        for sink in self._sinks:
            sink.record(result, rows, protocol=protocol, principal=principal)
        tracing.record_child("log", logged)
        return result

    def _score(self, guard: RequestGuard, rows: ModelInput) -> tuple[tuple[str, ...], ...]:
        atypical = guard.guards.atypical
        try:
            report = guard.score(rows)
        except AtypicalInput:
            if self._metrics is not None and atypical is not None:
                self._metrics.atypical_requests.labels(guard.model.name, atypical.policy.value).inc()
            raise
        if report is None or not report.is_atypical or atypical is None:
            return ()
        if self._metrics is not None:
            self._metrics.atypical_requests.labels(guard.model.name, atypical.policy.value).inc()
            for reason, count in report.reason_counts().items():
                self._metrics.atypical_rows.labels(guard.model.name, reason).inc(count)
        return report.reasons if atypical.policy is AtypicalPolicy.FLAG else ()

    async def close(self) -> None:
        """Stop the batchers."""
        for batcher in self._batchers.values():
            await batcher.close()
        for sink in self._sinks:
            sink.close()
        self._executor.shutdown(wait=False)
