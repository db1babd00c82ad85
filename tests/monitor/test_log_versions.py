"""The prediction log's closed hours become dataset versions with lineage to the model versions that
answered, and windows name the versions they read; the log is written by the server's real writer."""

from __future__ import annotations

import asyncio
import datetime as dt
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.artifacts import BlobStore
from loopml.data.versions import DatasetVersions
from loopml.inference.inputs import from_columns
from loopml.monitor.log_versions import (
    SERVE_EXECUTION_TYPE,
    WINDOW_EXECUTION_TYPE,
    PredictionLogVersions,
    registry_model_artifacts,
)
from loopml.monitor.service import MonitorService
from loopml.monitor.targets import Target
from loopml.monitor.windows import MonitorConfig
from loopml.registry import ColumnSpec, ModelRegistry, ModelSignature, package_model
from loopml.serving import DataPlane, ModelRepository, ModelSource, load_served_model, prediction_log
from loopml.serving.prediction_log import PredictionLogger
from loopml.store.entities import EventType
from loopml.store.sql import SqlStore, open_store
from loopml.tracking.lineage import walk

T10 = dt.datetime(2026, 3, 1, 10, 20, tzinfo=dt.UTC)
T11 = T10 + dt.timedelta(hours=1)
NUMERIC = Target(deployment="numeric", model="numeric")
COLUMNS = ("a", "b", "c", "d")


@dataclass
class World:
    store: SqlStore
    registry: ModelRegistry
    root: Path
    monitor: MonitorService
    datasets: DatasetVersions
    model_artifacts: dict[str, str]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    blobs = BlobStore(tmp_path / "blobs")
    registry = ModelRegistry(store, blobs, cache_dir=tmp_path / "cache")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 4))
    signature = ModelSignature(
        inputs=tuple(ColumnSpec(name=c, type="double") for c in COLUMNS),
        outputs=(ColumnSpec(name="prediction", type="int64"),),
    )
    for seed in (1, 2):
        model = LogisticRegression().fit(x, (x[:, 0] * seed + x[:, 1] > 0).astype(int))
        registry.register(package_model(model, tmp_path / f"pkg-{seed}", signature=signature), "numeric")
    datasets = DatasetVersions(store, blobs)
    versions = PredictionLogVersions(store, datasets, model_artifacts=registry_model_artifacts(store))
    root = tmp_path / "predictions"
    monitor = MonitorService(store, log_root=root, log_versions=versions)
    artifacts = {str(v.version): v.artifact_id or "" for v in store.models.list_versions("numeric")}
    yield World(store, registry, root, monitor, datasets, artifacts)
    store.close()


