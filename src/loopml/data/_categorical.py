"""Mergeable accumulator of a STRING or BOOL column: exact counts up to a cap, then sketches.

Arrow's ``value_counts`` does the counting, over up to :data:`RAW_ROWS` buffered rows at a time
(a wide file's small batches are counted together), and Arrow's group-by combines the counts
(vectorised; no Python code per value). Values are counted exactly while a column has at most
:data:`~loopml.data.statistics.EXACT_DISTINCT_CAP` distinct values; beyond that the column switches
to an HLL sketch (lg_k = 12: relative standard error ≈ 1.6 %) for ``unique`` and a DataSketches
frequent-items sketch (lg_max_map_size = 14: each frequency within ±0.0213 % of the column's
count) for ``top_values`` / ``rank_histogram``. ``avg_length`` is always exact.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from datasketches import frequent_items_error_type, frequent_strings_sketch, hll_sketch, hll_union

from loopml.data.statistics import EXACT_DISTINCT_CAP, RankBucket, StringStatistics, ValueCount

HLL_LG_K = 12
FREQ_LG_MAX = 14
NUM_TOP_VALUES = 20
NUM_RANK_BUCKETS = 1000
COMPACT_ROWS = 1 << 20
RAW_ROWS = 1 << 16
"""Values buffered as they came before ``value_counts`` runs on them (one call for many small batches)."""
RAW_ARRAYS = 4
"""Arrays buffered before they are counted, whatever their rows: each pins its batch's buffers and
about 0.5 KB of Arrow objects; a wide file's batches of ~128 rows would pile up thousands of them."""
_EMPTY = pa.table({"value": pa.array([], pa.string()), "count": pa.array([], pa.int64())})
FREQ_EPSILON = frequent_strings_sketch.get_epsilon_for_lg_size(FREQ_LG_MAX)
APPROXIMATE_NOTE = (
    f"unique: HLL lg_k={HLL_LG_K}, relative standard error ≈ 1.6%; top_values/rank_histogram: frequent "
    f"items sketch, each frequency within ±{FREQ_EPSILON:.5%} of the feature's count"
)


def _as_strings(values: pa.Array) -> list[str]:
    return [str(v) for v in values.to_pylist()]


def _value_counts(array: pa.Array | pa.ChunkedArray) -> pa.Table:
    counted = pc.value_counts(array)
    values = counted.field("values")
    if values.type != pa.string():
        values = values.cast(pa.string())
    return pa.Table.from_arrays([values, counted.field("counts")], names=["value", "count"])


