"""The prediction-log format: one Parquet row per predicted row, partitioned by model and hour.

Layout under the log root::

    model=<name>/hour=<YYYY-MM-DDTHH>/part-<uuid>.parquet

Every file has the fixed columns of :data:`BASE_SCHEMA` (``request_id``, ``row`` within the request,
``model``, ``version``, ``time`` UTC, ``protocol``, ``principal``, ``latency_ms`` of the whole
request, ``flags``), then one typed column per model input (``in.<feature>``) and per output
(``out.<output>``; class probabilities are lists of doubles). Columns are typed so a window of
the log is a table monitoring can compare with the training statistics column by column; the
server builds them from NumPy arrays without per-row Python work. Monitoring reads the log with
:func:`read_prediction_log` without importing the server.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopml.errors import InvalidInput, NotFound

__all__ = [
    "BASE_SCHEMA",
    "INPUT_PREFIX",
    "OUTPUT_PREFIX",
    "partition_path",
    "prediction_table",
    "read_prediction_log",
    "registered_versions",
    "write_prediction_table",
]

INPUT_PREFIX = "in."
OUTPUT_PREFIX = "out."
_TIME = pa.timestamp("ms", tz="UTC")
BASE_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("row", pa.int32(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("version", pa.string(), nullable=False),
        pa.field("time", _TIME, nullable=False),
        pa.field("protocol", pa.string(), nullable=False),
        pa.field("principal", pa.string()),
        pa.field("latency_ms", pa.float64(), nullable=False),
        pa.field("flags", pa.list_(pa.string()), nullable=False),
        pa.field("model_versions", pa.list_(pa.string())),
    ]
)


def _column(values: np.ndarray) -> pa.Array:
    if values.ndim == 2:
        flat = pa.array(np.ascontiguousarray(values).reshape(-1))
        offsets = pa.array(np.arange(0, values.size + 1, values.shape[1], dtype=np.int32))
        return pa.ListArray.from_arrays(offsets, flat)
    if values.dtype == object:
        return pa.array([None if v is None else str(v) for v in values.tolist()], type=pa.string())
    return pa.array(values)


def _repeated(values: Sequence[str], n: int) -> pa.Array:
    """A list column holding ``values`` in each of ``n`` rows (no per-row Python work)."""
    width = len(values)
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * width)
    items = pa.array(list(values), type=pa.string()).take(pa.array(np.tile(np.arange(width), n)))
    return pa.ListArray.from_arrays(offsets, items)


def prediction_table(
    *,
    model: str,
    version: str,
    request_ids: Sequence[str],
    times: np.ndarray,
    protocols: Sequence[str],
    principals: Sequence[str | None],
    latency_ms: Sequence[float],
    sizes: Sequence[int],
    inputs: Mapping[str, np.ndarray],
    outputs: Mapping[str, np.ndarray],
    flags: Sequence[Sequence[str]] | None = None,
    row_numbers: np.ndarray | None = None,
    model_versions: Sequence[str] = (),
) -> pa.Table:
    """A log table for requests to one model version.

    Args:
        model: The name the server answered as.
        version: The version that answered.
        request_ids: One id per request; likewise ``times`` (datetime64), ``protocols``,
            ``principals``, ``latency_ms``.
        sizes: Rows per request.
        inputs: Feature name → values of every row (requests concatenated in order).
        outputs: Output name → values of every row.
        flags: Per row, why it was flagged (atypical input), or None when no row was.
        row_numbers: Per row, its position in its request; None: ``0, 1, ...`` within each
            request (a request whose rows several versions answered logs each part with its positions).
        model_versions: The registered model versions (``NAME/VERSION``) that computed every row:
            one for a registered model, its members for an ensemble, none for a package folder.

    Raises:
        InvalidInput: lengths that do not add up, or a bad model name.
    """
    if not model or "/" in model:
        raise InvalidInput(f"The prediction log's model must be a name without '/'; got {model!r}.")
    k = len(request_ids)
    if {len(times), len(protocols), len(principals), len(latency_ms), len(sizes)} != {k}:
        raise InvalidInput(f"Prediction-log request columns must all hold {k} entries.")
    counts = np.asarray(sizes, dtype=np.int64)
    n = int(counts.sum())
    lengths = {len(a) for a in (*inputs.values(), *outputs.values())}
    if lengths - {n}:
        raise InvalidInput(
            f"Prediction-log row columns must all hold {n} rows; got lengths {sorted(lengths)}."
        )
    index = pa.array(np.repeat(np.arange(k, dtype=np.int32), counts))
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    if flags is not None and len(flags) != n:
        raise InvalidInput(f"Prediction-log flags must hold {n} rows; got {len(flags)}.")
    if row_numbers is not None and len(row_numbers) != n:
        raise InvalidInput(f"Prediction-log row numbers must hold {n} rows; got {len(row_numbers)}.")
    positions = np.arange(n) - starts if row_numbers is None else np.asarray(row_numbers)
    row_flags = (
        pa.array([list(f) for f in flags], type=pa.list_(pa.string()))
        if flags is not None
        else pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], pa.string()))
    )
    base = [
        pa.array(list(request_ids), type=pa.string()).take(index),
        pa.array(positions.astype(np.int32)),
        pa.repeat(pa.scalar(model), n).cast(pa.string()),
        pa.repeat(pa.scalar(version), n).cast(pa.string()),
        pa.array(np.asarray(times).astype("datetime64[ms]")).cast(_TIME).take(index),
        pa.array(list(protocols), type=pa.string()).take(index),
        pa.array(list(principals), type=pa.string()).take(index),
        pa.array(np.asarray(latency_ms, dtype=np.float64)).take(index),
        row_flags,
        _repeated(model_versions, n),
    ]
    extra = {f"{INPUT_PREFIX}{k}": _column(v) for k, v in inputs.items()}
    extra |= {f"{OUTPUT_PREFIX}{k}": _column(v) for k, v in outputs.items()}
    table = pa.Table.from_arrays([*base, *extra.values()], names=[*BASE_SCHEMA.names, *extra])
    return table.cast(pa.schema([*BASE_SCHEMA, *(table.schema.field(name) for name in extra)]))


def partition_path(root: Path, model: str, when: dt.datetime) -> Path:
    """The folder holding ``model``'s records of the hour of ``when``."""
    hour = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H")
    return root / f"model={model}" / f"hour={hour}"


