"""The dataset-level statistics accumulator: one column accumulator per feature.

Example:
    >>> import pyarrow as pa
    >>> acc = StatisticsAccumulator()
    >>> acc.update(pa.record_batch({"x": [1, 2, None], "s": ["a", "b", "a"]}))
    >>> other = StatisticsAccumulator()
    >>> other.update(pa.record_batch({"x": [4], "s": ["a"]}))
    >>> acc.merge(other)
    >>> stats = acc.result()
    >>> stats.num_examples, stats.get_feature("x").num_stats.mean, stats.get_feature("s").string_stats.unique
    (4, 2.3333333333333335, 2)
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from loopml.data import _categorical, _numeric
from loopml.data._categorical import CategoricalAccumulator
from loopml.data._memory import release_freed_memory
from loopml.data._numeric import NumericAccumulator
from loopml.data.statistics import DatasetStatistics, FeatureStatistics, FeatureType
from loopml.errors import InvalidInput

__all__ = ["StatisticsAccumulator", "feature_type_of"]


def feature_type_of(arrow_type: pa.DataType) -> FeatureType | None:
    """The TFDV-style feature type of an Arrow type; None for nested types (not profiled)."""
    t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    if pa.types.is_boolean(t):
        return FeatureType.BOOL
    if pa.types.is_integer(t) or pa.types.is_temporal(t):
        return FeatureType.INT
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return FeatureType.FLOAT
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_null(t):
        return FeatureType.STRING
    if pa.types.is_large_binary(t):
        return FeatureType.STRING
    return None


class _Column:
    __slots__ = ("acc", "arrow_type", "type")

    def __init__(self, ftype: FeatureType, arrow_type: pa.DataType) -> None:
        self.type = ftype
        self.arrow_type = str(arrow_type)
        self.acc: NumericAccumulator | CategoricalAccumulator = (
            NumericAccumulator()
            if ftype in (FeatureType.INT, FeatureType.FLOAT)
            else CategoricalAccumulator()
        )


class StatisticsAccumulator:
    """Accumulates statistics over record batches; partitions merge with :meth:`merge`."""

    __slots__ = ("_columns", "num_examples", "skipped", "sources")

    def __init__(self) -> None:
        self.num_examples = 0
        self._columns: dict[str, _Column] = {}
        self.sources: list[str] = []
        self.skipped: dict[str, str] = {}

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Add one batch (columns not seen before start with this batch's rows missing before it)."""
        rows = batch.num_rows
        names = batch.schema.names
        plain: list[NumericAccumulator] = []  # null-free integer / floating columns: done together
        plain_columns: list[pa.Array | pa.ChunkedArray] = []
        for name, column in zip(names, batch.columns, strict=True):
            col = self._columns.get(name)
            if col is None:
                ftype = feature_type_of(column.type)
                if ftype is None:
                    self.skipped[name] = str(column.type)
                    continue
                col = self._columns[name] = _Column(ftype, column.type)
                col.acc.missing += self.num_examples
            if pa.types.is_temporal(column.type):
                column = column.cast(pa.int64())
            acc = col.acc
            if (
                isinstance(acc, NumericAccumulator)
                and not column.null_count
                and (pa.types.is_integer(column.type) or pa.types.is_floating(column.type))
            ):
                plain.append(acc)
                plain_columns.append(column)
            else:
                acc.update(column)
        _numeric.update_columns(plain, plain_columns)
        present = set(names)
        for name, col in self._columns.items():
            if name not in present:
                col.acc.missing += rows
        self.num_examples += rows

    def flush(self) -> None:
        """Do the work buffered for later now, in the calling thread; the statistics are unchanged.

        Numeric columns buffer values and sort them when they are merged or read; a partition
        finished in a background thread flushes there, so the main thread's merge stays cheap.
        """
        for col in self._columns.values():
            if isinstance(col.acc, NumericAccumulator):
                col.acc.flush()

    def merge(self, other: StatisticsAccumulator) -> None:
        """Fold another partition's accumulator into this one.

        Raises:
            InvalidInput: a feature has different types in the two partitions.
        """
        for name, theirs in other._columns.items():
            mine = self._columns.get(name)
            if mine is None:
                theirs.acc.missing += self.num_examples
                self._columns[name] = theirs
                continue
            if mine.type != theirs.type:
                raise InvalidInput(
                    f"Feature {name!r} is {mine.type} ({mine.arrow_type}) in one partition and "
                    f"{theirs.type} ({theirs.arrow_type}) in another. Make the column's type consistent."
                )
            mine.acc.merge(theirs.acc)  # type: ignore[arg-type]
        for name, mine in self._columns.items():
            if name not in other._columns:
                mine.acc.missing += other.num_examples
        self.num_examples += other.num_examples
        self.sources.extend(other.sources)
        self.skipped.update(other.skipped)

    def result(
        self, *, name: str = "", sources: Sequence[str] | None = None, consume: bool = False
    ) -> DatasetStatistics:
        """The dataset statistics so far.

        With ``consume=True`` each feature's working state (exact counts, pending values) is freed
        as soon as its statistics are built, and the accumulator holds no feature afterwards: peak
        memory is then about the larger of the two, not their sum (wide data has thousands of them).
        """
        columns = self._columns
        if consume:
            self._columns = {}
        features = []
        for fname in list(columns):
            col = columns.pop(fname) if consume else columns[fname]
            acc = col.acc
            if isinstance(acc, NumericAccumulator):
                notes = () if acc.is_exact() else (_numeric.approximate_note(acc.summary.rank_error),)
                num, string = acc.result(), None
            else:
                notes = () if acc.is_exact() else (_categorical.APPROXIMATE_NOTE,)
                num, string = None, acc.result()
            features.append(
                FeatureStatistics(
                    name=fname,
                    type=col.type,
                    arrow_type=col.arrow_type,
                    num_non_missing=acc.non_missing,
                    num_missing=acc.missing,
                    num_stats=num,
                    string_stats=string,
                    approximate=notes,
                )
            )
            if consume:
                release_freed_memory()  # the freed state's pages, before more results are built
        return DatasetStatistics(
            name=name,
            num_examples=self.num_examples,
            features=tuple(features),
            sources=tuple(sources if sources is not None else dict.fromkeys(self.sources)),
        )