class CategoricalAccumulator:
    """Accumulates one categorical column; ``update(array)``, ``merge(other)``, ``result()``.

    Exact mode keeps an Arrow table of (value, count); per-batch counts are appended and combined
    with Arrow's hash group-by once :data:`COMPACT_ROWS` rows are pending, so no Python code runs
    per value. Beyond the distinct cap, pending counts are combined the same way and then feed the
    sketches: one Python call per distinct value of each window of :data:`COMPACT_ROWS` counted
    rows (DataSketches has no bulk update for these sketches), so repeated values across batches
    cost one call, not one per batch.
    """

    __slots__ = (
        "_freq",
        "_hll",
        "_pending",
        "_pending_rows",
        "_raw",
        "_raw_rows",
        "_table",
        "missing",
        "non_missing",
        "total_length",
    )

    def __init__(self) -> None:
        self.non_missing = 0
        self.missing = 0
        self.total_length = 0
        self._table: pa.Table | None = _EMPTY
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._raw: list[pa.Array] = []
        self._raw_rows = 0
        self._hll: hll_sketch | None = None
        self._freq: frequent_strings_sketch | None = None

    def update(self, array: pa.Array | pa.ChunkedArray) -> None:
        """Add a batch of values (nulls count as missing)."""
        nulls = array.null_count
        self.missing += nulls
        if nulls == len(array) or pa.types.is_null(array.type):
            return
        if pa.types.is_dictionary(array.type):
            array = array.cast(array.type.value_type)
        self.non_missing += len(array) - nulls
        kept = array.drop_null() if nulls else array
        # chunks, not ChunkedArrays: pa.chunked_array() of ChunkedArrays converts them value by value
        self._raw.extend(kept.chunks if isinstance(kept, pa.ChunkedArray) else (kept,))
        self._raw_rows += len(array) - nulls
        if self._raw_rows >= RAW_ROWS or len(self._raw) >= RAW_ARRAYS:
            self._count_raw()

    def _count_raw(self) -> None:
        """Count the buffered values (one ``value_counts`` for all of them)."""
        if not self._raw:
            return
        raw = self._raw[0] if len(self._raw) == 1 else pa.chunked_array(self._raw)
        self._raw, self._raw_rows = [], 0
        counts = _value_counts(raw)
        # avg_length is in UTF-8 bytes, as TFDV's
        if pa.types.is_boolean(raw.type):
            lengths = pc.multiply(pc.binary_length(counts.column("value")), counts.column("count"))
            self.total_length += int(pc.sum(lengths).as_py() or 0)
        else:
            self.total_length += int(pc.sum(pc.binary_length(raw)).as_py() or 0)
        self._add(counts)

    def _add(self, counts: pa.Table) -> None:
        self._pending.append(counts)
        self._pending_rows += counts.num_rows
        if self._pending_rows >= COMPACT_ROWS:
            self._compact()

    def _compact(self) -> None:
        """Combine pending per-batch counts with Arrow's group-by; feed them on in sketch mode."""
        self._count_raw()
        if not self._pending:
            return
        parts = self._pending if self._table is None else [self._table, *self._pending]
        if len(parts) > 1 and not parts[0].num_rows:
            parts = parts[1:]  # nothing counted yet
        self._pending, self._pending_rows = [], 0
        if len(parts) == 1:
            grouped = parts[0]  # one table of counts: its values are distinct already
        else:
            merged = pa.concat_tables(parts)
            # one thread: rows come out in first-seen order, so sketches are fed in the same order every run
            grouped = merged.group_by("value", use_threads=False).aggregate([("count", "sum")])
            grouped = grouped.rename_columns(["value", "count"]).select(["value", "count"])
        if self._table is None:
            self._feed(grouped)
            return
        self._table = grouped
        if self._table.num_rows > EXACT_DISTINCT_CAP:
            self._to_sketches()

    def _feed(self, counts: pa.Table) -> None:
        # DataSketches' Python binding has no bulk update for HLL or frequent items: one call per
        # distinct value of a compaction window (≈ 1.4 s per million values on one core).
        assert self._hll is not None and self._freq is not None
        hll, freq = self._hll, self._freq
        values = _as_strings(counts.column("value"))
        for v, c in zip(values, counts.column("count").to_pylist(), strict=True):
            hll.update(v)
            freq.update(v, c)

    def _to_sketches(self) -> None:
        self._compact()
        if self._table is None:  # compacting crossed the cap and switched already
            return
        table, self._table = self._table, None
        self._hll = hll_sketch(HLL_LG_K)
        self._freq = frequent_strings_sketch(FREQ_LG_MAX)
        self._feed(table)

    def merge(self, other: CategoricalAccumulator) -> None:
        """Fold ``other`` (same column, another partition) into this one."""
        self._count_raw()  # this partition's values come first, as they came first
        other._count_raw()  # adds to other.total_length
        self.non_missing += other.non_missing
        self.missing += other.missing
        self.total_length += other.total_length
        if other._table is not None and self._table is not None:
            # both exact: take the counts as they are, combined once COMPACT_ROWS counts are
            # pending (or at the end), not once per partition
            for counts in (other._table, *other._pending):
                if counts.num_rows:
                    self._add(counts)
            return
        other._compact()  # may switch ``other`` to sketches
        if other._table is not None:
            self._add(other._table)
            return
        if self._table is not None:
            self._to_sketches()
        assert self._hll is not None and self._freq is not None
        assert other._hll is not None and other._freq is not None
        union = hll_union(HLL_LG_K)
        union.update(self._hll)
        union.update(other._hll)
        self._hll = union.get_result()
        self._freq.merge(other._freq)

    def result(self) -> StringStatistics:
        """The statistics so far; top values sorted by frequency, ties by the larger value first (as TFDV)."""
        self._compact()  # may switch to sketches
        if self._table is not None:
            table = self._table
            order = pc.sort_indices(table, sort_keys=[("count", "descending"), ("value", "descending")])
            top = table.take(order[:NUM_RANK_BUCKETS])
            items = list(zip(top.column("value").to_pylist(), top.column("count").to_pylist(), strict=True))
            unique = table.num_rows
        else:
            assert self._hll is not None and self._freq is not None
            found = self._freq.get_frequent_items(frequent_items_error_type.NO_FALSE_NEGATIVES)
            items = sorted(
                ((v, int(est)) for v, est, _lo, _hi in found), key=lambda kv: (kv[1], kv[0]), reverse=True
            )
            items = items[:NUM_RANK_BUCKETS]
            unique = round(self._hll.get_estimate())
        avg = self.total_length / self.non_missing if self.non_missing else 0.0
        return StringStatistics(
            unique=unique,
            avg_length=avg,
            is_exact=self._table is not None,
            top_values=tuple(ValueCount(value=v, frequency=float(c)) for v, c in items[:NUM_TOP_VALUES]),
            rank_histogram=tuple(
                RankBucket(low_rank=i, high_rank=i, label=v, sample_count=float(c))
                for i, (v, c) in enumerate(items)
            ),
        )

    def is_exact(self) -> bool:
        """True while values are counted exactly (counting what is buffered may cross the cap)."""
        self._compact()
        return self._table is not None

    def __getstate__(self) -> dict[str, Any]:
        self._compact()
        return {
            "non_missing": self.non_missing,
            "missing": self.missing,
            "total_length": self.total_length,
            "_table": self._table,
            "_hll": self._hll.serialize_compact() if self._hll is not None else None,
            "_freq": self._freq.serialize() if self._freq is not None else None,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.non_missing = state["non_missing"]
        self.missing = state["missing"]
        self.total_length = state["total_length"]
        self._table = state["_table"]
        self._pending, self._pending_rows = [], 0
        self._raw, self._raw_rows = [], 0
        self._hll = hll_sketch.deserialize(state["_hll"]) if state["_hll"] is not None else None
        self._freq = (
            frequent_strings_sketch.deserialize(state["_freq"]) if state["_freq"] is not None else None
        )
