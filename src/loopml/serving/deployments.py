"""Deployments executed: each request routed by its deployment's stored state, followed live.

A :class:`DeploymentRuntime` serves named deployments (``/v2/models/{deployment}/infer`` and the
other protocols). The routing decisions are the domain's (:mod:`loopml.deploy.routing`); here
they are carried out:

* **Following the store.** Every ``poll_s`` the runtime re-reads each deployment and resolves its
  ``models:/`` URIs (aliases included). A new revision or an alias move builds a new routing
  table: models not loaded yet are loaded and verified beside the old ones (off the event loop),
  the table is switched in one step, and models no longer routed to are drained (closed once
  their in-flight requests are answered). No restart, no failed request.
* **Degraded, not down.** A model that fails to load or verify leaves the previous table
  serving; the deployment gets a ``degraded`` history event (and ``recovered`` once a later
  state loads).
* **Shadows** get copies through a bounded :class:`~loopml.serving.shadows.ShadowMirror`.
* **Observations.** Every request's route, status, latency, outputs and atypical flag feed the
  deployment's :class:`~loopml.deploy.collector.ObservationCollector`; at each analysis interval
  the feedback labels posted for the requests each route answered in the window are joined to
  them (the online-metric gate's outcomes, when the policy names a metric) and the runtime runs
  the gates and the rollout automaton
  (:meth:`~loopml.deploy.service.DeploymentService.analyze`), or stores the shadow reports when
  no canary is rolled out. With ``shared`` (what ``loopml serve`` builds), a rollout's analysis
  judges every replica's observations, decided by one replica at a time
  (:mod:`loopml.deploy.shared_analysis`); without it, replicas race for the compare-and-set.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from prometheus_client import Counter
from threadpoolctl import threadpool_limits

from loopml.deploy.collector import ObservationCollector
from loopml.deploy.outcomes import LabelLookup, feedback_labels, key_strings
from loopml.deploy.records import Deployment
from loopml.deploy.rollout import Phase
from loopml.deploy.routing import RouteChoice, choose_route, mirrored_shadows, route_rows
from loopml.deploy.service import DeploymentService
from loopml.deploy.shared_analysis import SharedAnalysis, analysis_due, shadow_window, window_of
from loopml.deploy.spec import DeploymentSpec, EnsembleMethod
from loopml.errors import LoopmlError, NotFound
from loopml.inference.atypical import AtypicalInput
from loopml.inference.ensemble import Combine, EnsembleSource, combine_members
from loopml.inference.inputs import ModelInput, take_rows
from loopml.inference.loading import ModelSource, load_served_model
from loopml.inference.model import ServedModel
from loopml.inference.outputs import SCORES
from loopml.registry import ModelRegistry
from loopml.registry.uris import is_model_uri
from loopml.serving import tracing
from loopml.serving.batching import Arrivals, MicroBatcher
from loopml.serving.errors import RateLimited
from loopml.serving.guards import (
    ModelGuards,
    QueryLimiter,
    RequestGuard,
    atypical_flags,
    merge_flags,
    restored_rows,
)
from loopml.serving.heap import freeze_loaded
from loopml.serving.metrics import ServingMetrics
from loopml.serving.results import InferenceResult, InferenceSink
from loopml.serving.row_split import reassemble_flags, reassemble_outputs
from loopml.serving.shadows import MirrorJob, ShadowMirror, output_values
from loopml.store.repositories import FeedbackRepository

__all__ = ["DeploymentRuntime"]

_log = logging.getLogger("loopml.serving")

Key = tuple[str, ...]


@dataclasses.dataclass(slots=True)
class _Served:
    """One routed target of one deployment: its model, batchers, guard and requests in flight."""

    key: Key
    model: ServedModel
    batcher: MicroBatcher
    guard: RequestGuard | None
    in_flight: int = 0

    def release(self) -> None:
        self.in_flight -= 1


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    """A deployment's stored state and what each of its targets resolves to now."""

    deployment: Deployment
    keys: Mapping[str, Key]

    @property
    def signature(self) -> tuple[object, ...]:
        return (self.deployment.revision, tuple(sorted(self.keys.items())))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _Table:
    """What answers a deployment's requests: target → served, and the models clients see."""

    plan: _Plan
    served: Mapping[str, _Served]
    answering: Mapping[str, ServedModel]

    @property
    def spec(self) -> DeploymentSpec:
        return self.plan.deployment.spec


