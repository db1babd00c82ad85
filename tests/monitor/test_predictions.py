"""The prediction-log format: typed columns, partitioned Parquet written atomically, read in time order."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.monitor import BASE_SCHEMA, prediction_table, read_prediction_log, write_prediction_table
from loopml.monitor.predictions import registered_versions


def _table(model: str, times: list[str], *, extra: bool = False) -> pa.Table:
    n = len(times)
    inputs = {"age": np.arange(n, dtype=np.int64), "city": np.array(["nice"] * n, dtype=object)}
    if extra:
        inputs["income"] = np.ones(n)
    return prediction_table(
        request_ids=[f"r{i}" for i in range(n)],
        model=model,
        version="2",
        times=np.array(times, dtype="datetime64[ms]"),
        protocols=["v2"] * n,
        principals=[None] * n,
        latency_ms=[1.5] * n,
        sizes=[1] * n,
        inputs=inputs,
        outputs={"predict": np.array(["yes"] * n, dtype=object), "predict_proba": np.full((n, 2), 0.5)},
    )


def test_typed_columns_by_model_and_hour(tmp_path: Path) -> None:
    table = _table("a", ["2026-01-02T10:59", "2026-01-02T11:01"])
    assert table.schema.names[: len(BASE_SCHEMA)] == BASE_SCHEMA.names
    assert table.schema.field("in.age").type == pa.int64()
    assert table.schema.field("out.predict_proba").type == pa.list_(pa.float64())
    files = write_prediction_table(tmp_path, table)
    write_prediction_table(tmp_path, _table("b", ["2026-01-02T10:00"], extra=True))
    assert sorted(str(f.parent.relative_to(tmp_path)) for f in files) == [
        "model=a/hour=2026-01-02T10",
        "model=a/hour=2026-01-02T11",
    ]
    assert not list(tmp_path.rglob("*.tmp"))
    back = read_prediction_log(tmp_path, model="a")
    assert back.column("request_id").to_pylist() == ["r0", "r1"]
    assert back.column("out.predict_proba").to_pylist() == [[0.5, 0.5], [0.5, 0.5]]
    both = read_prediction_log(tmp_path)
    assert both.num_rows == 3 and both.column("in.income").null_count == 2
    since = dt.datetime(2026, 1, 2, 11, tzinfo=dt.UTC)
    assert read_prediction_log(tmp_path, since=since).column("request_id").to_pylist() == ["r1"]
    assert read_prediction_log(tmp_path, model="zzz").num_rows == 0


def test_rows_of_a_request_share_its_metadata() -> None:
    table = prediction_table(
        model="m",
        version="1",
        request_ids=["a", "b"],
        times=np.array(["2026-01-01T00:00", "2026-01-01T00:01"], dtype="datetime64[ms]"),
        protocols=["v2", "mlflow"],
        principals=["ana", None],
        latency_ms=[1.0, 2.0],
        sizes=[2, 3],
        inputs={"x": np.arange(5.0)},
        outputs={"predict": np.arange(5)},
    )
    assert table.column("request_id").to_pylist() == ["a", "a", "b", "b", "b"]
    assert table.column("row").to_pylist() == [0, 1, 0, 1, 2]
    assert table.column("principal").to_pylist() == ["ana", "ana", None, None, None]
    assert table.column("flags").to_pylist() == [[]] * 5
    assert table.column("model_versions").to_pylist() == [[]] * 5  # a package folder: none registered
    with pytest.raises(InvalidInput, match="must all hold 5 rows"):
        prediction_table(
            model="m", version="1", request_ids=["a"], times=np.array(["2026-01-01"], dtype="datetime64[ms]"),
            protocols=["v2"], principals=[None], latency_ms=[1.0], sizes=[5],
            inputs={"x": np.arange(4.0)}, outputs={},
        )  # fmt: skip


def test_bad_tables_and_missing_log(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="without '/'"):
        _table("a/b", ["2026-01-01T00:00"])
    with pytest.raises(NotFound):
        read_prediction_log(tmp_path / "none")


def test_the_registered_versions_that_answered_and_files_written_before_the_column(tmp_path: Path) -> None:
    def table(request: str, when: str, versions: tuple[str, ...]) -> pa.Table:
        return prediction_table(
            model="churn", version="1", request_ids=[request], times=np.array([when], dtype="datetime64[ms]"),
            protocols=["v2"], principals=[None], latency_ms=[1.0], sizes=[2],
            inputs={"x": np.arange(2.0)}, outputs={"predict": np.arange(2)}, model_versions=versions,
        )  # fmt: skip

    canary = table("r1", "2026-01-01T10:01", ("rival/1",))
    ensemble = table("r2", "2026-01-01T10:02", ("churn/2", "rival/1"))
    assert canary.column("model_versions").to_pylist() == [["rival/1"], ["rival/1"]]
    assert ensemble.schema.field("model_versions").type == pa.list_(pa.string())
    old = table("r0", "2026-01-01T10:00", ()).drop_columns(["model_versions"])  # as written before it
    for t in (old, canary, ensemble):
        write_prediction_table(tmp_path, t)

    back = read_prediction_log(tmp_path, model="churn")
    assert back.column("request_id").to_pylist() == ["r0", "r0", "r1", "r1", "r2", "r2"]
    assert back.column("model_versions").to_pylist()[:3] == [None, None, ["rival/1"]]
    # each registered version counts the rows it computed; old rows are matched by version number
    assert registered_versions(back, "churn") == {"churn/1": 2, "churn/2": 2, "rival/1": 4}
    assert registered_versions(old, "churn") == {"churn/1": 2}
