"""Dataset statistics as frozen values, with stable JSON named after TFDV's statistics proto.

Field names follow ``tensorflow_metadata/proto/v0/statistics.proto`` (``num_non_missing``,
``num_missing``, ``mean``, ``std_dev``, ``num_zeros``, ``min``, ``median``, ``max``, ``histograms``,
``unique``, ``top_values``, ``rank_histogram``, ``avg_length``, ``num_examples``) so users can compare.

Exact figures: ``num_examples``, ``num_non_missing``, ``num_missing``, ``num_zeros``, ``num_nan``,
``min``, ``max``, ``mean``, ``std_dev``, ``avg_length``, and for strings ``unique`` / ``top_values`` /
``rank_histogram`` while a feature has at most :data:`EXACT_DISTINCT_CAP` distinct values.
Approximate figures are listed, with their error bounds, in each feature's ``approximate`` notes.
"""

from __future__ import annotations

import base64
import enum
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loopml.errors import InvalidInput

__all__ = [
    "EXACT_DISTINCT_CAP",
    "Bucket",
    "DatasetStatistics",
    "FeatureStatistics",
    "FeatureType",
    "Histogram",
    "HistogramType",
    "NumericStatistics",
    "Quantile",
    "RankBucket",
    "StringStatistics",
    "ValueCount",
]

FORMAT_VERSION = 1
EXACT_DISTINCT_CAP = 1_000_000
"""Distinct string values counted exactly per feature before falling back to sketches."""


class FeatureType(enum.StrEnum):
    """Feature types, as in TFDV's ``FeatureNameStatistics.Type`` (plus BOOL)."""

    INT = "INT"
    FLOAT = "FLOAT"
    STRING = "STRING"
    BOOL = "BOOL"


class HistogramType(enum.StrEnum):
    """``STANDARD`` = equal-width buckets; ``QUANTILES`` = equal-mass buckets."""

    STANDARD = "STANDARD"
    QUANTILES = "QUANTILES"


@dataclass(frozen=True, slots=True, kw_only=True)
class Bucket:
    """One histogram bucket ``(low_value, high_value]`` (the first one is closed), as TFDV's."""

    low_value: float
    high_value: float
    sample_count: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Histogram:
    """A histogram of the finite values of a numeric feature."""

    type: HistogramType
    buckets: tuple[Bucket, ...]
    num_nan: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Quantile:
    """The value at normalised rank ``rank`` (0 = min, 1 = max)."""

    rank: float
    value: float


@dataclass(frozen=True, slots=True, kw_only=True)
class NumericStatistics:
    """Statistics of an INT or FLOAT feature.

    ``mean`` and ``std_dev`` (population) are over finite values; ``min``/``max`` over non-NaN values
    (±inf included); ``sketch`` is the serialised quantile summary of the finite values (base64), kept so
    that drift comparators can evaluate CDFs at any point.

    ±inf: counted in ``num_non_missing``, ``num_pos_inf`` / ``num_neg_inf`` and reflected in ``min`` /
    ``max``; the STANDARD histogram holds them as TFDV's does, in a ``[-inf, -inf]`` bucket first and an
    ``[inf, inf]`` bucket last (its equal-width buckets span the finite range), so TFDV-mode drift
    sees them as TFDV does. Left out of ``mean``, ``std_dev``, ``median``, ``quantiles``, the QUANTILES
    histogram and the sketch, whose outer edges (ranks 0 and 1) are the finite minimum and maximum
    (TFDV folds them into those too, giving an infinite mean; no TFDV check reads them).
    NaN: counted in ``num_nan`` (and each histogram's ``num_nan``), left out of everything else.
    """

    mean: float
    std_dev: float
    num_zeros: int
    num_nan: int
    num_pos_inf: int
    num_neg_inf: int
    min: float
    median: float
    max: float
    quantiles: tuple[Quantile, ...] = ()
    histograms: tuple[Histogram, ...] = ()
    sketch: str = ""

    def histogram(self, kind: HistogramType) -> Histogram | None:
        """The histogram of ``kind``, if computed."""
        return next((h for h in self.histograms if h.type == kind), None)

    def sketch_bytes(self) -> bytes:
        """The quantile summary as bytes (empty when the feature had no finite value)."""
        return base64.b64decode(self.sketch) if self.sketch else b""


