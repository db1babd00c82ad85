"""``MonitorService``: compute the due windows of a deployment's prediction log, list them, report status.

:meth:`MonitorService.run` is cron-friendly: it computes every window that has ended (and
settled) but is not stored yet, and recomputes stored windows still inside the label horizon
when labels changed since, or when their log files did (a late flush, a partition restored or
lost). Windows are computed oldest first, each
compared with the stored window before it (drift) and with the first stored window (the fixed
baseline). A computation depends only on the log, the stored labels and those references, so a
re-run gives identical figures, and labels that came late, twice or out of order give the same
windows as computing everything once at the end.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from loopml.data.statistics import DatasetStatistics
from loopml.errors import InvalidInput, NotFound
from loopml.monitor.labels import join_labels
from loopml.monitor.log_versions import LogRegistration, LogVersion, PredictionLogVersions
from loopml.monitor.log_window import log_fingerprint, log_hours, read_window
from loopml.monitor.measure import PartitionReducer, References, WindowStatistics, measure
from loopml.monitor.predictions import partition_path
from loopml.monitor.records import WindowRecord
from loopml.monitor.targets import Target, resolve_target
from loopml.monitor.windows import MonitorConfig, WindowSpec
from loopml.store.entities import StoredWindow
from loopml.store.repositories import DeploymentRepository, MonitorStore

__all__ = [
    "MonitorService",
    "MonitorStatus",
    "MonitorView",
    "TrainingStatistics",
    "WindowSummary",
    "main_kind",
]

#: The training statistics of a model version (None when it carries none).
TrainingStatistics = Callable[[str, str], DatasetStatistics | None]
_MAX_ANOMALIES = 50


def _ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


def _time(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


_HOUR = dt.timedelta(hours=1)


def _refs(registered: dict[dt.datetime, LogVersion], start: dt.datetime, end: dt.datetime) -> list[str]:
    """The registered log versions of the hours a window ``[start, end)`` touches, oldest first."""
    return [v.ref for h, v in sorted(registered.items()) if start - _HOUR < h < end]


def _main_version(table: pa.Table) -> str:
    counts = pc.value_counts(table["version"]).to_pylist()
    return str(max(counts, key=lambda c: (c["counts"], c["values"]))["values"])


def to_record(stored: StoredWindow) -> WindowRecord:
    """The domain record of a stored window."""
    details = stored.details
    return WindowRecord(
        deployment=stored.deployment,
        model=stored.model,
        version=stored.version,
        start=_time(stored.start),
        end=_time(stored.end),
        complete=stored.complete,
        rows=stored.rows,
        metrics=dict(stored.metrics),
        window=stored.window,
        partitions=tuple(details.get("partitions", ())),
        problems=tuple(details.get("problems", ())),
        versions=dict(details.get("versions", {})),
        log_versions=tuple(details.get("log_versions", ())),
        lineage=details.get("lineage"),
        computed_at=_time(stored.computed_at) if stored.computed_at else None,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorStatus:
    """Where monitoring of one deployment stands.

    Attributes:
        labels: Feedback labels stored for the model.
        labels_joined: Labels that met a logged prediction in a computed window.
        incomplete: Windows with a partition that could not be read, and why (newest first, 10 at most).
    """

    deployment: str
    model: str
    windows: int
    latest: WindowRecord | None
    labels: int
    labels_joined: int
    incomplete: tuple[WindowRecord, ...] = ()
    window_kinds: tuple[str, ...] = field(default_factory=tuple)

    @property
    def labels_pending(self) -> int:
        """Labels kept for predictions not (yet) in a computed window: late, or for unknown ids."""
        return max(0, self.labels - self.labels_joined)

    def to_document(self) -> dict[str, Any]:
        """The status as JSON-ready values (CLI ``--json``, API)."""
        return {
            "deployment": self.deployment,
            "model": self.model,
            "windows": self.windows,
            "window_kinds": list(self.window_kinds),
            "labels": self.labels,
            "labels_joined": self.labels_joined,
            "labels_pending": self.labels_pending,
            "latest": None if self.latest is None else self.latest.to_document(),
            "incomplete": [r.to_document() for r in self.incomplete],
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> MonitorStatus:
        """The status :meth:`to_document` wrote (as the monitoring API answers it).

        Raises:
            InvalidInput: a missing or malformed field, named.
        """
        try:
            latest = doc.get("latest")
            return cls(
                deployment=str(doc["deployment"]),
                model=str(doc["model"]),
                windows=int(doc["windows"]),
                window_kinds=tuple(str(k) for k in doc.get("window_kinds", ())),
                labels=int(doc["labels"]),
                labels_joined=int(doc["labels_joined"]),
                latest=None if latest is None else WindowRecord.from_document(latest),
                incomplete=tuple(WindowRecord.from_document(r) for r in doc.get("incomplete", ())),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidInput(f"Not a monitoring status document ({type(err).__name__}: {err}).") from err


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorView:
    """What a deployment's monitoring page shows: its status and the windows of one kind.

    Attributes:
        status: Where monitoring stands (every kind of window counted).
        kind: The kind of the windows shown (None when no window was computed yet).
        records: The windows of that kind, oldest first.
    """

    status: MonitorStatus
    kind: str | None
    records: tuple[WindowRecord, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowSummary:
    """How many windows a deployment has, and the latest of its main kind (as :class:`MonitorStatus`)."""

    windows: int
    latest: WindowRecord | None


def main_kind(counts: Mapping[str, int]) -> str:
    """The window kind with most windows (the later name on a tie): the one status and pages show."""
    return max(counts, key=lambda kind: (counts[kind], kind))


class MonitorService:
    """Monitoring windows of prediction logs, over one metadata store.

    Args:
        store: Holds feedback labels and the computed windows.
        log_root: The prediction log (``<home>/predictions`` for ``loopml serve``).
        deployments: Deployments, to monitor a deployment by name (its primary model's log).
        training_statistics: The training statistics of a model version, for skew.
        log_versions: Registers closed hours of the log as dataset versions and links windows to
            them (None: windows name no log version).
    """

    def __init__(
        self,
        store: MonitorStore,
        *,
        log_root: Path | str,
        deployments: DeploymentRepository | None = None,
        training_statistics: TrainingStatistics | None = None,
        log_versions: PredictionLogVersions | None = None,
    ) -> None:
        self._store = store
        self._log_versions = log_versions
        self._root = Path(log_root)
        self._deployments = deployments
        self._training = training_statistics
        self._training_cache: dict[tuple[str, str], DatasetStatistics | None] = {}

    @property
    def log_root(self) -> Path:
        return self._root

    def target(self, name: str, *, is_model: bool = False) -> Target:
        """The deployment (or model) ``name`` and the model whose log it reads."""
        return resolve_target(name, self._deployments, is_model=is_model)

    def targets(self) -> list[Target]:
        """Everything monitorable: each deployment, and each logged model no deployment serves."""
        found = []
        for stored in self._deployments.list() if self._deployments is not None else []:
            try:
                found.append(self.target(stored.name))
            except InvalidInput:
                continue  # a primary that is not a registry URI: monitored by model name below
        covered = {t.model for t in found}
        models = sorted(p.name[6:] for p in self._root.glob("model=*")) if self._root.is_dir() else []
        return found + [Target(deployment=m, model=m) for m in models if m not in covered]

    # --- computing ---

    def register_log(
        self, target: Target, config: MonitorConfig | None = None, *, now: dt.datetime | None = None
    ) -> LogRegistration:
        """Register the hours of ``target``'s log closed at ``now`` (ended ``config.settle`` ago) as
        versions of the dataset ``predictions.<name>`` (see :mod:`loopml.monitor.log_versions`);
        registered hours are checked for late files within ``config.label_horizon``."""
        if self._log_versions is None:
            return LogRegistration()
        config = config or MonitorConfig()
        until = (now or dt.datetime.now(dt.UTC)) - config.settle
        return self._log_versions.register_closed(
            self._root, target.log, target.model, until=until, horizon=config.label_horizon
        )

    def _registered(self, target: Target) -> dict[dt.datetime, LogVersion]:
        return self._log_versions.registered(target.log) if self._log_versions is not None else {}

    def run(
        self, target: Target, config: MonitorConfig | None = None, *, now: dt.datetime | None = None
    ) -> list[WindowRecord]:
        """Compute the windows of ``target`` that are due at ``now`` (default: now), oldest first.

        Returns:
            The windows computed (new or updated).
        """
        config = config or MonitorConfig()
        now = now or dt.datetime.now(dt.UTC)
        stored = {
            w.start: w for w in self._store.monitor_windows.list(target.deployment, window=config.window.name)
        }
        _, labels_at = self._store.feedback.state(target.log)
        registered = self._registered(target)
        computed = []
        for start, end in self._candidates(target, config, stored, now):
            old = stored.get(_ms(start))
            if old is not None:
                fresh = (
                    old.details.get("labels_at") == labels_at
                    and old.details.get("log") == log_fingerprint(self._root, target.log, start, end)
                    and old.details.get("log_versions", []) == _refs(registered, start, end)
                )
                if fresh or end < now - config.label_horizon:
                    continue
            computed.append(
                self.compute(target, config, start=start, end=end, labels_at=labels_at, registered=registered)
            )
        return computed

    def _candidates(
        self, target: Target, config: MonitorConfig, stored: dict[int, StoredWindow], now: dt.datetime
    ) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        ready = now - config.settle
        spec = config.window
        if not spec.is_count:
            bounds = sorted({spec.bounds(h) for h in log_hours(self._root, target.log)})
            yield from ((s, e) for s, e in bounds if e <= ready)
            return
        yield from sorted((_time(w.start), _time(w.end)) for w in stored.values())
        after = max((_time(w.end) for w in stored.values()), default=None)
        yield from (b for b in self._count_bounds(target.log, spec, after) if b[1] <= ready)

    def _count_bounds(
        self, model: str, spec: WindowSpec, after: dt.datetime | None
    ) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Windows of ``spec.requests`` requests each, starting at ``after`` (or the log's start)."""
        assert spec.requests is not None
        starts: list[tuple[dt.datetime, str]] = []
        for hour in log_hours(self._root, model):
            if after is not None and hour + dt.timedelta(hours=1) <= after:
                continue
            data = read_window(
                self._root,
                model,
                max(hour, after or hour),
                hour + dt.timedelta(hours=1),
                columns=["request_id", "row", "time"],
            )
            for part in data.parts:
                first = part.filter(pc.equal(part["row"], 0))
                starts.extend(zip(first["time"].to_pylist(), first["request_id"].to_pylist(), strict=True))
        starts.sort()
        n = spec.requests
        for k in range(0, len(starts) - n, n):
            yield starts[k][0], starts[k + n][0]

    def compute(
        self,
        target: Target,
        config: MonitorConfig,
        *,
        start: dt.datetime,
        end: dt.datetime,
        labels_at: int | None = None,
        registered: dict[dt.datetime, LogVersion] | None = None,
    ) -> WindowRecord:
        """(Re)compute and store one window ``[start, end)`` of ``target``.

        Args:
            target: What is monitored.
            config: The window kind, slices and label settings.
            start: First instant of the window (UTC).
            end: End of the window (exclusive).
            labels_at: The feedback state the window reflects (default: the store's now).
            registered: The registered log versions of ``target`` (default: looked up).
        """
        windows = self._store.monitor_windows
        kind = config.window.name
        if labels_at is None:
            _, labels_at = self._store.feedback.state(target.log)
        old = windows.find(target.deployment, kind, _ms(start))
        fingerprint = log_fingerprint(self._root, target.log, start, end)
        keep = [c for c in (*config.slices, config.key_field) if c]
        reducer = PartitionReducer(keep=keep, slices=config.slices, max_slices=config.max_slices)
        data = read_window(
            self._root,
            target.log,
            start,
            end,
            expected=tuple(old.details.get("partitions", ())) if old else (),
            consume=reducer,
        )
        table = data.table()
        joined = join_labels(table, self._store.feedback, target.log, key_field=config.key_field)
        references = self._references(target, kind, start)
        if self._training is not None and table.num_rows:
            version = _main_version(table)
            references = References(
                previous=references.previous,
                baseline=references.baseline,
                training=self._training_statistics(target.model, version),
            )
        result = measure(
            table,
            reducer.result(),
            joined,
            references,
            max_slices=config.max_slices,
            slice_columns=config.slices,
            slice_inputs=reducer.slice_results(),
        )
        version = result.version
        registered = self._registered(target) if registered is None else registered
        refs = _refs(registered, start, end)
        log_versions = [v for v in registered.values() if v.ref in refs]
        lineage = old.details.get("lineage") if old and old.details.get("log_versions") == refs else None
        if lineage is None and self._log_versions is not None:
            lineage = self._log_versions.link_window(
                log_versions, deployment=target.deployment, window=kind, start=start, end=end
            )
        stored = StoredWindow(
            deployment=target.deployment,
            window=kind,
            start=_ms(start),
            end=_ms(end),
            model=target.model,
            version=version,
            complete=data.complete,
            rows=data.rows,
            metrics=result.metrics,
            details={
                "partitions": list(data.partitions),
                "problems": list(data.problems),
                "versions": dict(result.versions),
                "anomalies": list(result.anomalies[:_MAX_ANOMALIES]),
                "labels_used": result.labels_used,
                "labels_at": labels_at,
                "log": fingerprint,
                "log_versions": refs,
                "lineage": lineage,
            },
            statistics=result.statistics.to_json(),
        )
        windows.put(stored)
        found = windows.find(target.deployment, kind, _ms(start))
        assert found is not None
        return to_record(found)

    def _references(self, target: Target, kind: str, start: dt.datetime) -> References:
        windows = self._store.monitor_windows
        before = windows.list(target.deployment, window=kind, until=_ms(start))
        if not before:
            return References()
        previous = windows.find(target.deployment, kind, before[-1].start)
        baseline = windows.find(target.deployment, kind, before[0].start)
        return References(
            previous=WindowStatistics.from_json(previous.statistics)
            if previous and previous.statistics
            else None,
            baseline=WindowStatistics.from_json(baseline.statistics)
            if baseline and baseline.statistics
            else None,
        )

    def _training_statistics(self, model: str, version: str) -> DatasetStatistics | None:
        key = (model, version)
        if key not in self._training_cache and self._training is not None:
            self._training_cache[key] = self._training(model, version)
        return self._training_cache.get(key)

    # --- reading ---

    def windows(
        self,
        target: Target,
        *,
        window: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[WindowRecord]:
        """The stored windows of ``target``, oldest first."""
        stored = self._store.monitor_windows.list(
            target.deployment,
            window=window,
            since=None if since is None else _ms(since),
            until=None if until is None else _ms(until),
        )
        return [to_record(w) for w in stored]

    def summaries(self) -> dict[str, WindowSummary]:
        """Every deployment with stored windows: how many, and the latest of its main kind.

        Two queries whatever the number of deployments and windows (an overview of every
        deployment would otherwise read each one's windows in full, as :meth:`status` does).
        """
        counts = self._store.monitor_windows.counts()
        latest = self._store.monitor_windows.latest({d: main_kind(c) for d, c in counts.items()})
        return {
            d: WindowSummary(windows=sum(c.values()), latest=to_record(latest[d]) if d in latest else None)
            for d, c in counts.items()
        }

    def status(self, target: Target) -> MonitorStatus:
        """How many windows, the latest, the incomplete ones, and the labels joined and pending.

        Raises:
            NotFound: nothing was ever logged or computed for ``target``.
        """
        return self._status(target, self._store.monitor_windows.list(target.deployment))[0]

    def view(self, target: Target, *, window: str | None = None) -> MonitorView:
        """Where monitoring stands (:meth:`status`) and the windows of one kind, from one read of them.

        Args:
            target: The deployment (or model).
            window: The kind wanted (``hour``, ``day``, ``requests:N``); when ``target`` has no
                window of that kind (or None), the kind of the latest window, the main kind.

        Raises:
            NotFound: nothing was ever logged or computed for ``target``.
        """
        status, records = self._status(target, self._store.monitor_windows.list(target.deployment))
        kind = window if window in status.window_kinds else (status.latest.window if status.latest else None)
        return MonitorView(status=status, kind=kind, records=tuple(r for r in records if r.window == kind))

    def _status(self, target: Target, stored: list[StoredWindow]) -> tuple[MonitorStatus, list[WindowRecord]]:
        """The status of ``target`` from its stored windows (every kind), and those windows as records."""
        labels, _ = self._store.feedback.state(target.log)
        if not stored and not partition_path(self._root, target.log, dt.datetime.now(dt.UTC)).parent.is_dir():
            raise NotFound(
                f"Nothing is monitored for {target.deployment!r}: no computed window and no prediction "
                f"log of {target.log!r} under {self._root}. Serve it with `loopml serve`, then run "
                "`loopml monitor run`."
            )
        records = [to_record(w) for w in stored]
        counts = collections.Counter(r.window for r in records)
        kinds = tuple(sorted(counts))
        kind = main_kind(counts) if kinds else ""
        main = [r for r in records if r.window == kind]
        joined = sum(int(w.details.get("labels_used", 0)) for w in stored if w.window == kind)
        latest = max(main, key=lambda r: r.start) if main else None
        incomplete = tuple(
            sorted((r for r in records if not r.complete), key=lambda r: r.start, reverse=True)[:10]
        )
        status = MonitorStatus(
            deployment=target.deployment,
            model=target.model,
            windows=len(records),
            latest=latest,
            labels=labels,
            labels_joined=joined,
            incomplete=incomplete,
            window_kinds=kinds,
        )
        return status, records
