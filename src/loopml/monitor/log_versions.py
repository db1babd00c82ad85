"""The prediction log as dataset versions: each closed hour registered once, with lineage to the model
versions that answered in it, and monitoring windows linked to the versions they read.

The log of a name ``loopml serve`` answers as (a deployment, or a model served without one) is the
dataset ``predictions.<name>``; each registered version holds one hour partition
(``model=<name>/hour=<h>``): its Parquet files, hashed where they lie (by reference: the writer
never changes a file once written, so nothing is copied), with the properties ``hour``,
``partition``, ``log_fingerprint`` (names and sizes of its files), ``versions`` (rows per version
as logged) and ``model_versions`` (rows per registered model version, ``NAME/VERSION``). The
version is recorded as the output of a ``ServePredictions`` execution whose inputs are the
``Model`` artifacts of the registered versions that answered rows in that hour, so
``loopml lineage MODEL_ARTIFACT --direction downstream`` walks model version → log version → window.

Which registered versions answered is read from the log's ``model_versions`` column (see
:mod:`loopml.monitor.predictions`): a canary or A/B arm that is a version of another registered
model links to that model's version, an ensemble to each of its members. Files written before
that column existed fall back to matching the logged version number against the registered model
the log is known by (a deployment's primary): right for the primary and for routes of the same
model, wrong for a canary or arm of another model, or an ensemble, in those old files only.

An hour is closed once it ended ``settle`` ago (the writers of every replica and worker have flushed
it). Registering is idempotent: an hour whose files are unchanged is not registered again. When files
arrive after an hour was registered (a late flush, a replica restored), the hour gets a new version
holding all its files, and windows computed after it read that one; an hour that *lost* files since
its version is not registered again and is reported (the window reading it is marked incomplete).

Example:
    >>> log_dataset_name("churn")
    'predictions.churn'
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from loopml.data.versions import DatasetVersions
from loopml.errors import InvalidInput, LoopmlError, NotFound
from loopml.monitor.log_window import log_fingerprint, log_hours
from loopml.monitor.predictions import partition_path, registered_versions
from loopml.store.entities import Artifact, EventType, ExecutionState
from loopml.store.repositories import RegistryStore, Store

__all__ = [
    "LOG_DATASET_PREFIX",
    "SERVE_EXECUTION_TYPE",
    "WINDOW_EXECUTION_TYPE",
    "LogRegistration",
    "LogVersion",
    "ModelArtifacts",
    "PredictionLogVersions",
    "log_dataset_name",
    "registry_model_artifacts",
]

_log = logging.getLogger("loopml.monitor")

LOG_DATASET_PREFIX = "predictions."
SERVE_EXECUTION_TYPE = "ServePredictions"
WINDOW_EXECUTION_TYPE = "MonitorWindow"
_HOUR = "%Y-%m-%dT%H"
_ONE_HOUR = dt.timedelta(hours=1)

#: (registered model, version as logged) → the id of that version's ``Model`` artifact, or None.
ModelArtifacts = Callable[[str, str], str | None]


def log_dataset_name(log: str) -> str:
    """The dataset that versions the prediction log kept under ``log``."""
    return f"{LOG_DATASET_PREFIX}{log}"


def registry_model_artifacts(store: RegistryStore) -> ModelArtifacts:
    """A lookup of a registered version's ``Model`` artifact (None for a version the registry lacks:
    a package folder, an ensemble)."""

    def find(model: str, version: str) -> str | None:
        try:
            return store.models.get_version(model, int(version)).artifact_id
        except (NotFound, InvalidInput, ValueError):
            return None

    return find


@dataclass(frozen=True, slots=True, kw_only=True)
class LogVersion:
    """One registered hour of the prediction log.

    Attributes:
        ref: ``predictions.<name>@<version>``.
        artifact_id: The ``Dataset`` artifact.
        hour: The hour it holds (UTC).
        fingerprint: Names and sizes of its files (see :func:`log_fingerprint`).
        versions: Rows per model version (as logged).
        model_versions: Rows per registered model version that computed them (``NAME/VERSION``; a
            row an ensemble answered counts for each member).
    """

    ref: str
    artifact_id: str
    hour: dt.datetime
    fingerprint: str
    versions: Mapping[str, int] = field(default_factory=dict)
    model_versions: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, artifact: Artifact) -> LogVersion:
        """The log version an artifact registered by :class:`PredictionLogVersions` stands for."""
        props = artifact.properties
        return cls(
            ref=f"{artifact.name}@{artifact.version}",
            artifact_id=artifact.artifact_id,
            hour=dt.datetime.strptime(str(props["hour"]), _HOUR).replace(tzinfo=dt.UTC),
            fingerprint=str(props.get("log_fingerprint", "")),
            versions={str(k): int(v) for k, v in dict(props.get("versions", {})).items()},
            model_versions={str(k): int(v) for k, v in dict(props.get("model_versions", {})).items()},
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LogRegistration:
    """What registering a log's closed hours did: the versions added, and the hours it could not add."""

    registered: tuple[LogVersion, ...] = ()
    problems: tuple[str, ...] = ()