def _route_targets(spec: DeploymentSpec) -> list[str]:
    found = [spec.primary]
    if spec.canary is not None:
        found.append(spec.canary.target)
    found += [s.target for s in spec.shadows]
    if spec.ab is not None:
        found += [a.target for a in spec.ab.arms]
    return list(dict.fromkeys(found))


@dataclasses.dataclass(frozen=True, slots=True)
class _Part:
    """The rows of a request one route answers: all of them (``positions`` None) or those at ``positions``."""

    choice: RouteChoice
    positions: np.ndarray | None = None


def _window_key(deployment: Deployment) -> tuple[object, ...]:
    rollout, canary = deployment.rollout, deployment.spec.canary
    progressing = rollout is not None and rollout.phase is Phase.PROGRESSING
    return (
        canary.target if canary else None,
        rollout.step_started_ms if rollout is not None and progressing else None,
    )


def _background_thread() -> None:
    """Set up the shadows' prediction thread: single-threaded native pools, lowest CPU priority.

    On a saturated CPU the scheduler then runs the routes first and shadow copies queue up (and
    are dropped, counted) instead of taking the routes' CPU time. Where a thread's priority cannot
    be lowered (not Linux), it stays as it is.
    """
    threadpool_limits(1)
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _counted(counter: Counter) -> Callable[..., None]:
    """Counts one event of ``counter`` by its labels, keeping each labelled child (one per copy answered)."""
    children = functools.cache(counter.labels)
    return lambda *labels: children(*labels).inc()


