"""``compute_statistics``: statistics of a dataset with the chosen engine."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from loopml.data._memory import release_freed_memory
from loopml.data.engines.local import run_local
from loopml.data.sources import BATCH_ROWS, CsvColumnTooNarrow, DataInput, open_source
from loopml.data.statistics import DatasetStatistics
from loopml.errors import InvalidInput

__all__ = ["ENGINES", "compute_statistics"]

ENGINES = ("local", "ray")


def compute_statistics(
    data: DataInput,
    *,
    engine: str = "local",
    file_format: str | None = None,
    max_workers: int | None = None,
    batch_rows: int = BATCH_ROWS,
    name: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> DatasetStatistics:
    """Compute TFDV-style statistics of ``data``, streaming record batches.

    Args:
        data: Path(s), a folder (hive partitions become columns), a pandas DataFrame or an Arrow table.
        engine: ``"local"`` (process pool across files / row groups) or ``"ray"`` (needs ``loopml[ray]``).
        file_format: ``"csv"`` or ``"parquet"``; default from the file names.
        max_workers: Worker processes / Ray tasks in flight (default: CPU count).
        batch_rows: Rows per record batch; bounds memory per worker.
        name: A name stored with the statistics.
        progress: Called with ``(done, total)`` as partitions finish (for progress bars).

    Returns:
        The statistics; exact except where each feature's ``approximate`` notes say otherwise.

    Raises:
        InvalidInput: unreadable, empty or inconsistent data, or an unknown engine.
        MissingDependency: ``engine="ray"`` without the ``ray`` extra.

    Example:
        >>> import pyarrow as pa
        >>> s = compute_statistics(pa.table({"x": [1.0, 2.0, 3.0]}))
        >>> s.num_examples, s.get_feature("x").num_stats.max
        (3, 3.0)
    """
    if batch_rows < 1:
        raise InvalidInput(f"batch_rows must be at least 1. Got {batch_rows}.")
    if engine not in ENGINES:
        raise InvalidInput(f"engine must be one of {', '.join(ENGINES)}. Got {engine!r}.")
    # CSV types come from the first block; a later value that does not fit widens its column
    # (int64 → float64 → string) and the data is read again: types hold for the whole file.
    widened: dict[str, pa.DataType] = {}
    while True:
        source = open_source(data, file_format=file_format, column_types=widened)
        if source.paths:  # a wide CSV's type inference leaves ~100 MB of freed heap and pool pages
            release_freed_memory(force=True)
        try:
            if engine == "local":
                acc = run_local(
                    source.units, max_workers=max_workers, batch_rows=batch_rows, progress=progress
                )
            else:
                from loopml.data.engines.ray import run_ray  # optional extra, imported only when chosen

                acc = run_ray(source.units, max_workers=max_workers, batch_rows=batch_rows, progress=progress)
            break
        except CsvColumnTooNarrow as narrow:
            wider = pa.float64() if narrow.wider == "float64" else pa.string()
            if widened.get(narrow.column) == wider:
                raise  # widening did not help: report the conversion error
            widened[narrow.column] = wider
    labels = source.paths or tuple(u.label for u in source.units)
    return acc.result(name=name, sources=labels, consume=True)