def _rows_answered(folder: Path, model: str) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per logged version and per registered model version in one hour partition (files
    without the ``model_versions`` column matched against ``model``)."""
    versions: dict[str, int] = {}
    registered: dict[str, int] = {}
    for path in sorted(folder.glob("part-*.parquet")):
        names = pq.read_schema(path).names
        table = pq.read_table(path, columns=[c for c in ("version", "model_versions") if c in names])
        for entry in pc.value_counts(table["version"]).to_pylist():
            versions[str(entry["values"])] = versions.get(str(entry["values"]), 0) + int(entry["counts"])
        for key, rows in registered_versions(table, model).items():
            registered[key] = registered.get(key, 0) + rows
    return dict(sorted(versions.items())), dict(sorted(registered.items()))


class PredictionLogVersions:
    """Registers the closed hours of prediction logs as dataset versions and links windows to them.

    Args:
        store: The metadata store (dataset versions, lineage).
        datasets: Dataset versions in that store.
        model_artifacts: The ``Model`` artifact of a registered version (None: no model lineage).
    """

    def __init__(
        self, store: Store, datasets: DatasetVersions, *, model_artifacts: ModelArtifacts | None = None
    ) -> None:
        self._store, self._datasets, self._models = store, datasets, model_artifacts

    def registered(self, log: str) -> dict[dt.datetime, LogVersion]:
        """The latest registered version of each hour of ``log``."""
        found: dict[dt.datetime, LogVersion] = {}
        for artifact in self._datasets.list(log_dataset_name(log)):
            if "hour" in artifact.properties:
                version = LogVersion.of(artifact)
                found[version.hour] = version  # listed oldest first: the latest wins
        return found

    def register_closed(
        self,
        root: Path | str,
        log: str,
        model: str,
        *,
        until: dt.datetime,
        horizon: dt.timedelta | None = None,
    ) -> LogRegistration:
        """Register each hour of ``log`` that ended by ``until`` and is new or has new files.

        Args:
            root: The prediction-log folder.
            log: The name the log is kept under.
            model: The registered model the log is known by (a deployment's primary); only files
                without the ``model_versions`` column are matched against it (for the lineage).
            until: Hours ending after this are still open and left alone.
            horizon: A registered hour that ended more than this before ``until`` is not checked
                for late files again (None: always checked), as windows past the label horizon
                are not recomputed.
        """
        known = self.registered(log)
        added: list[LogVersion] = []
        problems: list[str] = []
        for hour in log_hours(root, log):
            if hour + _ONE_HOUR > until:
                continue
            previous = known.get(hour)
            if previous is not None and horizon is not None and hour + _ONE_HOUR < until - horizon:
                continue
            fingerprint = log_fingerprint(root, log, hour, hour + _ONE_HOUR)
            if previous is not None and previous.fingerprint == fingerprint:
                continue
            label = f"model={log}/hour={hour:{_HOUR}}"
            try:
                lost = self._lost_files(previous, partition_path(Path(root), log, hour))
                if previous is not None and lost:
                    gone = f"{len(lost)} file(s) of {previous.ref} are gone ({', '.join(lost[:3])})"
                    _log.warning("prediction log %s: %s; not registered again", label, gone)
                    problems.append(f"{label}: {gone}; not registered again")
                    continue
                added.append(self._register(root, log, model, hour, fingerprint))
            except (LoopmlError, OSError, pa.ArrowException) as err:
                _log.warning("prediction log %s: not registered: %s", label, err)
                problems.append(f"{label}: not registered ({type(err).__name__}: {err})")
        return LogRegistration(registered=tuple(added), problems=tuple(problems))

    def _lost_files(self, previous: LogVersion | None, folder: Path) -> list[str]:
        if previous is None:
            return []
        before = {f.path for f in self._datasets.get(previous.ref).files}
        return sorted(before - {p.name for p in folder.glob("part-*.parquet")})

    def _register(
        self, root: Path | str, log: str, model: str, hour: dt.datetime, fingerprint: str
    ) -> LogVersion:
        folder = partition_path(Path(root), log, hour)
        versions, answered = _rows_answered(folder, model)
        artifacts = {key: self._artifact(key) for key in answered}
        registered = self._datasets.add(
            log_dataset_name(log),
            folder,
            by_reference=True,
            execution_type=SERVE_EXECUTION_TYPE,
            inputs=[(a, "model_version") for a in dict.fromkeys(artifacts.values()) if a],
            properties={
                "kind": "prediction_log",
                "hour": f"{hour:{_HOUR}}",
                "partition": f"model={log}/hour={hour:{_HOUR}}",
                "log_fingerprint": fingerprint,
                "model": model,
                "versions": versions,
                "model_versions": answered,
                "unregistered_versions": sorted(k for k, a in artifacts.items() if a is None),
            },
        )
        return LogVersion.of(self._store.artifacts.get(registered.artifact_id))

    def _artifact(self, key: str) -> str | None:
        """The ``Model`` artifact of a registered version ``NAME/VERSION`` (None: not known)."""
        name, _, version = key.rpartition("/")
        return self._models(name, version) if self._models is not None and name else None

    def link_window(
        self,
        versions: Sequence[LogVersion],
        *,
        deployment: str,
        window: str,
        start: dt.datetime,
        end: dt.datetime,
    ) -> str | None:
        """Record the computation of a window as an execution reading ``versions``; its id (None when
        no version was read)."""
        if not versions:
            return None
        lineage = self._store.lineage
        execution = lineage.create_execution(
            type=WINDOW_EXECUTION_TYPE,
            name=f"window {deployment} {window} {start:%Y-%m-%dT%H:%M}",
            properties={
                "deployment": deployment,
                "window": window,
                "start": start.isoformat(),
                "end": end.isoformat(),
            },
        )
        lineage.add_events(
            execution.execution_id, [(v.artifact_id, EventType.INPUT, "prediction_log") for v in versions]
        )
        lineage.finish_execution(execution.execution_id, ExecutionState.COMPLETE)
        return execution.execution_id