def write_prediction_table(root: Path | str, table: pa.Table) -> list[Path]:
    """Append a log table (of one model) as one new Parquet file per hour, each written atomically.

    Returns:
        The files written.
    """
    import pyarrow.parquet as pq  # Parquet: at the first write, not when a server starts

    if table.num_rows == 0:
        return []
    model = table.column("model")[0].as_py()
    bounds = pc.min_max(table.column("time")).as_py()
    first, last = (t.replace(minute=0, second=0, microsecond=0) for t in (bounds["min"], bounds["max"]))
    if first == last:  # the usual case: one flush, one hour
        parts = [(first, table)]
    else:
        hours = pc.floor_temporal(table.column("time"), unit="hour")
        parts = [(h, table.filter(pc.equal(hours, pa.scalar(h, _TIME)))) for h in hours.unique().to_pylist()]
    strings = [f.name for f in table.schema if pa.types.is_string(f.type)]
    written = []
    for hour, part in parts:
        folder = partition_path(Path(root), model, hour)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{uuid.uuid4().hex}.parquet"
        tmp = folder / f".{name}.tmp"
        # dictionaries only where values repeat; statistics only for the time (what a reader
        # prunes on): min/max of every input and output column cost more than the encoding
        pq.write_table(part, tmp, use_dictionary=strings, write_statistics=["time"])
        os.replace(tmp, folder / name)
        written.append(folder / name)
    return written


def read_prediction_log(
    root: Path | str, *, model: str | None = None, since: dt.datetime | None = None
) -> pa.Table:
    """Every record under ``root`` (of one model, from one time on), sorted by time.

    Files whose columns differ (a model version with other inputs) are unified; missing
    columns read as nulls.

    Raises:
        NotFound: ``root`` does not exist.
    """
    import pyarrow.parquet as pq  # Parquet: when a log is read, not when a server starts

    base = Path(root)
    if not base.is_dir():
        raise NotFound(f"No prediction log at {base}.")
    pattern = f"model={model}/hour=*/part-*.parquet" if model else "model=*/hour=*/part-*.parquet"
    files = sorted(base.glob(pattern))
    if not files:
        return BASE_SCHEMA.empty_table()
    table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
    if since is not None:
        table = table.filter(pc.greater_equal(table["time"], pa.scalar(since, _TIME)))
    return table.sort_by([("time", "ascending"), ("request_id", "ascending"), ("row", "ascending")])


def registered_versions(table: pa.Table, model: str) -> dict[str, int]:
    """Rows per registered model version (``NAME/VERSION``) that computed them, in name order.

    A row an ensemble answered counts for each member; a row no registered version answered (a
    package folder) for none. Rows written before the ``model_versions`` column existed (null)
    count for ``<model>/<version>``: ``model`` is the registered model the log is known by (a
    deployment's primary), which is right for every route but a canary or arm of another
    registered model, or an ensemble.

    Example:
        >>> t = pa.table({"version": ["2", "2"], "model_versions": [["churn/2"], None]})
        >>> registered_versions(t, "churn")
        {'churn/2': 2}
    """
    versions = table["version"]
    if "model_versions" in table.column_names:
        listed = table["model_versions"]
        known = pc.is_valid(listed)
        found, old = pc.list_flatten(listed.filter(known)), versions.filter(pc.invert(known))
    else:
        found, old = pa.array([], pa.string()), versions
    counts: dict[str, int] = {}
    for prefix, values in (("", found), (f"{model}/", old)):
        for entry in pc.value_counts(values).to_pylist():
            key = f"{prefix}{entry['values']}"
            counts[key] = counts.get(key, 0) + int(entry["counts"])
    return dict(sorted(counts.items()))
