"""The prediction log is written off the request path; a full queue drops and counts, never blocks."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

from loopml.inference.inputs import from_columns, from_matrix
from loopml.monitor import read_prediction_log
from loopml.serving import DataPlane, ModelRepository, ModelSource, load_served_model, prediction_log
from loopml.serving.prediction_log import PredictionLogger
from tests.serving.conftest import Models


def test_requests_are_logged_per_row(models: Models, tmp_path: Path) -> None:
    model = load_served_model(ModelSource(uri="models:/mixed@champion"), registry=models.registry)
    written: list[int] = []
    logger = PredictionLogger(tmp_path, flush_interval_s=0.05, on_write=written.append)
    plane = DataPlane(ModelRepository([model]), sinks=[logger])
    rows = from_columns(
        model.schema, {"age": [30, 50], "income": [40.0, 60.0], "city": ["nice", "lyon"]}, as_matrix=False
    )

    async def run() -> str:
        result = await plane.infer(model, rows, protocol="v2", request_id="req-9", principal="ana")
        await plane.close()
        return result.request_id

    asyncio.run(run())
    table = read_prediction_log(tmp_path, model="mixed")
    assert written == [2]
    assert table.column("request_id").to_pylist() == ["req-9", "req-9"]
    assert table.column("principal").to_pylist() == ["ana", "ana"]
    assert table.column("row").to_pylist() == [0, 1]
    assert [table.column(f"in.{c}")[1].as_py() for c in ("age", "income", "city")] == [50, 60.0, "lyon"]
    assert len(table.column("out.predict_proba")[0].as_py()) == 2


def test_full_queue_drops_and_counts_without_blocking(
    models: Models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = load_served_model(ModelSource(uri="models:/numeric@champion"), registry=models.registry)
    release, entered = threading.Event(), threading.Event()
    real_write = prediction_log.write_prediction_table

    def slow_write(root: Path, table: object) -> object:
        entered.set()
        release.wait(10)  # a stalled disk: the writer holds its batch while requests keep coming
        return real_write(root, table)  # type: ignore[arg-type]

    monkeypatch.setattr(prediction_log, "write_prediction_table", slow_write)
    dropped: list[int] = []
    logger = PredictionLogger(tmp_path, capacity=1, flush_interval_s=0.01, on_drop=lambda: dropped.append(1))
    plane = DataPlane(ModelRepository([model]), sinks=[logger])
    rows = from_columns(model.schema, {c: [1.0] for c in "abcd"}, as_matrix=True)

    asyncio.run(plane.infer(model, rows, protocol="v2"))
    assert entered.wait(10)  # the writer holds the first request and stalls on it

    async def run() -> float:
        started = time.perf_counter()
        for _ in range(50):
            await plane.infer(model, rows, protocol="v2")
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    assert logger.dropped == 49 and len(dropped) == 49  # one request fits the queue
    assert elapsed < 5.0  # never waited for the writer
    release.set()
    logger.close()
    assert read_prediction_log(tmp_path).num_rows == 2


def test_sampling(models: Models, tmp_path: Path) -> None:
    model = load_served_model(ModelSource(uri="models:/numeric@champion"), registry=models.registry)
    logger = PredictionLogger(tmp_path, sample_rates={"numeric": 0.0}, flush_interval_s=0.05)
    plane = DataPlane(ModelRepository([model]), sinks=[logger])
    rows = from_columns(model.schema, {c: [1.0] for c in "abcd"}, as_matrix=True)
    asyncio.run(plane.infer(model, rows, protocol="v2"))
    logger.close()
    assert not tmp_path.exists() or read_prediction_log(tmp_path).num_rows == 0


def test_flagged_rows_carry_their_reasons_in_the_log(models: Models, tmp_path: Path) -> None:
    from loopml.inference.atypical import AtypicalCheck, AtypicalPolicy
    from loopml.serving.guards import ModelGuards

    model = load_served_model(ModelSource(uri="models:/mixed@champion"), registry=models.registry)
    logger = PredictionLogger(tmp_path, flush_interval_s=0.05)
    guards = {"mixed": ModelGuards(atypical=AtypicalCheck(policy=AtypicalPolicy.FLAG))}
    plane = DataPlane(ModelRepository([model]), sinks=[logger], guards=guards)
    typical = from_columns(model.schema, {"age": [30], "income": [50.0], "city": ["nice"]}, as_matrix=False)
    odd = from_columns(
        model.schema, {"age": [30, 30], "income": [50.0, 50.0], "city": ["lyon", "rome"]}, as_matrix=False
    )

    async def run() -> None:
        await plane.infer(model, typical, protocol="v2", request_id="a")
        await plane.infer(model, odd, protocol="v2", request_id="b")
        await plane.close()

    asyncio.run(run())
    table = read_prediction_log(tmp_path, model="mixed").sort_by(
        [("request_id", "ascending"), ("row", "ascending")]
    )
    assert table.column("flags").to_pylist() == [[], [], ["unseen:city"]]


def test_numeric_requests_written_together_keep_every_value_in_its_row(
    models: Models, tmp_path: Path
) -> None:
    model = load_served_model(ModelSource(uri="models:/numeric@champion"), registry=models.registry)
    logger = PredictionLogger(tmp_path, flush_interval_s=3600)  # one write, at close
    plane = DataPlane(ModelRepository([model]), sinks=[logger])
    x = models.numeric_x[:6]
    sizes = [1, 3, 2]
    starts = [0, 1, 4]

    async def run() -> None:
        for i, (start, size) in enumerate(zip(starts, sizes, strict=True)):
            rows = from_matrix(model.schema, x[start : start + size])
            assert rows.matrix is not None  # the NumPy path
            await plane.infer(model, rows, protocol="v2", request_id=f"r{i}")
        await plane.close()

    asyncio.run(run())
    table = read_prediction_log(tmp_path, model="numeric")
    assert table.num_rows == 6
    by_request: dict[str, list[int]] = {rid: [] for rid in ("r0", "r1", "r2")}
    for i, rid in enumerate(table.column("request_id").to_pylist()):
        by_request[rid].append(i)
    for (rid, positions), start, size in zip(sorted(by_request.items()), starts, sizes, strict=True):
        assert [table.column("row")[p].as_py() for p in positions] == list(range(size))
        for j, name in enumerate(model.schema.names):
            column = table.column(f"in.{name}")
            assert column.type == pa.float64()
            assert [column[p].as_py() for p in positions] == x[start : start + size, j].tolist(), rid
    assert table.column("model_versions").to_pylist() == [list(model.registered_versions)] * 6
