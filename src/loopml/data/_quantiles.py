"""A deterministic, mergeable quantile summary of numeric values: exact counts, then a compactor.

Exact mode keeps every distinct value with its count (sorted arrays, merged with NumPy), so
medians, quantiles and histogram counts are exact while a feature has at most
:data:`EXACT_DISTINCT` distinct values. Past that it switches to a compactor hierarchy without
randomness: level ``h`` holds items of weight ``2**h`` (an exact count ``c`` is split over the
levels of its binary digits, which loses nothing); a level holding more than :data:`CAPACITY`
items is sorted and every other item moves up one level, the kept half alternating between odd
and even positions from one compaction to the next. One compaction moves any rank by at most the
weight of one item, ``2**h``; the summary adds those weights up, so :attr:`rank_error` is a
guaranteed bound, not a probabilistic one. A level compacts only with more than ``CAPACITY``
items, so each level's compactions move ranks by at most ``n / CAPACITY`` in total and the bound
is at most ``levels / CAPACITY``: under 0.25 % for any ``n`` below ``CAPACITY * 2**40``.

Same input, same order of updates and merges: same bytes. No value is drawn at random. Runs of
values are sorted in the narrowest type that holds them exactly (small-span integers by a radix
sort, float32-exact values as float32) or not at all when already in order: the bits of a float64
sort either way, so the path taken changes no result.

Quantiles follow NumPy's ``method="inverted_cdf"``: the value at rank ``q`` is the smallest value
whose cumulative count reaches ``q * n`` (rank 0 is the minimum, rank 1 the maximum, the median
of an even count is the lower middle value). No interpolation: every quantile is a value of the data.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EXACT_DISTINCT = 100_000
"""Distinct values counted exactly per feature; beyond them the compactor takes over."""
CAPACITY = 16_384
"""Items per compactor level before it compacts (bounds the rank error; see the module docstring)."""
STORED_ITEMS = 1_024
"""Items kept in the serialised form (:meth:`QuantileSummary.to_bytes`): adds at most ``1/STORED_ITEMS``."""
MAX_RANK_ERROR = 0.0025
PENDING_VALUES = 1 << 18
"""Values buffered in exact mode before they are counted (2 MB as float64; narrower dtypes take less)."""
_PROBE = 4_096  # values looked at to choose between hash counting and sorting
_HEAD = 64  # values looked at before a full check (already sorted? narrower type?)
_MAGIC = b"LQS2"
_HEADER = struct.Struct("<4sqqqcc")  # magic, n, rank error, items, value dtype, count dtype
_MAGIC_V1 = b"LQS1"  # written before 2026-12: float64 values and int64 cumulative counts
_HEADER_V1 = struct.Struct("<4sqqq")  # magic, n, absolute rank error, number of items
_VALUE_TYPES = (b"b", b"h", b"i", b"f", b"d")  # int8, int16, int32, float32, float64 (little-endian)
_COUNT_TYPES = (b"B", b"H", b"I", b"Q")  # uint8 … uint64


class QuantileSummary:
    """Values with (approximate beyond :data:`EXACT_DISTINCT` distinct) counts; see the module docstring.

    Example:
        >>> s = QuantileSummary()
        >>> s.update(np.array([3.0, 1.0, 2.0, 2.0]))
        >>> s.n, s.quantiles([0.0, 0.5, 1.0]).tolist(), s.cdf([2.0]).tolist(), s.rank_error
        (4, [1.0, 2.0, 3.0], [0.75], 0.0)
    """

    __slots__ = (
        "_borrowed",
        "_counts",
        "_error",
        "_flips",
        "_levels",
        "_pending",
        "_pending_size",
        "_values",
        "_view_cache",
        "n",
    )

    def __init__(self) -> None:
        self.n = 0
        self._error = 0  # absolute rank error bound, in items
        self._values = np.empty(0, np.float64)  # exact mode: sorted distinct values …
        self._counts = np.empty(0, np.int64)  # … and their counts
        self._levels: list[np.ndarray] | None = None  # compactor mode: items of weight 2**h
        self._flips: list[int] = []
        self._pending: list[np.ndarray] = []  # exact mode: raw values not counted yet …
        self._borrowed: list[np.ndarray] = []  # … and views of blocks shared with other summaries
        self._pending_size = 0
        self._view_cache: tuple[np.ndarray, np.ndarray] | None = None  # until the next change

    # --- building -------------------------------------------------------------------------

    def update(self, values: np.ndarray) -> None:
        """Add finite float64 values (``-0.0`` counts as ``0.0``)."""
        if values.size:
            self._take(values + 0.0, borrowed=False)  # a copy with one zero: -0.0 and 0.0 print differently

    def extend(self, values: np.ndarray) -> None:
        """Add finite values that the summary may keep as they are, without a copy.

        ``values`` holds no ``-0.0`` and is never written to afterwards; it may be a view of a
        block shared with other summaries (a slab of columns) and of any dtype holding the values
        exactly (int8 … int32, float32, float64): buffered so, a column of small integers takes 1-4
        bytes a value until it is counted. A view keeps its whole block alive until this summary
        counts its values or :meth:`release_blocks` copies them.
        """
        if values.size:
            self._take(values, borrowed=True)

    def _take(self, values: np.ndarray, *, borrowed: bool) -> None:
        self.n += int(values.size)
        self._view_cache = None
        if self._levels is not None:
            # levels hold a few sorted runs: compaction merges them
            run = _ordered(values.astype(np.float64, copy=False))
            self._add(0, run.copy() if borrowed and run is values else run)  # never a shared block's view
            self._compress()
            return
        (self._borrowed if borrowed else self._pending).append(values)
        self._pending_size += values.size
        if self._pending_size >= PENDING_VALUES:
            self._flush()

    def release_blocks(self) -> None:
        """Copy the values buffered as views of shared blocks (:meth:`extend`) into one array of its own.

        Each view is copied once, so a caller may call this before every update that does not
        share a block: no block then outlives the batches whose values this summary still buffers.
        """
        if self._borrowed:
            self._pending.append(np.concatenate(self._borrowed))  # promotes to a type holding them all
            self._borrowed = []

    def flush(self) -> None:
        """Count the values buffered so far now, in the calling thread (the summary is unchanged).

        Merging and queries count them anyway; a caller finishing a partition in a background
        thread calls this there, so that the merge on the main thread has no sorting left to do.
        """
        self._flush()

    def _flush(self) -> None:
        """Count the pending values (one sort or hash for many batches)."""
        pending = self._pending + self._borrowed
        if not pending:
            return
        values = pending[0] if len(pending) == 1 else np.concatenate(pending)  # promotes: exact
        values = values.astype(np.float64, copy=False)
        self._pending, self._borrowed, self._pending_size = [], [], 0
        distinct, counts = _count(values, few=0 < self._values.size * 4 < values.size)
        self._merge_counts(distinct, counts)

    def merge(self, other: QuantileSummary) -> None:
        """Fold ``other`` into this summary (deterministic for a given order of merges)."""
        if not other.n:
            return
        self._flush()
        other._flush()
        self._view_cache = None
        self.n += other.n
        self._error += other._error
        if self._levels is None and other._levels is None:
            self._merge_counts(other._values, other._counts)
            return
        if self._levels is None:
            self._to_levels()
        assert self._levels is not None
        if other._levels is None:
            for h, items in _binary_levels(other._values, other._counts):
                self._add(h, items)
        else:
            for h, items in enumerate(other._levels):
                self._add(h, items)
        self._compress()

    def _merge_counts(self, values: np.ndarray, counts: np.ndarray) -> None:
        if not self._values.size:
            self._values, self._counts = values, counts
        else:
            both = np.concatenate([self._values, values])
            weights = np.concatenate([self._counts, counts])
            order = np.argsort(both, kind="stable")
            both, weights = both[order], weights[order]
            starts = np.flatnonzero(np.concatenate(([True], both[1:] != both[:-1])))
            self._values, self._counts = both[starts], np.add.reduceat(weights, starts)
        if self._values.size > EXACT_DISTINCT:
            self._to_levels()
            self._compress()

    def _to_levels(self) -> None:
        self._levels = []
        for h, items in _binary_levels(self._values, self._counts):
            self._add(h, items)
        self._values, self._counts = np.empty(0, np.float64), np.empty(0, np.int64)

    def _add(self, level: int, items: np.ndarray) -> None:
        assert self._levels is not None
        while len(self._levels) <= level:
            self._levels.append(np.empty(0, np.float64))
            self._flips.append(0)
        current = self._levels[level]
        self._levels[level] = np.concatenate([current, items]) if current.size else items

    def _compress(self) -> None:
        assert self._levels is not None
        h = 0
        while h < len(self._levels):
            items = self._levels[h]
            if items.size > CAPACITY:
                # a level is a few sorted runs (sorted batches, compacted halves): merging is linear
                items = np.sort(items, kind="stable")
                paired = items.size - (items.size & 1)
                offset = self._flips[h]
                self._flips[h] ^= 1
                self._levels[h] = items[paired:]  # an odd one out stays at this level
                self._error += 1 << h
                self._add(h + 1, items[offset:paired:2])
            h += 1

    # --- queries --------------------------------------------------------------------------

    @property
    def is_exact(self) -> bool:
        """True while every value is counted exactly."""
        self._flush()
        return self._error == 0

    @property
    def rank_error(self) -> float:
        """Guaranteed bound on the normalised rank error of :meth:`quantiles` and :meth:`cdf`."""
        self._flush()
        return self._error / self.n if self.n else 0.0

    def _view(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted values and their cumulative weights (kept until the summary changes)."""
        self._flush()
        if self._view_cache is not None:
            return self._view_cache
        if self._levels is None:
            view = self._values, np.cumsum(self._counts)
        else:
            values = np.concatenate(self._levels)
            weights = np.concatenate(
                [np.full(items.size, 1 << h, np.int64) for h, items in enumerate(self._levels)]
            )
            order = np.argsort(values, kind="stable")
            view = values[order], np.cumsum(weights[order])
        self._view_cache = view
        return view

    def forget_view(self) -> None:
        """Free the cached sorted view (cumulative weights: 8 bytes per item) until it is needed again."""
        self._view_cache = None

    def quantiles(self, ranks: Any) -> np.ndarray:
        """Values at normalised ``ranks`` (NumPy's ``inverted_cdf``); needs ``n > 0``."""
        values, cum = self._view()
        targets = np.asarray(ranks, dtype=np.float64) * self.n
        index = np.searchsorted(cum, targets, side="left")
        return values[np.minimum(index, values.size - 1)]  # searchsorted never returns < 0

    def counts_at_or_below(self, points: Any) -> np.ndarray:
        """Number of values ``<= x`` for each point (integers; exact in exact mode)."""
        values, cum = self._view()
        index = np.searchsorted(values, np.asarray(points, dtype=np.float64), side="right")
        return np.where(index > 0, cum[np.maximum(index - 1, 0)], 0)

    def cdf(self, points: Any) -> np.ndarray:
        """Fraction of values ``<= x`` for each point."""
        return self.counts_at_or_below(points) / max(self.n, 1)

    # --- serialised form (stored in statistics JSON for drift comparisons) ----------------

    def to_bytes(self) -> bytes:
        """A compact, deterministic copy: at most :data:`STORED_ITEMS` items (exact when that many fit).

        Values are stored in the narrowest of int8/16/32, float32 and float64 that gives every value
        back bit for bit, and the items' counts in the narrowest unsigned type that holds the largest:
        a feature of small integers takes a quarter of the float64 form, its counts an eighth.
        """
        values, cum = self._view()
        error = self._error
        if values.size > STORED_ITEMS:
            # keep the item at each rank step j*n/STORED_ITEMS: ranks move by less than one step
            targets = np.arange(1, STORED_ITEMS + 1) * (self.n / STORED_ITEMS)
            found = np.searchsorted(cum, targets, side="left").clip(0, values.size - 1)
            keep = found[np.concatenate(([True], found[1:] != found[:-1]))]  # sorted: drop repeats
            values, cum = values[keep], cum[keep]
            cum[-1] = self.n
            error += -(-self.n // STORED_ITEMS)
        counts = np.diff(cum, prepend=np.int64(0))
        value_code, stored_values = _narrowest_values(values)
        count_code = _narrowest_counts(counts)
        header = _HEADER.pack(_MAGIC, self.n, error, values.size, value_code, count_code)
        return header + stored_values.tobytes() + counts.astype("<" + count_code.decode()).tobytes()

    @classmethod
    def from_bytes(cls, raw: bytes) -> QuantileSummary:
        """Read :meth:`to_bytes` output (a reduced summary in exact-count form, carrying its error).

        Reads the float64 form of earlier versions too.

        Raises:
            ValueError: the bytes are not a serialised summary.
        """
        if raw[:4] == _MAGIC_V1 and len(raw) >= _HEADER_V1.size:
            _magic, n, error, size = _HEADER_V1.unpack_from(raw)
            value_code, count_code, body = b"d", b"Q", raw[_HEADER_V1.size :]
            cumulative = True
        elif raw[:4] == _MAGIC and len(raw) >= _HEADER.size:
            _magic, n, error, size, value_code, count_code = _HEADER.unpack_from(raw)
            body, cumulative = raw[_HEADER.size :], False
            if value_code not in _VALUE_TYPES or count_code not in _COUNT_TYPES:
                raise ValueError("quantile summary of an unknown value or count type")
        else:
            raise ValueError("not a loopml quantile summary")
        value_dtype = np.dtype("<" + value_code.decode())
        count_dtype = np.dtype("<" + count_code.decode())
        split = value_dtype.itemsize * size
        if len(body) != split + count_dtype.itemsize * size:
            raise ValueError(f"quantile summary of {size} items has {len(body)} bytes of data")
        out = cls()
        out.n, out._error = n, error
        out._values = np.frombuffer(body[:split], dtype=value_dtype).astype(np.float64)
        stored = np.frombuffer(body[split:], dtype=count_dtype).astype(np.int64)
        out._counts = np.diff(stored, prepend=np.int64(0)) if cumulative else stored
        return out

    @classmethod
    def from_items(cls, values: np.ndarray, counts: np.ndarray, *, error: int = 0) -> QuantileSummary:
        """A summary of sorted distinct ``values`` with ``counts`` and an absolute rank ``error``."""
        out = cls()
        out._values = np.asarray(values, np.float64)
        out._counts = np.asarray(counts, np.int64)
        out.n, out._error = int(out._counts.sum()), error
        return out

    def __getstate__(self) -> dict[str, Any]:
        self._flush()
        return {name: getattr(self, name) for name in self.__slots__ if name != "_view_cache"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._view_cache = None
        self._borrowed = []  # states pickled before views were buffered lack it (always empty: flushed)
        for name, value in state.items():
            setattr(self, name, value)


def _count(values: np.ndarray, *, few: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and their counts: hashing when values repeat a lot, else sorting.

    ``values`` (finite float64, no ``-0.0``; never written to) are sorted as :func:`_narrowed` keys
    when it finds some, radix-sorted when those are 16-bit (cheaper than hashing them), and not
    sorted again when in order already. The distinct values are the same bits whatever the path.
    """
    keys, offset = values, 0.0
    if not _is_sorted(values):
        narrow = _integer_keys(values)
        if narrow is not None:
            keys, offset = narrow
        if keys.itemsize > 2:  # no radix sort for these: hash them if they repeat a lot
            if not few and values.size > 4 * _PROBE:
                probe = pc.count_distinct(pa.array(keys[:_PROBE]))
                few = probe.as_py() * 4 < _PROBE  # a column of few distinct values
            if few:
                counted = pc.value_counts(pa.array(keys))
                distinct = counted.field("values").to_numpy(zero_copy_only=False)
                counts = counted.field("counts").to_numpy(zero_copy_only=False)
                order = np.argsort(distinct)
                return _widened(distinct[order], offset), counts[order].astype(np.int64, copy=False)
            if narrow is None:
                narrow = _float32_keys(values)
                if narrow is not None:
                    keys, offset = narrow
        keys = _sort_keys(keys)
    # np.unique(values, return_counts=True) without its fixed costs (wide data calls this per column)
    first = np.empty(keys.size, bool)
    first[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.empty(starts.size, np.int64)
    np.subtract(starts[1:], starts[:-1], out=counts[:-1])
    counts[-1:] = keys.size - starts[-1:]
    return _widened(keys[starts], offset), counts


def _ordered(values: np.ndarray) -> np.ndarray:
    """``values`` (finite float64, no ``-0.0``) sorted as :func:`_narrowed` keys; themselves if in order."""
    if _is_sorted(values):
        return values
    narrow = _narrowed(values)
    if narrow is None:
        return np.sort(values)
    keys, offset = narrow
    return _widened(_sort_keys(keys), offset)


def _is_sorted(values: np.ndarray) -> bool:
    """True when ``values`` are in non-decreasing order (the first few decide for most inputs)."""
    head = values[:_HEAD]
    return bool((head[1:] >= head[:-1]).all() and (values[1:] >= values[:-1]).all())


def _narrowed(values: np.ndarray) -> tuple[np.ndarray, float] | None:
    """``(keys, offset)`` with ``keys.astype(float64) + offset == values``, in a type that sorts faster.

    ``values`` are finite float64 without ``-0.0``. Integers spanning under 2**16 become uint16
    keys (NumPy radix-sorts them in linear time), under 2**32 uint32 keys (half the bytes of
    float64); values float32 holds exactly become float32 keys. Every value must come back bit for
    bit, so any sort of the keys, widened, gives the bits ``np.sort(values)`` gives: adding the
    offset is monotone and equal floats here have equal bits. None when no such type fits; the
    first few values decide that for most float64 data.
    """
    return _integer_keys(values) or _float32_keys(values)


def _integer_keys(values: np.ndarray) -> tuple[np.ndarray, float] | None:
    """:func:`_narrowed`'s uint16 or uint32 keys of integers, offset by their minimum, or None."""
    head = values[:_HEAD]
    if not (np.rint(head) == head).all():
        return None
    lo = float(values.min())
    span = float(values.max()) - lo
    dtype = np.uint16 if span <= 0xFFFF else np.uint32 if span <= 0xFFFF_FFFF else None
    if dtype is None:
        return None
    keys = (values - lo).astype(dtype)  # in [0, span]: the cast is defined
    return (keys, lo) if (_widened(keys, lo) == values).all() else None


def _float32_keys(values: np.ndarray) -> tuple[np.ndarray, float] | None:
    """:func:`_narrowed`'s float32 keys of values that float32 holds exactly, or None."""
    head = values[:_HEAD]
    with np.errstate(over="ignore", invalid="ignore"):  # out of float32's range: inf, not exact
        if not (head.astype(np.float32) == head).all():
            return None
        keys = values.astype(np.float32)
        return (keys, 0.0) if (keys == values).all() else None


def _sort_keys(keys: np.ndarray) -> np.ndarray:
    """A sorted copy of ``keys`` (a 16-bit type by NumPy's radix sort)."""
    return np.sort(keys, kind="stable" if keys.itemsize <= 2 else None)


def _widened(keys: np.ndarray, offset: float) -> np.ndarray:
    """The float64 values of :func:`_narrowed` keys."""
    values = keys.astype(np.float64, copy=False)
    if offset:
        values = values + offset
    return values


def _binary_levels(values: np.ndarray, counts: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``values`` with ``counts`` as items of weight ``2**h``: one per set bit (lossless)."""
    out = []
    h, rest = 0, counts
    while rest.size and int(rest.max()) > 0:
        bit = (rest & 1).astype(bool)
        if bit.any():
            out.append((h, values[bit] if not bit.all() else values))
        rest = rest >> 1
        h += 1
    return out


def read_summary(raw: bytes) -> QuantileSummary:
    """A stored sketch: a :class:`QuantileSummary`, or a KLL sketch from statistics written before it.

    A KLL sketch is read as :data:`STORED_ITEMS` equal-mass items; its 99 %-confidence rank error
    plus one item's mass is carried as the summary's error.

    Raises:
        ValueError: the bytes are neither.
    """
    if raw[:4] in (_MAGIC, _MAGIC_V1):
        return QuantileSummary.from_bytes(raw)
    from datasketches import kll_doubles_sketch  # only for statistics computed by older versions

    try:
        kll = kll_doubles_sketch.deserialize(raw)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"not a quantile summary or KLL sketch: {err}") from err
    n = int(kll.n)
    steps = np.arange(1, STORED_ITEMS + 1) / STORED_ITEMS
    values = np.asarray(kll.get_quantiles(list(steps)), dtype=np.float64)
    cum = np.rint(steps * n).astype(np.int64)
    values, last = np.unique(values[::-1], return_index=True)  # the last step reaching each value
    cum = cum[::-1][last]
    error = 0
    if kll.is_estimation_mode() or n > STORED_ITEMS:
        error = int(np.ceil(n * (float(kll.normalized_rank_error(True)) + 1 / STORED_ITEMS)))
    return QuantileSummary.from_items(values, np.diff(cum, prepend=0), error=error)


def _narrowest_values(values: np.ndarray) -> tuple[bytes, np.ndarray]:
    """``values`` (finite float64) in the narrowest stored type that round-trips them bit for bit."""
    bits = values.view(np.int64)
    for code in _VALUE_TYPES[:-1]:
        dtype = np.dtype("<" + code.decode())
        if dtype.kind == "i":
            limits = np.iinfo(dtype)
            if values.size and (values[0] < limits.min or values[-1] > limits.max):
                continue  # sorted: the ends decide the range
        with np.errstate(over="ignore", invalid="ignore"):  # out of float32's range: not round-tripped
            narrow = values.astype(dtype)
        if np.array_equal(narrow.astype(np.float64).view(np.int64), bits):
            return code, narrow
    return b"d", values.astype("<f8")


def _narrowest_counts(counts: np.ndarray) -> bytes:
    """The narrowest unsigned type code holding every one of ``counts`` (non-negative)."""
    top = int(counts.max()) if counts.size else 0
    return next(code for code in _COUNT_TYPES if top <= np.iinfo("<" + code.decode()).max)