def _serve(
    world: World, when: dt.datetime, requests: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answer ``requests[version]`` requests of 3 rows with each version at ``when``, logged by the
    server's prediction-log writer (its clock pinned to ``when``)."""
    clock = types.SimpleNamespace(time_ns=lambda: int(when.timestamp() * 1e9))
    monkeypatch.setattr(prediction_log, "time", clock)
    served = {
        v: load_served_model(ModelSource(uri=f"models:/numeric/{v}"), registry=world.registry)
        for v in requests
    }
    logger = PredictionLogger(world.root, flush_interval_s=0.02)
    plane = DataPlane(ModelRepository(list(served.values())), sinks=[logger])
    values = {c: [0.1, -0.2, 0.3] for c in COLUMNS}

    async def run() -> None:
        for version, n in requests.items():
            model = served[version]
            rows = from_columns(model.schema, values, as_matrix=model.accepts_matrix)
            for _ in range(n):
                await plane.infer(model, rows, protocol="v2")
        await plane.close()

    asyncio.run(run())
    logger.close()


def _files(world: World, hour: str) -> set[str]:
    return {p.name for p in (world.root / "model=numeric" / f"hour={hour}").glob("part-*.parquet")}


def test_closed_hours_are_registered_once_with_lineage_to_the_versions_that_answered(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve(world, T10, {"1": 4, "2": 2}, monkeypatch)
    _serve(world, T11, {"1": 1}, monkeypatch)

    done = world.monitor.register_log(NUMERIC, now=T11 + dt.timedelta(minutes=10))
    assert [v.ref for v in done.registered] == ["predictions.numeric@1"]  # hour 11 is still open
    assert done.problems == ()
    first = world.datasets.get("predictions.numeric@1")
    assert {f.path for f in first.files} == _files(world, "2026-03-01T10")
    assert all(f.is_reference for f in first.files) and first.num_rows == 18
    assert done.registered[0].versions == {"1": 12, "2": 6}
    assert done.registered[0].hour == T10.replace(minute=0)

    events = world.store.lineage.list_events(artifact_id=first.artifact_id)
    (producer,) = [e for e in events if e.type is EventType.OUTPUT]
    execution = world.store.lineage.get_execution(producer.execution_id)
    assert execution.type == SERVE_EXECUTION_TYPE
    inputs = world.store.lineage.list_events(execution_id=execution.execution_id)
    assert {e.artifact_id for e in inputs if e.type is EventType.INPUT} == set(world.model_artifacts.values())

    assert world.monitor.register_log(NUMERIC, now=T11 + dt.timedelta(minutes=10)).registered == ()
    later = world.monitor.register_log(NUMERIC, now=T11 + dt.timedelta(hours=2))
    assert [v.ref for v in later.registered] == ["predictions.numeric@2"]  # hour 10 not again
    assert later.registered[0].versions == {"1": 3}
    inputs = world.store.lineage.list_events(
        execution_id=next(
            e.execution_id
            for e in world.store.lineage.list_events(artifact_id=later.registered[0].artifact_id)
            if e.type is EventType.OUTPUT
        )
    )
    assert [e.artifact_id for e in inputs if e.type is EventType.INPUT] == [world.model_artifacts["1"]]


def test_late_files_make_a_new_version_and_lost_files_are_reported(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve(world, T10, {"1": 2}, monkeypatch)
    now = T11 + dt.timedelta(minutes=10)
    first = world.monitor.register_log(NUMERIC, now=now)
    assert [v.ref for v in first.registered] == ["predictions.numeric@1"]
    _serve(world, T10, {"2": 1}, monkeypatch)  # a replica flushing its records of hour 10 late

    late = world.monitor.register_log(NUMERIC, now=now)
    assert [v.ref for v in late.registered] == ["predictions.numeric@2"]
    assert late.registered[0].versions == {"1": 6, "2": 3}
    diff = world.datasets.diff("predictions.numeric@1", "predictions.numeric@2")
    assert len(diff.added) == 1 and diff.removed == () and (diff.rows_before, diff.rows_after) == (6, 9)

    (world.root / "model=numeric" / "hour=2026-03-01T10" / sorted(diff.added)[0]).unlink()
    gone = world.monitor.register_log(NUMERIC, now=now)
    assert gone.registered == ()
    assert len(gone.problems) == 1 and "predictions.numeric@2" in gone.problems[0]
    assert "gone" in gone.problems[0]


def test_registered_hours_past_the_label_horizon_are_not_checked_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve(world, T10, {"1": 1}, monkeypatch)
    assert len(world.monitor.register_log(NUMERIC, now=T11 + dt.timedelta(minutes=10)).registered) == 1
    _serve(world, T10, {"1": 1}, monkeypatch)
    config = MonitorConfig(label_horizon=dt.timedelta(days=1))
    assert world.monitor.register_log(NUMERIC, config, now=T11 + dt.timedelta(days=2)).registered == ()
    assert len(world.monitor.register_log(NUMERIC, config, now=T11 + dt.timedelta(hours=2)).registered) == 1


def test_an_unreadable_hour_is_reported_and_the_others_are_registered(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve(world, T10, {"1": 1}, monkeypatch)
    _serve(world, T11, {"1": 1}, monkeypatch)
    (bad,) = (world.root / "model=numeric" / "hour=2026-03-01T10").glob("part-*.parquet")
    bad.write_bytes(b"PAR1 truncated")
    done = world.monitor.register_log(NUMERIC, now=T11 + dt.timedelta(hours=2))
    assert [v.hour.hour for v in done.registered] == [11]
    assert len(done.problems) == 1 and done.problems[0].startswith("model=numeric/hour=2026-03-01T10")


def test_windows_name_the_log_versions_they_read_and_lineage_links_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve(world, T10, {"1": 3, "2": 1}, monkeypatch)
    now = T11 + dt.timedelta(minutes=10)
    world.monitor.register_log(NUMERIC, now=now)
    (window,) = world.monitor.run(NUMERIC, MonitorConfig(), now=now)
    assert window.log_versions == ("predictions.numeric@1",)
    assert window.to_document()["log_versions"] == ["predictions.numeric@1"]
    assert window.lineage is not None
    assert world.store.lineage.get_execution(window.lineage).type == WINDOW_EXECUTION_TYPE

    graph = walk(world.store, world.model_artifacts["2"], direction="downstream", depth=4)
    log = world.datasets.get("predictions.numeric@1").artifact_id
    reached = {n.id for n in graph.nodes}
    assert {log, window.lineage} <= reached  # model version → log version → window
    assert world.monitor.run(NUMERIC, MonitorConfig(), now=now) == []  # nothing changed: not recomputed

    _serve(world, T10, {"1": 1}, monkeypatch)  # late flush: a new log version, the window recomputed
    world.monitor.register_log(NUMERIC, now=now)
    (again,) = world.monitor.run(NUMERIC, MonitorConfig(), now=now)
    assert again.log_versions == ("predictions.numeric@2",) and again.rows == 15
    assert again.lineage not in (None, window.lineage)
    assert world.monitor.windows(NUMERIC)[0].log_versions == ("predictions.numeric@2",)


def test_files_without_the_model_versions_column_fall_back_to_the_version_number(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve(world, T10, {"1": 2}, monkeypatch)
    for old in (world.root / "model=numeric" / "hour=2026-03-01T10").glob("part-*.parquet"):
        table = pq.read_table(old)
        assert set(map(tuple, table["model_versions"].to_pylist())) == {("numeric/1",)}
        pq.write_table(table.drop_columns(["model_versions"]), old)  # as written before the column
    _serve(world, T10, {"2": 1}, monkeypatch)

    done = world.monitor.register_log(NUMERIC, now=T11 + dt.timedelta(minutes=10))
    (version,) = done.registered
    assert version.versions == {"1": 6, "2": 3}
    assert version.model_versions == {"numeric/1": 6, "numeric/2": 3}
    execution = next(
        e.execution_id
        for e in world.store.lineage.list_events(artifact_id=version.artifact_id)
        if e.type is EventType.OUTPUT
    )
    inputs = world.store.lineage.list_events(execution_id=execution)
    assert {e.artifact_id for e in inputs if e.type is EventType.INPUT} == set(world.model_artifacts.values())
    (window,) = world.monitor.run(NUMERIC, MonitorConfig(), now=T11 + dt.timedelta(minutes=10))
    assert window.rows == 9 and window.complete  # the window reads old and new files together
