"""The protocol-free data plane: find the model, predict (micro-batched), post-process, record.

Protocol adapters parse their wire format into a :class:`~loopml.inference.inputs.ModelInput` and
call :meth:`DataPlane.infer`; every protocol therefore gets the same batching, output policy,
metrics and prediction log.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from threadpoolctl import threadpool_limits

from loopml.errors import InvalidInput, NotFound
from loopml.inference.inputs import ModelInput
from loopml.inference.model import ServedModel
from loopml.serving import tracing
from loopml.serving.batching import Arrivals, MicroBatcher
from loopml.serving.guards import (
    ModelGuards,
    QueryLimiter,
    RequestGuard,
    atypical_flags,
    merge_flags,
    restored_rows,
)
from loopml.serving.metrics import ServingMetrics
from loopml.serving.results import InferenceResult, InferenceSink

if TYPE_CHECKING:
    from loopml.serving.deployments import DeploymentRuntime

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


class DataPlane:
    """Serves the models of a repository.

    Args:
        repository: The models.
        metrics: Where batch sizes and predict times are counted.
        sinks: Told about each answered request (e.g. the prediction log).
        guards: Model name → its request guards (see :mod:`loopml.serving.guards`).
        limiter: Counts query limits (default: in this process).
        deployments: Deployments served beside the models, routed by their stored state (a served
            model of the same name wins).

    Attributes:
        arrivals: The inference requests on their way to a batcher; protocol adapters count each
            request in it (:meth:`Arrivals.request`) so that batches wait only for those.
    """

    def __init__(
        self,
        repository: ModelRepository,
        *,
        metrics: ServingMetrics | None = None,
        sinks: Sequence[InferenceSink] = (),
        guards: Mapping[str, ModelGuards] | None = None,
        limiter: QueryLimiter | None = None,
        deployments: DeploymentRuntime | None = None,
    ) -> None:
        self.repository = repository
        self.deployments = deployments
        self.arrivals = deployments.arrivals if deployments is not None else Arrivals()
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
                m,
                executor=self._executor,
                observer=metrics.batch_observer(m.name) if metrics else None,
                arrivals=self.arrivals,
            )
            for m in repository.all()
        }

    def _routes(self, name: str) -> bool:
        return (
            self.deployments is not None
            and self.deployments.serves(name)
            and name not in self.repository.names()
        )

    def names(self) -> list[str]:
        """Served model names, then served deployment names."""
        names = self.repository.names()
        routed = self.deployments.names if self.deployments is not None else ()
        return names + [d for d in routed if d not in names]

    def model(self, name: str, version: str | None = None) -> ServedModel:
        """The model addressed by ``name`` (and ``version``); a deployment's primary for a deployment.

        Raises:
            NotFound: unknown name or version, or a version given for a deployment.
        """
        if self.deployments is not None and self._routes(name):
            if version is not None:
                raise NotFound(
                    f"{name!r} is a deployment: it picks the version itself; send requests to "
                    f"/v2/models/{name}/infer without /versions/."
                )
            return self.deployments.front(name)
        return self.repository.get(name, version)

    def versions(self, name: str) -> list[str]:
        """The versions served under ``name`` (for a deployment: those its routes answer with)."""
        if self.deployments is not None and self._routes(name):
            return self.deployments.versions(name)
        return self.repository.versions(name)

    async def start(self) -> None:
        """Start following the deployments' stored state (call from the serving event loop)."""
        if self.deployments is not None:
            await self.deployments.start()

    async def infer(
        self,
        model: ServedModel,
        rows: ModelInput,
        *,
        protocol: str,
        request_id: str | None = None,
        principal: str | None = None,
        caller: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> InferenceResult:
        """Guard the request, predict ``rows`` with ``model`` and apply its output policy.

        The guards see ``rows`` as sent; the model predicts them after the model's input
        restoration (``restore:``), and the sinks get them as sent, restored rows flagged.

        A deployment's model (from :meth:`model`) is routed by the deployment: primary, canary,
        A/B arm, with shadow copies.

        Args:
            caller: Whom query limits and probing are counted for (the token; default the principal).
            headers: The request's headers (a deployment's sticky key may be one).

        Raises:
            RateLimited: over the model's query limits, or probing detected.
            AtypicalInput: an atypical row under the ``reject`` policy.
            InvalidInput: the model refused the values.
        """
        key = (model.name, model.version)
        if key not in self._batchers and self.deployments is not None and self._routes(model.name):
            return await self.deployments.infer(
                model.name,
                rows,
                protocol=protocol,
                request_id=request_id,
                principal=principal,
                caller=caller,
                headers=headers,
            )
        started = time.perf_counter()
        flags: tuple[tuple[str, ...], ...] = ()
        predicted = rows
        guard = self._guards.get((model.name, model.version))
        if guard is not None:
            guard.admit(rows, caller or principal or "anonymous")
            flags = atypical_flags(guard, rows, self._metrics)
            predicted, restored = restored_rows(guard, rows, self._metrics)
            flags = merge_flags(flags, restored)
        tracing.record_child("validate", tracing.request_started(), tracing.mark())
        outputs = await self._batchers[(model.name, model.version)].predict(predicted)
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

    async def close(self) -> None:
        """Stop the deployments and the batchers."""
        if self.deployments is not None:
            await self.deployments.close()
        for batcher in self._batchers.values():
            await batcher.close()
        for sink in self._sinks:
            sink.close()
        self._executor.shutdown(wait=False)