@dataclass(frozen=True, slots=True, kw_only=True)
class ValueCount:
    """A value and its frequency (TFDV ``top_values``)."""

    value: str
    frequency: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RankBucket:
    """One bucket of TFDV's ``rank_histogram``: the value of rank ``low_rank`` and its count."""

    low_rank: int
    high_rank: int
    label: str
    sample_count: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StringStatistics:
    """Statistics of a STRING or BOOL feature (BOOL values are ``"true"`` / ``"false"``)."""

    unique: int
    top_values: tuple[ValueCount, ...]
    rank_histogram: tuple[RankBucket, ...]
    avg_length: float
    is_exact: bool = True

    def frequencies(self) -> dict[str, float]:
        """Value → count over the rank histogram (up to 1,000 most frequent values)."""
        return {b.label: b.sample_count for b in self.rank_histogram}


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureStatistics:
    """Statistics of one feature (TFDV ``FeatureNameStatistics``)."""

    name: str
    type: FeatureType
    num_non_missing: int
    num_missing: int
    num_stats: NumericStatistics | None = None
    string_stats: StringStatistics | None = None
    approximate: tuple[str, ...] = ()
    arrow_type: str = ""

    @property
    def num_values(self) -> int:
        """Rows seen for this feature, missing or not."""
        return self.num_non_missing + self.num_missing


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetStatistics:
    """Statistics of one dataset (TFDV ``DatasetFeatureStatistics``).

    Example:
        >>> stats = DatasetStatistics(num_examples=0, features=())
        >>> DatasetStatistics.from_json(stats.to_json()) == stats
        True
    """

    num_examples: int
    features: tuple[FeatureStatistics, ...]
    sources: tuple[str, ...] = ()
    name: str = ""

    def feature(self, name: str) -> FeatureStatistics | None:
        """The statistics of feature ``name``, or None."""
        return next((f for f in self.features if f.name == name), None)

    def get_feature(self, name: str) -> FeatureStatistics:
        """The statistics of feature ``name``.

        Raises:
            InvalidInput: no such feature (the message lists the known ones).
        """
        found = self.feature(name)
        if found is None:
            known = ", ".join(f.name for f in self.features[:20])
            raise InvalidInput(f"No feature {name!r} in these statistics. Known features: {known}")
        return found

    def to_json(self, *, indent: int | None = 2) -> str:
        """Stable JSON (keys in a fixed order; NaN/±inf as the strings "NaN", "Infinity", "-Infinity")."""
        return json.dumps(_dataset_to_dict(self), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str = "statistics") -> DatasetStatistics:
        """Parse :meth:`to_json` output.

        Raises:
            InvalidInput: the text is not statistics JSON (names ``source`` and the problem).
        """
        try:
            data = json.loads(text)
            return _dataset_from_dict(data)
        except json.JSONDecodeError as err:
            raise InvalidInput(
                f"{source} is not valid JSON (line {err.lineno}, column {err.colno}): {err.msg}. "
                "Produce it with `loopml data stats`."
            ) from err
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            if isinstance(err, InvalidInput):
                raise
            raise InvalidInput(
                f"{source} is not loopml statistics JSON ({type(err).__name__}: {err}). "
                "Produce it with `loopml data stats`."
            ) from err


# --- JSON mapping (explicit, so the format stays stable) -----------------------------------


def _f(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _pf(value: Any) -> float:
    if isinstance(value, str):
        return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}.get(value, value))
    return float(value)


def _num_to_dict(s: NumericStatistics) -> dict[str, Any]:
    return {
        "mean": _f(s.mean),
        "std_dev": _f(s.std_dev),
        "num_zeros": s.num_zeros,
        "num_nan": s.num_nan,
        "num_pos_inf": s.num_pos_inf,
        "num_neg_inf": s.num_neg_inf,
        "min": _f(s.min),
        "median": _f(s.median),
        "max": _f(s.max),
        "quantiles": [{"rank": q.rank, "value": _f(q.value)} for q in s.quantiles],
        "histograms": [
            {
                "type": h.type.value,
                "num_nan": h.num_nan,
                "buckets": [
                    {
                        "low_value": _f(b.low_value),
                        "high_value": _f(b.high_value),
                        "sample_count": b.sample_count,
                    }
                    for b in h.buckets
                ],
            }
            for h in s.histograms
        ],
        "sketch": s.sketch,
    }


