"""The prediction-log format: one Parquet row per predicted row, partitioned by model and hour.

Layout under the log root::

    model=<name>/hour=<YYYY-MM-DDTHH>/part-<uuid>.parquet

Columns (:data:`PREDICTION_LOG_SCHEMA`): ``request_id``, ``row`` (index within the request),
``model``, ``version``, ``time`` (UTC, ms), ``protocol``, ``principal``, ``latency_ms`` (of the whole
request), ``inputs`` and ``outputs`` (JSON objects: feature → value, output → value) and ``flags``.
The server writes it; monitoring reads it with :func:`read_prediction_log` without importing the server.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from loopml.errors import InvalidInput, NotFound

__all__ = [
    "PREDICTION_LOG_SCHEMA",
    "PredictionRecord",
    "partition_path",
    "read_prediction_log",
    "write_prediction_records",
]

PREDICTION_LOG_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("row", pa.int32(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("version", pa.string(), nullable=False),
        pa.field("time", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("protocol", pa.string(), nullable=False),
        pa.field("principal", pa.string()),
        pa.field("latency_ms", pa.float64(), nullable=False),
        pa.field("inputs", pa.string(), nullable=False),
        pa.field("outputs", pa.string(), nullable=False),
        pa.field("flags", pa.list_(pa.string()), nullable=False),
    ]
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PredictionRecord:
    """One predicted row.

    Attributes:
        request_id: The request's id (shared by its rows).
        row: The row's index within the request.
        model: Served model name.
        version: Served model version.
        time: When the request was answered (UTC).
        protocol: ``v2``, ``tfserving``, ``mlflow`` ...
        principal: Who asked (None without authentication).
        latency_ms: Time the request took in the data plane.
        inputs: Feature name → value (JSON-serialisable).
        outputs: Output name → value (JSON-serialisable).
        flags: Marks such as ``out_of_range`` set by input checks.
    """

    request_id: str
    row: int
    model: str
    version: str
    time: dt.datetime
    protocol: str
    principal: str | None
    latency_ms: float
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise InvalidInput(f"PredictionRecord.time must be timezone-aware (UTC); got {self.time!r}.")
        if not self.model or "/" in self.model:
            raise InvalidInput(f"PredictionRecord.model must be a name without '/'; got {self.model!r}.")


def partition_path(root: Path, model: str, when: dt.datetime) -> Path:
    """The folder holding ``model``'s records of the hour of ``when``."""
    hour = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H")
    return root / f"model={model}" / f"hour={hour}"


def _table(records: Sequence[PredictionRecord]) -> pa.Table:
    return pa.table(
        {
            "request_id": [r.request_id for r in records],
            "row": [r.row for r in records],
            "model": [r.model for r in records],
            "version": [r.version for r in records],
            "time": [r.time for r in records],
            "protocol": [r.protocol for r in records],
            "principal": [r.principal for r in records],
            "latency_ms": [r.latency_ms for r in records],
            "inputs": [json.dumps(r.inputs, allow_nan=True, default=str) for r in records],
            "outputs": [json.dumps(r.outputs, allow_nan=True, default=str) for r in records],
            "flags": [list(r.flags) for r in records],
        },
        schema=PREDICTION_LOG_SCHEMA,
    )


def write_prediction_records(root: Path | str, records: Iterable[PredictionRecord]) -> list[Path]:
    """Append records to the log: one new Parquet file per (model, hour), written atomically.

    Returns:
        The files written.
    """
    groups: dict[Path, list[PredictionRecord]] = {}
    for record in records:
        groups.setdefault(partition_path(Path(root), record.model, record.time), []).append(record)
    written = []
    for folder, batch in groups.items():
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{uuid.uuid4().hex}.parquet"
        tmp = folder / f".{name}.tmp"
        pq.write_table(_table(batch), tmp)
        os.replace(tmp, folder / name)
        written.append(folder / name)
    return written


def read_prediction_log(
    root: Path | str, *, model: str | None = None, since: dt.datetime | None = None
) -> pa.Table:
    """Every record under ``root`` (of one model, from one time on), sorted by time.

    Raises:
        NotFound: ``root`` does not exist.
    """
    base = Path(root)
    if not base.is_dir():
        raise NotFound(f"No prediction log at {base}.")
    pattern = f"model={model}/hour=*/part-*.parquet" if model else "model=*/hour=*/part-*.parquet"
    files = sorted(base.glob(pattern))
    if not files:
        return PREDICTION_LOG_SCHEMA.empty_table()
    table = pa.concat_tables(pq.read_table(f, schema=PREDICTION_LOG_SCHEMA) for f in files)
    if since is not None:
        import pyarrow.compute as pc

        table = table.filter(pc.greater_equal(table["time"], pa.scalar(since, pa.timestamp("ms", tz="UTC"))))
    return table.sort_by([("time", "ascending"), ("request_id", "ascending"), ("row", "ascending")])
