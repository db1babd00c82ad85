"""Reading one window of the prediction log partition by partition, reporting what could not be read.

A partition is one ``model=<m>/hour=<h>`` folder. A window reads only the partitions of its hours
(memory is bounded by the window, never the history). A partition that cannot be read (a corrupt
or truncated Parquet file, a folder without part files, or one read before that has since
disappeared) is reported, the window is marked incomplete, and everything else is still read.

Example:
    >>> import tempfile, datetime as dt
    >>> t = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    >>> data = read_window(tempfile.mkdtemp(), "churn", t, t + dt.timedelta(hours=1))
    >>> data.rows, data.complete
    (0, True)
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from loopml.monitor.predictions import partition_path

__all__ = ["WindowData", "log_fingerprint", "log_hours", "read_window"]

_TIME = pa.timestamp("ms", tz="UTC")


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowData:
    """The log rows of one window, one table per partition read (in time order).

    Attributes:
        parts: Each readable partition's rows inside the window.
        partitions: The partitions read (``model=<m>/hour=<h>``).
        problems: One line per partition that could not be read.
    """

    parts: tuple[pa.Table, ...]
    partitions: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def rows(self) -> int:
        return sum(p.num_rows for p in self.parts)

    @property
    def complete(self) -> bool:
        return not self.problems

    def table(self) -> pa.Table:
        """Every row of the window in one table (columns unified across model versions)."""
        if not self.parts:
            return pa.table({})
        return pa.concat_tables(self.parts, promote_options="permissive")


def log_hours(root: Path | str, model: str) -> list[dt.datetime]:
    """The hours that have a partition in ``model``'s log, oldest first."""
    hours = []
    for folder in Path(root).glob(f"model={model}/hour=*"):
        try:
            hours.append(dt.datetime.strptime(folder.name[5:], "%Y-%m-%dT%H").replace(tzinfo=dt.UTC))
        except ValueError:
            continue  # not a partition folder
    return sorted(hours)


def log_fingerprint(root: Path | str, model: str, start: dt.datetime, end: dt.datetime) -> str:
    """A digest of the names and sizes of the log files of the window's hours (changes when files do)."""
    digest = hashlib.sha256()
    hour = start.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    while hour < end:
        folder = partition_path(Path(root), model, hour)
        if folder.is_dir():
            for path in sorted(folder.glob("part-*.parquet")):
                digest.update(f"{folder.name}/{path.name}:{path.stat().st_size}\n".encode())
        hour += dt.timedelta(hours=1)
    return digest.hexdigest()


def _label(model: str, hour: dt.datetime) -> str:
    return f"model={model}/hour={hour:%Y-%m-%dT%H}"


def _read_partition(folder: Path, columns: Sequence[str] | None) -> tuple[list[pa.Table], list[str]]:
    tables: list[pa.Table] = []
    problems: list[str] = []
    files = sorted(folder.glob("part-*.parquet"))
    if not files:
        problems.append("no readable part file (missing)")
    for path in files:
        try:
            if columns is None:
                tables.append(pq.read_table(path))
            else:
                present = set(pq.read_schema(path).names)
                tables.append(pq.read_table(path, columns=[c for c in columns if c in present]))
        except (OSError, pa.ArrowException) as err:
            problems.append(f"{path.name} is unreadable ({type(err).__name__}: {str(err)[:200]})")
    return tables, problems


def read_window(
    root: Path | str,
    model: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    expected: Sequence[str] = (),
    columns: Sequence[str] | None = None,
    consume: Callable[[pa.Table], pa.Table] | None = None,
) -> WindowData:
    """The rows of ``model``'s log with ``start <= time < end``.

    Args:
        root: The prediction-log folder.
        model: The model name.
        start: First instant (UTC).
        end: End (exclusive).
        expected: Partitions an earlier computation read: one now gone is reported missing.
        columns: Read only these columns (default all).
        consume: Called on each partition's rows as they are read; what it returns is kept
            (to reduce a partition once its statistics are taken).
    """
    hours = []
    hour = start.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    while hour < end:
        hours.append(hour)
        hour += dt.timedelta(hours=1)
    parts: list[pa.Table] = []
    read: list[str] = []
    problems: list[str] = []
    lo, hi = pa.scalar(start, _TIME), pa.scalar(end, _TIME)

    def load(hour: dt.datetime) -> tuple[list[pa.Table], list[str]] | None:
        folder = partition_path(Path(root), model, hour)
        return _read_partition(folder, columns) if folder.is_dir() else None

    # the next partition is read (Arrow, without the GIL) while this one is consumed
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        ahead = pool.submit(load, hours[0]) if hours else None
        for i, hour in enumerate(hours):
            assert ahead is not None
            loaded = ahead.result()
            ahead = pool.submit(load, hours[i + 1]) if i + 1 < len(hours) else None
            label = _label(model, hour)
            if loaded is None:
                if label in expected:
                    problems.append(f"{label}: missing (it was read when this window was computed before)")
                continue
            tables, found = loaded
            problems.extend(f"{label}: {p}" for p in found)
            if not tables:
                continue
            read.append(label)
            table = pa.concat_tables(tables, promote_options="permissive")
            if hour < start or hour + dt.timedelta(hours=1) > end:  # the window cuts this hour
                time = table["time"]
                table = table.filter(pc.and_(pc.greater_equal(time, lo), pc.less(time, hi)))
            parts.append(table if consume is None else consume(table))
    return WindowData(parts=tuple(parts), partitions=tuple(read), problems=tuple(problems))