def _num_from_dict(d: Mapping[str, Any]) -> NumericStatistics:
    return NumericStatistics(
        mean=_pf(d["mean"]),
        std_dev=_pf(d["std_dev"]),
        num_zeros=int(d["num_zeros"]),
        num_nan=int(d["num_nan"]),
        num_pos_inf=int(d.get("num_pos_inf", 0)),
        num_neg_inf=int(d.get("num_neg_inf", 0)),
        min=_pf(d["min"]),
        median=_pf(d["median"]),
        max=_pf(d["max"]),
        quantiles=tuple(
            Quantile(rank=float(q["rank"]), value=_pf(q["value"])) for q in d.get("quantiles", [])
        ),
        histograms=tuple(
            Histogram(
                type=HistogramType(h["type"]),
                num_nan=int(h.get("num_nan", 0)),
                buckets=tuple(
                    Bucket(
                        low_value=_pf(b["low_value"]),
                        high_value=_pf(b["high_value"]),
                        sample_count=float(b["sample_count"]),
                    )
                    for b in h["buckets"]
                ),
            )
            for h in d.get("histograms", [])
        ),
        sketch=str(d.get("sketch", "")),
    )


def _str_to_dict(s: StringStatistics) -> dict[str, Any]:
    return {
        "unique": s.unique,
        "avg_length": s.avg_length,
        "is_exact": s.is_exact,
        "top_values": [{"value": v.value, "frequency": v.frequency} for v in s.top_values],
        "rank_histogram": {
            "buckets": [
                {
                    "low_rank": b.low_rank,
                    "high_rank": b.high_rank,
                    "label": b.label,
                    "sample_count": b.sample_count,
                }
                for b in s.rank_histogram
            ]
        },
    }


def _str_from_dict(d: Mapping[str, Any]) -> StringStatistics:
    return StringStatistics(
        unique=int(d["unique"]),
        avg_length=float(d["avg_length"]),
        is_exact=bool(d.get("is_exact", True)),
        top_values=tuple(
            ValueCount(value=str(v["value"]), frequency=float(v["frequency"])) for v in d["top_values"]
        ),
        rank_histogram=tuple(
            RankBucket(
                low_rank=int(b["low_rank"]),
                high_rank=int(b["high_rank"]),
                label=str(b["label"]),
                sample_count=float(b["sample_count"]),
            )
            for b in d["rank_histogram"]["buckets"]
        ),
    )


def _feature_to_dict(f: FeatureStatistics) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": f.name,
        "type": f.type.value,
        "arrow_type": f.arrow_type,
        "num_non_missing": f.num_non_missing,
        "num_missing": f.num_missing,
    }
    if f.num_stats is not None:
        out["num_stats"] = _num_to_dict(f.num_stats)
    if f.string_stats is not None:
        out["string_stats"] = _str_to_dict(f.string_stats)
    out["approximate"] = list(f.approximate)
    return out


def _feature_from_dict(d: Mapping[str, Any]) -> FeatureStatistics:
    return FeatureStatistics(
        name=str(d["name"]),
        type=FeatureType(d["type"]),
        arrow_type=str(d.get("arrow_type", "")),
        num_non_missing=int(d["num_non_missing"]),
        num_missing=int(d["num_missing"]),
        num_stats=_num_from_dict(d["num_stats"]) if "num_stats" in d else None,
        string_stats=_str_from_dict(d["string_stats"]) if "string_stats" in d else None,
        approximate=tuple(str(a) for a in d.get("approximate", [])),
    )


def _dataset_to_dict(s: DatasetStatistics) -> dict[str, Any]:
    return {
        "format": "loopml.statistics",
        "format_version": FORMAT_VERSION,
        "name": s.name,
        "num_examples": s.num_examples,
        "sources": list(s.sources),
        "features": [_feature_to_dict(f) for f in s.features],
    }


def _dataset_from_dict(d: Any) -> DatasetStatistics:
    if not isinstance(d, Mapping) or d.get("format") != "loopml.statistics":
        raise InvalidInput('the top-level object lacks "format": "loopml.statistics"')
    features: Sequence[Any] = d["features"]
    return DatasetStatistics(
        name=str(d.get("name", "")),
        num_examples=int(d["num_examples"]),
        sources=tuple(str(s) for s in d.get("sources", [])),
        features=tuple(_feature_from_dict(f) for f in features),
    )
