"""The prediction-log format: partitioned Parquet written atomically, read back in time order."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.monitor import PredictionRecord, read_prediction_log, write_prediction_records


def _record(model: str, when: dt.datetime, row: int = 0) -> PredictionRecord:
    return PredictionRecord(
        request_id="r1",
        row=row,
        model=model,
        version="2",
        time=when,
        protocol="v2",
        principal=None,
        latency_ms=1.5,
        inputs={"age": 30, "city": "nice"},
        outputs={"predict": "yes", "predict_proba": [0.2, 0.8]},
    )


def test_written_by_model_and_hour_and_read_back(tmp_path: Path) -> None:
    t0 = dt.datetime(2026, 1, 2, 10, 59, tzinfo=dt.UTC)
    t1 = t0 + dt.timedelta(minutes=2)
    files = write_prediction_records(tmp_path, [_record("a", t1, 1), _record("a", t0), _record("b", t0)])
    assert sorted(str(f.parent.relative_to(tmp_path)) for f in files) == [
        "model=a/hour=2026-01-02T10",
        "model=a/hour=2026-01-02T11",
        "model=b/hour=2026-01-02T10",
    ]
    assert not list(tmp_path.rglob("*.tmp"))
    table = read_prediction_log(tmp_path, model="a")
    assert table.column("row").to_pylist() == [0, 1]
    assert json.loads(table.column("outputs")[0].as_py()) == {"predict": "yes", "predict_proba": [0.2, 0.8]}
    assert read_prediction_log(tmp_path, since=t1).num_rows == 1
    assert read_prediction_log(tmp_path, model="zzz").num_rows == 0


def test_bad_records_and_missing_log(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        _record("a", dt.datetime(2026, 1, 1))
    with pytest.raises(NotFound):
        read_prediction_log(tmp_path / "none")