def _plain_class(value: object) -> float | str:
    """A class label as the outcomes hold it: a string, or a number as a float."""
    if isinstance(value, str):
        return value
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class DeploymentRuntime:
    """Serves deployments by their stored state (see the module docs).

    Args:
        names: The deployments to serve.
        service: Reads deployments, records health, runs the analyses.
        registry: Resolves and loads (verifies) the models.
        guards: Per deployment, the request guards of its routes (limits, atypical inputs, probing).
        limiter: Counts query limits.
        metrics: Where swaps and shadow traffic are counted.
        sinks: Told about every answered request (the prediction log).
        labels: Where the feedback labels posted for a deployment's requests are found (None: the
            online-metric gate gets no outcomes).
        shared: Shares the rollout observations with the other replicas and decides each analysis
            once for all of them (None: this replica judges what it answered).
        poll_s: Seconds between two reads of the store.
        drain_s: Longest wait for a retired model's requests before it is closed anyway.
        retry_s: Seconds before a state whose models failed to load is tried again.
        shadow_capacity: Shadow copies queued at most (then dropped, counted).
    """

    def __init__(
        self,
        names: Sequence[str],
        *,
        service: DeploymentService,
        registry: ModelRegistry,
        guards: Mapping[str, ModelGuards] | None = None,
        limiter: QueryLimiter | None = None,
        metrics: ServingMetrics | None = None,
        sinks: Sequence[InferenceSink] = (),
        labels: FeedbackRepository | None = None,
        shared: SharedAnalysis | None = None,
        poll_s: float = 2.0,
        drain_s: float = 30.0,
        retry_s: float = 10.0,
        shadow_capacity: int = 1_000,
    ) -> None:
        self.names = tuple(dict.fromkeys(names))
        self.arrivals = Arrivals()  # shared with the data plane's batchers (see DataPlane.arrivals)
        self._service = service
        self._registry = registry
        self._guards = dict(guards or {})
        self._limiter = limiter or QueryLimiter()
        self._metrics = metrics
        self._sinks = tuple(sinks)
        self._labels = labels
        self._shared = shared
        self._reported: dict[str, str] = {}
        self._poll_s, self._drain_s, self._retry_s = poll_s, drain_s, retry_s
        self._models: dict[Key, ServedModel] = {}
        self._tables: dict[str, _Table] = {}
        self._collectors: dict[str, tuple[tuple[object, ...], ObservationCollector]] = {}
        self._failed: dict[str, tuple[tuple[object, ...], float]] = {}
        self._degraded: set[str] = set()
        self._draining: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        # Routes predict on their own thread, shadows on another: a slow shadow never holds a route.
        self._executor = ThreadPoolExecutor(1, "route", initializer=threadpool_limits, initargs=(1,))
        self._shadow_executor = ThreadPoolExecutor(1, "shadow", initializer=_background_thread)
        self.mirror = ShadowMirror(
            executor=self._shadow_executor,
            capacity=shadow_capacity,
            on_drop=(lambda d, s: metrics.shadow_dropped.labels(d, s).inc()) if metrics else None,
            on_answer=_counted(metrics.shadow_requests) if metrics else None,
        )

    # -- what is served ------------------------------------------------------------------------

    def serves(self, name: str) -> bool:
        """Whether ``name`` is one of the deployments served here."""
        return name in self._tables

    def front(self, name: str) -> ServedModel:
        """The model a deployment presents (its primary, under the deployment's name): schema, outputs."""
        table = self._tables[name]
        return table.answering[table.spec.primary]

    def versions(self, name: str) -> list[str]:
        """The versions a deployment's routes answer with, primary first."""
        table = self._tables[name]
        return list(dict.fromkeys(table.answering[t].version for t in _route_targets(table.spec)))

    def deployment(self, name: str) -> Deployment:
        """The stored state the replica routes ``name`` by now."""
        return self._tables[name].plan.deployment

    def collector(self, name: str) -> ObservationCollector:
        """What ``name``'s routes were seen doing since its window started."""
        return self._collectors[name][1]

    # -- loading -------------------------------------------------------------------------------

    def _plan(self, name: str) -> _Plan:
        """Read ``name`` and resolve its targets (blocking: store and registry)."""
        deployment = self._service.get(name)
        spec = deployment.spec
        ensembles = {e.name: e for e in spec.ensembles}
        keys: dict[str, Key] = {}

        def key_of(target: str) -> Key:
            if target not in keys:
                if is_model_uri(target):
                    version = self._registry.resolve(target)
                    keys[target] = ("model", version.name, str(version.version))
                else:
                    e = ensembles[target]
                    members = tuple(f"{m.weight:g}*{'/'.join(key_of(m.target))}" for m in e.members)
                    keys[target] = ("ensemble", e.name, e.method.value, *members)
            return keys[target]

        for _, target in spec.targets():
            key_of(target)
        return _Plan(deployment=deployment, keys=keys)

    def _load(self, plan: _Plan) -> dict[Key, ServedModel]:
        """Every model of ``plan``, loading and verifying those not loaded yet (blocking)."""
        spec = plan.deployment.spec
        ensembles = {e.name: e for e in spec.ensembles}
        models: dict[Key, ServedModel] = {}

        def load(target: str) -> ServedModel:
            key = plan.keys[target]
            model = models.get(key) or self._models.get(key)
            if model is None:
                if key[0] == "model":
                    source = ModelSource(uri=f"models:/{key[1]}/{key[2]}")
                    model = load_served_model(source, registry=self._registry)
                else:
                    e = ensembles[target]
                    weighted = e.method is EnsembleMethod.WEIGHTED
                    source_e = EnsembleSource(
                        name=e.name,
                        members=tuple(m.target for m in e.members),
                        combine=Combine(e.method.value),
                        weights=tuple(m.weight for m in e.members) if weighted else (),
                    )
                    model = combine_members(source_e, [load(m.target) for m in e.members])
            models[key] = model
            return model

        for _, target in spec.targets():
            load(target)
        return models

    def load(self) -> None:
        """Read and load every deployment now (at startup, before serving).

        Raises:
            NotFound: a deployment does not exist.
            LoopmlError: a model cannot be resolved, verified or loaded (nothing is served).
        """
        for name in self.names:
            try:
                plan = self._plan(name)
            except NotFound as err:
                raise NotFound(
                    f"Cannot serve deployment {name!r}: {err} `loopml deploy create` makes one."
                ) from err
            self._install(plan, self._load(plan))

    def _guard(self, name: str, model: ServedModel) -> RequestGuard | None:
        """The guards of ``name``'s routes for ``model``.

        Raises:
            InvalidInput: a restoration policy ``model``'s training statistics cannot support.
        """
        guards = self._guards.get(name)
        if guards is None:
            return None
        return RequestGuard(dataclasses.replace(model, name=name), guards, self._limiter)

    def _served(self, name: str, key: Key, model: ServedModel, guard: RequestGuard | None) -> _Served:
        return _Served(
            key=key,
            model=model,
            batcher=MicroBatcher(
                model,
                executor=self._executor,
                observer=self._metrics.batch_observer(name) if self._metrics else None,
                keep_scores=True,
                arrivals=self.arrivals,
            ),
            guard=guard,
        )

    def _install(self, plan: _Plan, models: Mapping[Key, ServedModel]) -> None:
        """Switch ``plan``'s deployment to its new table in one step; drain what is no longer routed.

        Raises:
            InvalidInput: a new model cannot take the deployment's guards (its restoration policy);
                nothing has changed then.
        """
        name = plan.deployment.name
        old = self._tables.get(name)
        reuse = {s.key: s for s in old.served.values()} if old is not None else {}
        targets = [t for t in _route_targets(plan.deployment.spec) if plan.keys[t] not in reuse]
        guards = {
            t: self._guard(name, models[plan.keys[t]]) for t in targets
        }  # may refuse: before any change
        self._models.update(models)
        served: dict[str, _Served] = {}
        for target in _route_targets(plan.deployment.spec):
            key = plan.keys[target]
            served[target] = reuse.get(key) or self._served(name, key, models[key], guards[target])
        answering = {t: dataclasses.replace(s.model, name=name) for t, s in served.items()}
        self._tables[name] = _Table(plan=plan, served=served, answering=answering)
        window = _window_key(plan.deployment)
        if name not in self._collectors or self._collectors[name][0] != window:
            start = window[1] if isinstance(window[1], int) else _now_ms()
            self._collectors[name] = (window, ObservationCollector(start_ms=start))
        if old is not None:
            live = {id(s) for s in served.values()}
            for retired in old.served.values():
                if id(retired) not in live:
                    self._retire(retired)
        in_use = {k for t in self._tables.values() for k in t.plan.keys.values()}
        for key in [k for k in self._models if k not in in_use]:
            del self._models[key]

    def _retire(self, served: _Served) -> None:
        try:
            task = asyncio.get_running_loop().create_task(self._drain(served))
        except RuntimeError:  # no loop (startup): nothing is in flight
            return
        self._draining.add(task)
        task.add_done_callback(self._draining.discard)

    async def _drain(self, served: _Served) -> None:
        deadline = time.monotonic() + self._drain_s
        while served.in_flight > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await served.batcher.close()

    # -- following the store -------------------------------------------------------------------

    async def refresh(self, name: str) -> bool:
        """Re-read ``name`` and switch to its new state if it changed; True when the table changed.

        A state whose models fail to load leaves the old table serving and marks the deployment
        degraded (once per state); it is tried again after ``retry_s``.
        """
        plan = await asyncio.to_thread(self._plan, name)
        current = self._tables.get(name)
        if current is not None and current.plan.signature == plan.signature:
            return False
        failed = self._failed.get(name)
        if failed is not None and failed[0] == plan.signature and time.monotonic() < failed[1]:
            return False
        try:
            models = await asyncio.to_thread(self._load, plan)
            self._install(plan, models)
            freeze_loaded()  # the new models, like those loaded at start-up
        except Exception as err:  # any failure to load (or to guard) leaves the old models serving
            self._failed[name] = (plan.signature, time.monotonic() + self._retry_s)
            self._count_swap(name, "failed")
            if failed is None or failed[0] != plan.signature:
                await self._mark(name, plan, degraded=True, reason=f"a model did not load: {err}")
            return False
        self._failed.pop(name, None)
        self._count_swap(name, "ok")
        if name in self._degraded:
            await self._mark(name, plan, degraded=False, reason="every model of the deployment loaded")
        return True

    async def _mark(self, name: str, plan: _Plan, *, degraded: bool, reason: str) -> None:
        models = sorted({f"{k[1]}/{k[2]}" for k in plan.keys.values() if k[0] == "model"})
        (_log.error if degraded else _log.info)("deployment %s: %s", name, reason)
        (self._degraded.add if degraded else self._degraded.discard)(name)
        try:
            await asyncio.to_thread(
                self._service.mark_health, name, degraded=degraded, reason=reason[:2000], models=models
            )
        except LoopmlError:
            _log.exception("could not record the health of deployment %s", name)

    def _count_swap(self, name: str, result: str) -> None:
        if self._metrics is not None:
            self._metrics.deployment_swaps.labels(name, result).inc()

    async def drive(self, name: str) -> bool:
        """Run the due analysis of ``name`` (rollout gates, or shadow reports); True when one ran."""
        table = self._tables[name]
        deployment, now = table.plan.deployment, _now_ms()
        collector = self.collector(name)
        rollout, interval_ms = deployment.rollout, deployment.policy.interval_s * 1000
        try:
            if rollout is not None and rollout.phase is Phase.PROGRESSING and deployment.spec.canary:
                if self._shared is not None:
                    return await self._drive_shared(name, deployment, collector, now)
                last = deployment.last_analysis.window.end_ms if deployment.last_analysis else 0
                if now - max(rollout.step_started_ms, last) < interval_ms:
                    return False
                labels, key_labels = self._gate_labels(name, deployment)
                observations = await asyncio.to_thread(
                    collector.observations, now_ms=now, labels=labels, key_labels=key_labels
                )
                await asyncio.to_thread(self._service.analyze, name, observations, actor="serving")
            elif deployment.spec.shadows:
                if self._shared is not None:
                    return await self._drive_shared_shadows(name, deployment, collector, now)
                if now - collector.start_ms < interval_ms:
                    return False
                observations = collector.observations(now_ms=now)
                self._collectors[name] = (_window_key(deployment), ObservationCollector(start_ms=now))
                await asyncio.to_thread(self._service.report_shadows, name, observations, actor="serving")
            else:
                return False
        except LoopmlError as err:  # another replica analysed first, or the rollout just ended
            _log.info("deployment %s: analysis not stored: %s", name, err)
        await self.refresh(name)
        return True

    def _gate_labels(
        self, name: str, deployment: Deployment
    ) -> tuple[LabelLookup | None, LabelLookup | None]:
        """The feedback labels the online-metric gate joins (by request id, and by the policy's key
        field when it names one); ``(None, None)`` when no gate reads labels."""
        gates = deployment.policy.gates
        if self._labels is None or gates.metric is None:
            return None, None
        labels = feedback_labels(self._labels, name)
        if gates.label_key_field is None:
            return labels, None
        return labels, feedback_labels(self._labels, name, key_field=gates.label_key_field)

    async def _drive_shared(
        self, name: str, deployment: Deployment, collector: ObservationCollector, now: int
    ) -> bool:
        """Publish this replica's observations; when the analysis is due, run it for every replica
        if this one takes the lease (see :mod:`loopml.deploy.shared_analysis`)."""
        shared = self._shared
        window = window_of(deployment)
        if shared is None or window is None:
            return False
        if not analysis_due(deployment, now_ms=now):
            every = deployment.policy.interval_s
            await asyncio.to_thread(shared.publish, name, window, collector, interval_s=every)
            return False
        labels, key_labels = self._gate_labels(name, deployment)
        try:
            await asyncio.to_thread(
                shared.analyze, name, window, collector, now_ms=now, labels=labels, key_labels=key_labels
            )
        except LoopmlError as err:  # the rollout ended or changed meanwhile
            _log.info("deployment %s: analysis not stored: %s", name, err)
        await self.refresh(name)
        return True

    async def _drive_shared_shadows(
        self, name: str, deployment: Deployment, collector: ObservationCollector, now: int
    ) -> bool:
        """Publish this replica's shadow observations of the current window (finally once it
        ended, then start the next one); report the previous window for every replica once the
        others had time to publish theirs, if this replica takes the lease."""
        shared, interval_s = self._shared, deployment.policy.interval_s
        if shared is None:
            return False
        window, _, end = shadow_window(collector.start_ms, interval_s=interval_s)
        if now < end:
            await asyncio.to_thread(shared.publish, name, window, collector, interval_s=interval_s)
        else:
            await asyncio.to_thread(shared.publish, name, window, collector, force=True)
            start = shadow_window(now, interval_s=interval_s)[1]
            self._collectors[name] = (_window_key(deployment), ObservationCollector(start_ms=start))
        previous, _, ended = shadow_window(now - round(interval_s * 1000), interval_s=interval_s)
        if self._reported.get(name) == previous or now - ended < 2 * self._poll_s * 1000:
            return False
        self._reported[name] = previous
        try:
            reported = await asyncio.to_thread(shared.report_shadows, name, previous, end_ms=ended)
        except LoopmlError as err:
            _log.info("deployment %s: shadow report not stored: %s", name, err)
            return False
        if reported:
            await self.refresh(name)
        return reported

    async def start(self) -> None:
        """Start following the store (call from the serving event loop)."""
        if self._poller is None and self.names:
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            for name in self.names:
                try:
                    await self.refresh(name)
                    await self.drive(name)
                except asyncio.CancelledError:
                    raise
                except Exception:  # the store being away must not stop the replica following it
                    _log.exception("could not follow deployment %s", name)

    # -- serving -------------------------------------------------------------------------------

    def _routes_of(
        self, table: _Table, rows: ModelInput, headers: Mapping[str, str] | None, request_id: str
    ) -> list[_Part]:
        """The route of each row: one route for the whole request, or one per A/B arm its rows fall on.

        An A/B key from a header holds for the whole request; one from an input field is read
        row by row, so a batch of several users' rows gives each row its user's arm.
        """
        spec = table.spec
        ab = spec.ab
        if ab is None:
            return [_Part(choose_route(spec, key=None, request_id=request_id))]
        header = headers.get(ab.key) if headers is not None else None
        schema = table.answering[spec.primary].schema
        if header or ab.key not in schema.names or rows.n_rows == 0:
            return [_Part(choose_route(spec, key=header or None, request_id=request_id))]
        keys = rows.column_values(schema)[ab.key]
        if rows.n_rows == 1:
            return [_Part(choose_route(spec, key=str(keys[0]), request_id=request_id))]
        parts = route_rows(spec, keys, request_id=request_id)
        if len(parts) == 1:
            return [_Part(parts[0][0])]
        return [_Part(choice, positions) for choice, positions in parts]

    def _label_keys(self, table: _Table, rows: ModelInput, n: int) -> tuple[str, ...]:
        """The first ``n`` rows' values of the policy's label key feature (empty: none named, or
        not an input of the model)."""
        field = table.plan.deployment.policy.gates.label_key_field
        if field is None or self._labels is None or n == 0:
            return ()
        schema = table.answering[table.spec.primary].schema
        if field not in schema.names:
            return ()
        return key_strings(rows.column_values(schema)[field][:n])

    async def _answer(
        self,
        name: str,
        table: _Table,
        part: _Part,
        rows: ModelInput,
        *,
        caller: str,
        request_id: str,
        admit: bool = True,
    ) -> tuple[dict[str, np.ndarray], tuple[tuple[str, ...], ...], float, list[float | str]]:
        """Answer ``rows`` on ``part``'s route: guards (``admit``: query limits too), prediction,
        observation; the outputs, flags, seconds and observed output values."""
        choice = part.choice
        served = table.served[choice.target]
        collector = self.collector(name)
        served.in_flight += 1
        started = time.perf_counter()
        flags: tuple[tuple[str, ...], ...] = ()
        atypical: tuple[tuple[str, ...], ...] = ()
        predicted = rows
        labels = {
            "loopml.deployment": name,
            "loopml.route": choice.route,
            "loopml.version": table.answering[choice.target].version,
        }
        try:
            with tracing.labelled(**labels):
                if served.guard is not None:
                    if admit:
                        served.guard.admit(rows, caller)
                    atypical = atypical_flags(served.guard, rows, self._metrics)
                    predicted, restored = restored_rows(served.guard, rows, self._metrics)
                    flags = merge_flags(atypical, restored)
                tracing.record_child("validate", tracing.request_started(), tracing.mark(), rows=rows.n_rows)
                outputs = await served.batcher.predict(predicted)
        except (RateLimited, AtypicalInput):  # the caller's refusals, not the route's failures
            raise
        except Exception:
            collector.record(choice.route, error=True, latency_ms=(time.perf_counter() - started) * 1000)
            raise
        finally:
            served.release()
        latency_s = time.perf_counter() - started
        scores = outputs.pop(SCORES, None)  # internal: for the AUC gate, never in the answer
        values = output_values(outputs)
        classes = served.model.classes
        collector.record(
            choice.route,
            error=False,
            latency_ms=latency_s * 1000,
            predictions=values,
            atypical=bool(atypical),
            request_id=request_id,
            rows=part.positions.tolist() if part.positions is not None else (),
            scores=scores[: len(values)].tolist() if scores is not None else (),
            positive=_plain_class(classes[1]) if classes is not None and len(classes) == 2 else 1.0,
            keys=self._label_keys(table, rows, len(values)),
        )
        return outputs, flags, latency_s, values

    async def infer(
        self,
        name: str,
        rows: ModelInput,
        *,
        protocol: str,
        request_id: str | None = None,
        principal: str | None = None,
        caller: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> InferenceResult:
        """Route one request of deployment ``name``, answer it, mirror it to the shadows, observe it.

        A request whose rows fall on several A/B arms (an input-field key with different values)
        is split: each arm answers its rows, and the outputs are put back in the request's order;
        the answer's model version lists the arms' versions (``"1,2"``, each in
        :attr:`~loopml.serving.results.InferenceResult.versions` for the request metrics), and the
        log keeps each row under the version that answered it.

        Raises:
            RateLimited, AtypicalInput: the route's guards refused it.
            InvalidInput: the answering model refused the values, or the arms of a split request
                answer with outputs that cannot be put together.
        """
        table = self._tables[name]
        rid = request_id or uuid.uuid4().hex
        who = caller or principal or "anonymous"
        routed = tracing.mark()
        parts = self._routes_of(table, rows, headers, rid)
        if routed:
            self._trace_route(name, table, parts, routed)
        if len(parts) == 1:
            outputs, flags, latency_s, values = await self._answer(
                name, table, parts[0], rows, caller=who, request_id=rid
            )
            model = table.answering[parts[0].choice.target]
            result = InferenceResult(
                request_id=rid, model=model, outputs=outputs, latency_s=latency_s, flags=flags
            )
            logged = [(result, rows)]
        else:
            result, logged = await self._answer_split(name, table, parts, rows, caller=who, request_id=rid)
            values = output_values(result.outputs)
        shadows = mirrored_shadows(table.spec, request_id=rid)
        if shadows:
            collector = self.collector(name)
            for shadow in shadows:
                mirrored = tracing.mark()
                served = table.served[shadow.target]
                queued = self._mirror(name, shadow.name, served, rows, values, collector)
                tracing.record_child(
                    "shadow",
                    mirrored,
                    **{
                        "loopml.deployment": name,
                        "loopml.shadow": shadow.name,
                        "loopml.version": served.model.version,
                        "queued": queued,
                    },
                )
        logged_at = tracing.mark()
        for sink in self._sinks:
            for part_result, part_rows in logged:
                sink.record(part_result, part_rows, protocol=protocol, principal=principal)
        tracing.record_child("log", logged_at, **{"loopml.deployment": name})
        return result

    @staticmethod
    def _trace_route(name: str, table: _Table, parts: Sequence[_Part], started_ns: int) -> None:
        """The ``route`` span of a traced request, and its route(s) on the request span."""
        routes = ",".join(dict.fromkeys(p.choice.route for p in parts))
        versions = ",".join(dict.fromkeys(table.answering[p.choice.target].version for p in parts))
        tracing.record_child(
            "route",
            started_ns,
            **{
                "loopml.deployment": name,
                "loopml.route": routes,
                "loopml.version": versions,
                "sticky": all(p.choice.sticky for p in parts),
                "parts": len(parts),
            },
        )
        tracing.annotate(**{"loopml.deployment": name, "loopml.route": routes})

    async def _answer_split(
        self,
        name: str,
        table: _Table,
        parts: Sequence[_Part],
        rows: ModelInput,
        *,
        caller: str,
        request_id: str,
    ) -> tuple[InferenceResult, list[tuple[InferenceResult, ModelInput]]]:
        """Each part's rows answered by its arm, together; the whole answer and each part's (to log)."""
        guard = table.served[parts[0].choice.target].guard
        if guard is not None:  # one request against the query limits, however many arms answer it
            guard.admit(rows, caller)
        subsets = [take_rows(rows, p.positions) for p in parts if p.positions is not None]
        answers = await asyncio.gather(
            *(
                self._answer(name, table, p, sub, caller=caller, request_id=request_id, admit=False)
                for p, sub in zip(parts, subsets, strict=True)
            ),
            return_exceptions=True,
        )
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        done = [a for a in answers if not isinstance(a, BaseException)]
        models = [table.answering[p.choice.target] for p in parts]
        positions = [p.positions for p in parts if p.positions is not None]
        outputs = reassemble_outputs([o for o, *_ in done], positions, models)
        flags = reassemble_flags([f for _, f, *_ in done], positions)
        versions = tuple(dict.fromkeys(m.version for m in models))
        whole = InferenceResult(
            request_id=request_id,
            model=dataclasses.replace(models[0], version=",".join(versions)),
            outputs=outputs,
            latency_s=max(latency for _, _, latency, _ in done),
            flags=flags,
            arm_versions=versions,
        )
        logged = [
            (
                InferenceResult(
                    request_id=request_id,
                    model=m,
                    outputs=o,
                    latency_s=latency,
                    flags=f,
                    positions=p.positions,
                ),
                sub,
            )
            for p, m, sub, (o, f, latency, _) in zip(parts, models, subsets, done, strict=True)
        ]
        return whole, logged

    def _mirror(
        self,
        name: str,
        shadow: str,
        served: _Served,
        rows: ModelInput,
        primary: list[float | str],
        collector: ObservationCollector,
    ) -> bool:
        """Hand a copy of the request to the shadow's mirror; False when the mirror dropped it."""
        if served.guard is not None:  # the shadow sees what the primary model sees (not counted twice)
            rows = served.guard.restore(rows)[0]
        served.in_flight += 1
        job = MirrorJob(
            deployment=name,
            shadow=shadow,
            model=served.model,
            rows=rows,
            primary=primary,
            collector=collector,
            done=served.release,
        )
        return self.mirror.offer(job)

    async def close(self) -> None:
        """Stop following the store, stop the shadows and every batcher."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        await self.mirror.close()
        for task in list(self._draining):
            task.cancel()
        for table in self._tables.values():
            for served in table.served.values():
                await served.batcher.close()
        self._executor.shutdown(wait=False)
        self._shadow_executor.shutdown(wait=False)
