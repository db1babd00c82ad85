"""Slices of the evaluation data: overall, feature values, feature crosses, numeric buckets."""
# ruff: noqa: RUF002  (the multiplication sign joins crossed slice names on purpose)

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from loopml.errors import InvalidInput

__all__ = ["CROSS", "OVERALL", "Slice", "SliceSpec", "check_columns", "make_slices"]

OVERALL = "overall"
CROSS = " \u00d7 "
_MISSING = "<missing>"


@dataclass(frozen=True, slots=True, kw_only=True)
class SliceSpec:
    """Which slices to compute.

    ``features`` empty means the whole data set; one feature gives one slice per value; several
    give their cross. A feature in ``edges`` is bucketed by those edges, one in ``quantiles`` by
    that many quantile buckets of the evaluated data.

    Example:
        >>> SliceSpec.cross("SEX", "RAC1P").name
        'SEX × RAC1P'
        >>> SliceSpec.buckets("AGEP", edges=[30, 40]).name
        'AGEP'
    """

    features: tuple[str, ...] = ()
    edges: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    quantiles: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(set(self.features)) != len(self.features):
            raise InvalidInput(f"A slice spec names a feature twice: {list(self.features)}.")
        for name in [*self.edges, *self.quantiles]:
            if name not in self.features:
                raise InvalidInput(
                    f"Bucketed feature {name!r} is not among the slice features {list(self.features)}."
                )
        for name, q in self.quantiles.items():
            if q < 2:
                raise InvalidInput(f"`quantiles` for {name!r} must be at least 2. Got {q}.")
        for name, e in self.edges.items():
            if not e or list(e) != sorted(set(e)):
                raise InvalidInput(f"`edges` for {name!r} must be increasing and non-empty. Got {list(e)}.")

    @classmethod
    def overall(cls) -> SliceSpec:
        """The whole data set."""
        return cls()

    @classmethod
    def feature(cls, name: str) -> SliceSpec:
        """One slice per value of ``name``."""
        return cls(features=(name,))

    @classmethod
    def cross(cls, *names: str) -> SliceSpec:
        """One slice per combination of the values of ``names``."""
        return cls(features=tuple(names))

    @classmethod
    def buckets(
        cls, name: str, *, edges: Sequence[float] | None = None, quantiles: int | None = None
    ) -> SliceSpec:
        """Numeric buckets of ``name``: given ``edges`` or ``quantiles`` equal-count buckets."""
        if (edges is None) == (quantiles is None):
            raise InvalidInput(f"Bucket slices of {name!r} need exactly one of `edges` or `quantiles`.")
        if edges is not None:
            return cls(features=(name,), edges={name: tuple(float(e) for e in edges)})
        return cls(features=(name,), quantiles={name: int(quantiles or 0)})

    @property
    def name(self) -> str:
        return CROSS.join(self.features) if self.features else OVERALL

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "edges": {k: list(v) for k, v in self.edges.items()},
            "quantiles": dict(self.quantiles),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SliceSpec:
        return cls(
            features=tuple(data.get("features", ())),
            edges={k: tuple(v) for k, v in data.get("edges", {}).items()},
            quantiles={k: int(v) for k, v in data.get("quantiles", {}).items()},
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Slice:
    """One slice: its key (``SEX=2 × RAC1P=6``), spec name and the rows it holds."""

    key: str
    spec: str
    conditions: tuple[tuple[str, str], ...]
    index: npt.NDArray[np.intp]


def _fmt(value: float) -> str:
    return f"{value:g}"


def _render(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return _MISSING
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value.item() if isinstance(value, np.generic) else value)


def _bucket_labels(name: str, edges: Sequence[float]) -> list[str]:
    labels = [f"{name}<{_fmt(edges[0])}"]
    labels += [f"{name}∈[{_fmt(lo)},{_fmt(hi)})" for lo, hi in itertools.pairwise(edges)]
    return [*labels, f"{name}≥{_fmt(edges[-1])}"]


def _bucketize(name: str, column: pd.Series, edges: Sequence[float]) -> tuple[pd.Series, list[str]]:
    values = pd.to_numeric(column, errors="coerce")
    if values.isna().sum() > column.isna().sum():
        raise InvalidInput(f"Column {name!r} is bucketed but holds non-numeric values; slice it by value.")
    codes = np.searchsorted(np.asarray(edges, dtype=np.float64), values.to_numpy(np.float64), side="right")
    codes = np.where(values.isna().to_numpy(), -1, codes)
    return pd.Series(codes, index=column.index), _bucket_labels(name, edges)


def _quantile_edges(name: str, column: pd.Series, q: int) -> list[float]:
    values = pd.to_numeric(column, errors="coerce").dropna().to_numpy(np.float64)
    if values.size == 0:
        raise InvalidInput(f"Column {name!r} has no numeric values to compute {q} quantile buckets from.")
    inner = np.quantile(values, np.linspace(0, 1, q + 1)[1:-1])
    return sorted({float(e) for e in inner})


def check_columns(features: pd.DataFrame, specs: Iterable[SliceSpec]) -> None:
    """Raise :class:`InvalidInput` naming a slice feature missing from ``features``."""
    available = [str(c) for c in features.columns]
    for spec in specs:
        for name in spec.features:
            if name not in features.columns:
                raise InvalidInput(
                    f"Slice feature {name!r} (slice {spec.name!r}) is not a column of the evaluation "
                    f"data; available columns: {', '.join(available) or '(none)'}."
                )


def make_slices(features: pd.DataFrame | None, specs: Sequence[SliceSpec], *, n: int) -> list[Slice]:
    """Every slice of ``specs`` over ``features`` (overall first), each with its row indexes.

    Raises:
        InvalidInput: a slice feature is missing, or ``features`` has another length than the labels.
    """
    sliced = [s for s in specs if s.features]
    out = [Slice(key=OVERALL, spec=OVERALL, conditions=(), index=np.arange(n, dtype=np.intp))]
    if not sliced:
        return out
    if features is None:
        raise InvalidInput(f"Slices {[s.name for s in sliced]} need `features` (a DataFrame of the columns).")
    if len(features) != n:
        raise InvalidInput(
            f"`features` has {len(features)} rows but `y_true` has {n}; pass one row per example."
        )
    check_columns(features, sliced)
    seen = {OVERALL}
    for spec in sliced:
        for s in _slices_of(features.reset_index(drop=True), spec):
            if s.key not in seen:
                seen.add(s.key)
                out.append(s)
    return out


def _slices_of(features: pd.DataFrame, spec: SliceSpec) -> list[Slice]:
    columns: dict[str, pd.Series] = {}
    labels: dict[str, list[str]] = {}
    for name in spec.features:
        col = features[name]
        edges = spec.edges.get(name)
        if edges is None and name in spec.quantiles:
            edges = tuple(_quantile_edges(name, col, spec.quantiles[name]))
        if edges is not None:
            columns[name], labels[name] = _bucketize(name, col, edges)
        else:
            columns[name] = col
    frame = pd.DataFrame(columns)
    groups = frame.groupby(list(spec.features), sort=True, dropna=False).indices
    result: list[Slice] = []
    for values, index in groups.items():
        parts = values if isinstance(values, tuple) else (values,)
        conditions: list[tuple[str, str]] = []
        for name, value in zip(spec.features, parts, strict=True):
            if name in labels:
                text = f"{name}={_MISSING}" if int(value) < 0 else labels[name][int(value)]
                conditions.append((name, text))
            else:
                conditions.append((name, f"{name}={_render(value)}"))
        key = CROSS.join(c for _, c in conditions)
        result.append(Slice(key=key, spec=spec.name, conditions=tuple(conditions), index=np.asarray(index)))
    return result
