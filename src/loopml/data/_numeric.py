"""Mergeable accumulator of a numeric (INT / FLOAT) column: exact moments, deterministic quantiles.

Exact: counts, zeros, NaN, ±inf, min, max, mean and population standard deviation (per-batch
two-pass moments merged with Chan et al.'s parallel formula, numerically stable).
Median, quantiles and both histograms come from a :class:`~loopml.data._quantiles.QuantileSummary`:
exact while a feature has at most 100,000 distinct finite values, then a deterministic compactor
with a guaranteed normalised rank error (at most 0.25 %; the feature's ``approximate`` note gives the
bound reached). No randomness: the same input gives the same bytes. Quantiles are NumPy's
``inverted_cdf`` ones (a value of the data; the median of an even count is the lower middle value).
The STANDARD equal-width histogram counts the values at or below 10 equal-width edges between the
finite min and max, so in exact mode its counts are exact.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from loopml.data._quantiles import CAPACITY, EXACT_DISTINCT, MAX_RANK_ERROR, STORED_ITEMS, QuantileSummary
from loopml.data.statistics import Bucket, Histogram, HistogramType, NumericStatistics, Quantile

NUM_BUCKETS = 10
QUANTILE_RANKS = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
_EDGE_RANKS = np.linspace(0.0, 1.0, NUM_BUCKETS + 1)  # the QUANTILES histogram's edges
_ALL_RANKS = np.concatenate([QUANTILE_RANKS, _EDGE_RANKS])  # both, looked up at once
SLAB_VALUES = 1 << 19
"""Values (4 MB) per slab of columns that :func:`update_columns` hands to NumPy at once."""
SLAB_ROWS = 4_096
"""Batches of at least this many rows are done one column at a time (the slab would be one more copy)."""
_NARROW_TYPES = (np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.float32))


def approximate_note(rank_error: float) -> str:
    """The ``approximate`` note of a numeric feature whose summary left exact mode."""
    return (
        f"median, quantiles, histograms: more than {EXACT_DISTINCT:,} distinct values, deterministic "
        f"compactor (capacity {CAPACITY}); normalised rank error <= {rank_error:.4%} (guaranteed; "
        f"always <= {MAX_RANK_ERROR:.2%}); STANDARD bucket counts within ±{2 * rank_error:.4%} of the "
        f"finite count; the stored sketch adds <= {1 / STORED_ITEMS:.4%}"
    )


class NumericAccumulator:
    """Accumulates one numeric column; ``update(array)``, ``merge(other)``, ``result()``."""

    __slots__ = (
        "_fmax",
        "_fmin",
        "_m2",
        "_max",
        "_mean",
        "_min",
        "_n_finite",
        "missing",
        "nan",
        "neg_inf",
        "non_missing",
        "pos_inf",
        "summary",
        "zeros",
    )

    def __init__(self) -> None:
        self.non_missing = 0
        self.missing = 0
        self.zeros = 0
        self.nan = 0
        self.pos_inf = 0
        self.neg_inf = 0
        self._min = math.inf
        self._max = -math.inf
        self._n_finite = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._fmin = math.inf  # finite min / max (a compacted summary may have dropped them)
        self._fmax = -math.inf
        self.summary = QuantileSummary()

    def update(self, array: pa.Array | pa.ChunkedArray) -> None:
        """Add a batch of values (nulls count as missing)."""
        self.summary.release_blocks()  # values shared with a slab (update_columns) are copied once
        nulls = array.null_count
        self.missing += nulls
        if nulls == len(array):
            return
        values = array.drop_null() if nulls else array
        if pa.types.is_boolean(values.type) or pa.types.is_decimal(values.type):
            values = values.cast(pa.float64())
        v = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
        self.non_missing += v.size
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, or an overflow: the masked path
            total = float(np.add.reduce(v))  # what finite.mean() sums first: NaN or ±inf make it non-finite
        if math.isfinite(total):  # every value finite: no mask needed
            mean = total / v.size  # the bits of v.mean()
            deviations = v - mean
            m2 = float(np.multiply(deviations, deviations, out=deviations).sum())  # np.square's bits
            del deviations
            zeros = int(np.count_nonzero(v == 0))
            lo, hi = float(v.min()), float(v.max())
            self._add_finite(v, zeros=zeros, lo=lo, hi=hi, mean=mean, m2=m2, borrowed=False)
            return
        nan_mask = np.isnan(v)
        finite_mask = np.isfinite(v)
        n_nan = int(nan_mask.sum())
        self.nan += n_nan
        n_finite = int(finite_mask.sum())
        n_inf = v.size - n_nan - n_finite
        if n_inf:
            pos = int(np.count_nonzero(v == np.inf))
            self.pos_inf += pos
            self.neg_inf += n_inf - pos
        self.zeros += int(np.count_nonzero(v == 0))
        finite = v if n_finite == v.size else v[finite_mask]
        lo = hi = math.nan
        if n_nan < v.size:
            not_nan = v if n_nan == 0 else v[~nan_mask]
            lo, hi = float(not_nan.min()), float(not_nan.max())
            self._min = min(self._min, lo)
            self._max = max(self._max, hi)
        if n_finite:
            mean = float(finite.mean())
            m2 = float(np.square(finite - mean).sum())
            self._combine(n_finite, mean, m2)
            if n_finite < v.size - n_nan:  # infinities in the batch: its finite range is narrower
                lo, hi = float(finite.min()), float(finite.max())
            self._fmin = min(self._fmin, lo)
            self._fmax = max(self._fmax, hi)
            self.summary.update(finite)

    def _add_finite(
        self,
        v: np.ndarray,
        *,
        zeros: int,
        lo: float,
        hi: float,
        mean: float,
        m2: float,
        borrowed: bool = True,
    ) -> None:
        """Add values that are all finite (counted in :attr:`non_missing` already), their figures
        computed already.

        ``borrowed``: ``v`` is kept as it is (see :meth:`QuantileSummary.extend`): no ``-0.0``, never
        changed later; otherwise the summary takes a copy with ``-0.0`` made ``0.0``.
        """
        self.zeros += zeros
        self._min = min(self._min, lo)
        self._max = max(self._max, hi)
        self._combine(v.size, mean, m2)
        self._fmin = min(self._fmin, lo)
        self._fmax = max(self._fmax, hi)
        if borrowed:
            self.summary.extend(v)
        else:
            self.summary.update(v)

    def _combine(self, n: int, mean: float, m2: float) -> None:
        total = self._n_finite + n
        delta = mean - self._mean
        self._mean += delta * n / total
        self._m2 += m2 + delta * delta * self._n_finite * n / total
        self._n_finite = total

    def flush(self) -> None:
        """Count the buffered values now (see :meth:`QuantileSummary.flush`)."""
        self.summary.flush()

    def merge(self, other: NumericAccumulator) -> None:
        """Fold ``other`` (same column, another partition) into this one."""
        self.non_missing += other.non_missing
        self.missing += other.missing
        self.zeros += other.zeros
        self.nan += other.nan
        self.pos_inf += other.pos_inf
        self.neg_inf += other.neg_inf
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)
        if other._n_finite:
            self._combine(other._n_finite, other._mean, other._m2)
            self._fmin = min(self._fmin, other._fmin)
            self._fmax = max(self._fmax, other._fmax)
            self.summary.merge(other.summary)

    def result(self) -> NumericStatistics:
        """The statistics so far."""
        nan = math.nan
        n = self._n_finite
        has_any = self._min <= self._max
        if not n:
            return NumericStatistics(
                mean=nan,
                std_dev=nan,
                num_zeros=self.zeros,
                num_nan=self.nan,
                num_pos_inf=self.pos_inf,
                num_neg_inf=self.neg_inf,
                min=self._min if has_any else nan,
                max=self._max if has_any else nan,
                median=nan,
                # only infinities: TFDV's infinite buckets, so drift still sees them
                histograms=(self._standard_histogram(),) if self.pos_inf or self.neg_inf else (),
                quantiles=(),
            )
        found = self.summary.quantiles(_ALL_RANKS).tolist()
        qs, edges = found[: len(QUANTILE_RANKS)], found[len(QUANTILE_RANKS) :]
        # ranks 0 and 1 are the true finite min and max (a compacted summary may no longer hold them)
        qs[0], qs[-1] = self._fmin, self._fmax
        sketch = base64.b64encode(self.summary.to_bytes()).decode("ascii")
        histograms = (self._standard_histogram(), self._quantiles_histogram(edges))
        self.summary.forget_view()
        return NumericStatistics(
            mean=self._mean,
            std_dev=math.sqrt(max(self._m2 / n, 0.0)),
            num_zeros=self.zeros,
            num_nan=self.nan,
            num_pos_inf=self.pos_inf,
            num_neg_inf=self.neg_inf,
            min=self._min,
            max=self._max,
            median=qs[QUANTILE_RANKS.index(0.5)],
            quantiles=tuple(Quantile(rank=r, value=v) for r, v in zip(QUANTILE_RANKS, qs, strict=True)),
            histograms=histograms,
            sketch=sketch,
        )

    def _standard_histogram(self) -> Histogram:
        """Equal-width buckets over the finite range, with TFDV's point buckets for ±inf.

        As TFDV's: a ``[-inf, -inf]`` bucket first when there are negative infinities and an
        ``[inf, inf]`` bucket last when there are positive ones; all-equal finite values make one
        point bucket.
        """
        lo, hi = self._fmin, self._fmax
        n = self._n_finite
        buckets: list[Bucket] = []
        if self.neg_inf:
            buckets.append(
                Bucket(low_value=-math.inf, high_value=-math.inf, sample_count=float(self.neg_inf))
            )
        if not n:
            pass
        elif lo == hi:
            buckets.append(Bucket(low_value=lo, high_value=hi, sample_count=float(n)))
        else:
            edges = np.linspace(lo, hi, NUM_BUCKETS + 1)
            # Count at or below each inner edge → (low, high] buckets, the first one closed: a value
            # on an edge goes in the lower bucket, as in TFDV.
            below = self.summary.counts_at_or_below(edges[1:-1])
            counts = np.diff(np.concatenate(([0], below, [n]))).tolist()
            bounds = edges.tolist()
            buckets.extend(
                Bucket(low_value=bounds[i], high_value=bounds[i + 1], sample_count=float(counts[i]))
                for i in range(NUM_BUCKETS)
            )
        if self.pos_inf:
            buckets.append(Bucket(low_value=math.inf, high_value=math.inf, sample_count=float(self.pos_inf)))
        return Histogram(type=HistogramType.STANDARD, buckets=tuple(buckets), num_nan=self.nan)

    def _quantiles_histogram(self, edges: list[float]) -> Histogram:
        """Equal-mass buckets between ``edges``, the values at ranks 0, 0.1, … 1 of the summary."""
        edges[0], edges[-1] = self._fmin, self._fmax
        each = self._n_finite / NUM_BUCKETS
        buckets = tuple(
            Bucket(low_value=edges[i], high_value=edges[i + 1], sample_count=each) for i in range(NUM_BUCKETS)
        )
        return Histogram(type=HistogramType.QUANTILES, buckets=buckets, num_nan=self.nan)

    def is_exact(self) -> bool:
        """True while every finite value is counted exactly."""
        return self.summary.is_exact


def update_columns(
    accumulators: Sequence[NumericAccumulator], arrays: Sequence[pa.Array | pa.ChunkedArray]
) -> None:
    """``acc.update(array)`` for each pair: null-free integer or floating columns of one batch.

    The same figures, bit for bit, with NumPy reducing a slab of columns per call instead of
    running a dozen calls per column: data with thousands of columns spent most of its time in
    the per-call overhead. Columns holding NaN or ±inf take :meth:`NumericAccumulator.update`.
    The quantile summaries buffer their values as rows of a few blocks per slab, each block in
    the narrowest exact dtype (see :func:`narrowest_rows`): no small array per column and batch.
    """
    rows = len(arrays[0]) if arrays else 0
    if not rows:
        return
    if rows >= SLAB_ROWS:  # long columns: call overhead is small, and float64 ones are read in place
        for acc, array in zip(accumulators, arrays, strict=True):
            acc.update(array)
        return
    step = max(1, SLAB_VALUES // rows)
    for start in range(0, len(arrays), step):
        slab_arrays = arrays[start : start + step]
        slab_accs = accumulators[start : start + step]
        values = np.empty((len(slab_arrays), rows), np.float64)
        for i, array in enumerate(slab_arrays):
            values[i] = array.to_numpy(zero_copy_only=False)
        finite = np.isfinite(values).all(axis=1)
        if not finite.all():
            for i in np.flatnonzero(~finite).tolist():
                slab_accs[i].update(slab_arrays[i])
            keep = np.flatnonzero(finite)
            values, slab_accs = values[keep], [slab_accs[i] for i in keep.tolist()]
        means = values.mean(axis=1)  # a C-contiguous row reduces as a 1-D array does: same bits
        deviations = values - means[:, None]
        m2s = np.square(deviations, out=deviations).sum(axis=1).tolist()
        del deviations
        zeros = np.count_nonzero(values == 0, axis=1).tolist()
        lows, highs = values.min(axis=1), values.max(axis=1)
        np.add(values, 0.0, out=values)  # one zero for the summaries: -0.0 and 0.0 print differently
        kept = narrowest_rows(values, lows, highs)
        del values
        low_list, high_list = lows.tolist(), highs.tolist()
        for i, (acc, mean) in enumerate(zip(slab_accs, means.tolist(), strict=True)):
            acc.non_missing += kept[i].size
            acc._add_finite(kept[i], zeros=zeros[i], lo=low_list[i], hi=high_list[i], mean=mean, m2=m2s[i])


def narrowest_rows(values: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> list[np.ndarray]:
    """Each row of the finite 2-D ``values`` (``lows`` / ``highs``: its minima and maxima), exactly.

    Rows are grouped by the narrowest of int8, int16, int32, float32 and float64 that holds every
    value of the row, and each group is copied into one block of that dtype; the rows returned are
    views of those blocks (a float64 row of an all-float64 slab is a view of ``values`` itself).
    The first value of a row rules most rows out of the integer and float32 checks at no cost.
    """
    count = values.shape[0]
    codes = np.full(count, len(_NARROW_TYPES), np.intp)  # an index into _NARROW_TYPES; past it: float64
    if count and values.shape[1]:
        first = values[:, 0]
        maybe_int = np.flatnonzero((first == np.trunc(first)) & (lows >= -(2**31)) & (highs < 2**31))
        if maybe_int.size:
            sub = values[maybe_int]
            whole = maybe_int[(sub == sub.astype(np.int32)).all(axis=1)]
            del sub
            low, high = lows[whole], highs[whole]
            fits8, fits16 = (low >= -(2**7)) & (high < 2**7), (low >= -(2**15)) & (high < 2**15)
            codes[whole] = np.select([fits8, fits16], [0, 1], 2)
        rest = np.flatnonzero(codes == len(_NARROW_TYPES))
        with np.errstate(over="ignore", invalid="ignore"):  # out of float32's range: not exact, kept float64
            rest = rest[first[rest].astype(np.float32) == first[rest]]
            if rest.size:
                sub = values[rest]
                codes[rest[(sub.astype(np.float32) == sub).all(axis=1)]] = 3
                del sub
    blocks: dict[int, np.ndarray] = {}
    rank = np.empty(count, np.intp)  # a row's place in its block
    for code in np.unique(codes).tolist():
        members = np.flatnonzero(codes == code)
        rank[members] = np.arange(members.size)
        if code == len(_NARROW_TYPES) and members.size == count:
            blocks[code] = values
        else:
            dtype = _NARROW_TYPES[code] if code < len(_NARROW_TYPES) else np.dtype(np.float64)
            blocks[code] = values[members].astype(dtype, copy=False)
    return [blocks[code][row] for code, row in zip(codes.tolist(), rank.tolist(), strict=True)]
