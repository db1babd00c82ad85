"""Validation of statistics against a schema, and drift / skew against baseline statistics.

Anomaly kinds use TFDV's ``AnomalyInfo.Type`` names. Every comparator that runs yields a
:class:`~loopml.data.drift.DriftSkewInfo` in ``drift_skew``, fired or not, as TFDV's
``DriftSkewInfo`` does.

Example:
    >>> import pyarrow as pa
    >>> from loopml.data.compute import compute_statistics
    >>> from loopml.data.schema import infer_schema
    >>> train = compute_statistics(pa.table({"c": ["a", "b"] * 50_000}))
    >>> serve = compute_statistics(pa.table({"c": ["a", "b", "z"] * 10_000}))
    >>> result = validate(serve, infer_schema(train), training=train)
    >>> [a.kind for a in result.anomalies]
    ['ENUM_TYPE_UNEXPECTED_STRING_VALUES', 'COMPARATOR_L_INFTY_HIGH']
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from loopml.data.drift import Comparator, DriftSkewInfo, compare
from loopml.data.schema import FeatureSchema, Schema
from loopml.data.statistics import DatasetStatistics, FeatureStatistics, FeatureType

__all__ = ["Anomaly", "Severity", "ValidationResult", "validate"]


class Severity(enum.StrEnum):
    """How bad an anomaly is."""

    ERROR = "ERROR"
    WARNING = "WARNING"


@dataclass(frozen=True, slots=True, kw_only=True)
class Anomaly:
    """One anomaly of one feature (``feature`` is empty for dataset-level ones)."""

    feature: str
    kind: str
    severity: Severity
    description: str
    value: float | None = None
    threshold: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationResult:
    """Anomalies plus every drift / skew comparison that ran."""

    anomalies: tuple[Anomaly, ...]
    drift_skew: tuple[DriftSkewInfo, ...] = ()

    @property
    def has_anomalies(self) -> bool:
        """True when any anomaly was found."""
        return bool(self.anomalies)

    def to_json(self, *, indent: int | None = 2) -> str:
        """Stable JSON: ``{"anomalies": [...], "drift_skew": [...]}`` (non-finite numbers as null)."""

        def clean(d: dict[str, object]) -> dict[str, object]:
            return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}

        return json.dumps(
            {
                "format": "loopml.anomalies",
                "anomalies": [clean(asdict(a)) for a in self.anomalies],
                "drift_skew": [clean(asdict(d)) for d in self.drift_skew],
            },
            indent=indent,
            allow_nan=False,
        )


def _a(
    feature: str,
    kind: str,
    description: str,
    *,
    severity: Severity = Severity.ERROR,
    value: float | None = None,
    threshold: float | None = None,
) -> Anomaly:
    return Anomaly(
        feature=feature,
        kind=kind,
        severity=severity,
        description=description,
        value=value,
        threshold=threshold,
    )


def _type_compatible(expected: FeatureType, got: FeatureType) -> bool:
    # INT data fits a BOOL schema (TFDV's bool_domain on an INT feature): its values are checked in _range
    return (
        expected == got
        or (expected is FeatureType.FLOAT and got is FeatureType.INT)
        or (expected is FeatureType.BOOL and got is FeatureType.INT)
    )


def _presence(fs: FeatureSchema, f: FeatureStatistics, n: int) -> Iterator[Anomaly]:
    if f.num_non_missing == 0 and fs.presence.min_count >= 1:
        yield _a(
            f.name,
            "FEATURE_TYPE_NOT_PRESENT",
            f"{f.name!r} has no values in {n} examples.",
            value=0.0,
            threshold=float(fs.presence.min_count),
        )
        return
    fraction = f.num_non_missing / n if n else 0.0
    if fraction < fs.presence.min_fraction:
        yield _a(
            f.name,
            "FEATURE_TYPE_LOW_FRACTION_PRESENT",
            f"{f.name!r} is present in {fraction:.2%} of examples; the schema expects at least "
            f"{fs.presence.min_fraction:.2%}.",
            value=fraction,
            threshold=fs.presence.min_fraction,
        )
    if f.num_non_missing < fs.presence.min_count:
        yield _a(
            f.name,
            "FEATURE_TYPE_LOW_NUMBER_PRESENT",
            f"{f.name!r} is present in {f.num_non_missing} examples; the schema expects at least "
            f"{fs.presence.min_count}.",
            value=float(f.num_non_missing),
            threshold=float(fs.presence.min_count),
        )


def _domain(fs: FeatureSchema, f: FeatureStatistics) -> Iterator[Anomaly]:
    if fs.domain is None or f.string_stats is None:
        return
    allowed = set(fs.domain)
    freqs = f.string_stats.frequencies()
    unseen = {v: c for v, c in freqs.items() if v not in allowed}
    if not unseen:
        return
    share = sum(unseen.values()) / f.num_non_missing if f.num_non_missing else 0.0
    listed = ", ".join(f"{v!r} ({c / f.num_non_missing:.2%})" for v, c in list(unseen.items())[:10])
    more = f" and {len(unseen) - 10} more" if len(unseen) > 10 else ""
    yield _a(
        f.name,
        "ENUM_TYPE_UNEXPECTED_STRING_VALUES",
        f"{f.name!r} has {len(unseen)} values outside the domain, {share:.2%} of its values: {listed}{more}. "
        "Add them to the schema's domain if they are valid.",
        value=share,
        threshold=0.0,
    )


def _range(fs: FeatureSchema, f: FeatureStatistics) -> Iterator[Anomaly]:
    s = f.num_stats
    if s is None:
        return
    if fs.type is FeatureType.BOOL:
        if s.min < 0:
            yield _a(
                f.name, "BOOL_TYPE_SMALL_INT", f"{f.name!r} is a 0/1 feature but has {s.min!r}.", value=s.min
            )
        if s.max > 1:
            yield _a(
                f.name, "BOOL_TYPE_BIG_INT", f"{f.name!r} is a 0/1 feature but has {s.max!r}.", value=s.max
            )
        return
    prefix = "INT_TYPE" if f.type is FeatureType.INT else "FLOAT_TYPE"
    small, big = ("SMALL_INT", "BIG_INT") if f.type is FeatureType.INT else ("SMALL_FLOAT", "BIG_FLOAT")
    if fs.min is not None and s.min < fs.min:
        yield _a(
            f.name,
            f"{prefix}_{small}",
            f"{f.name!r} has minimum {s.min!r}, below the schema's min {fs.min!r}.",
            value=s.min,
            threshold=fs.min,
        )
    if fs.max is not None and s.max > fs.max:
        yield _a(
            f.name,
            f"{prefix}_{big}",
            f"{f.name!r} has maximum {s.max!r}, above the schema's max {fs.max!r}.",
            value=s.max,
            threshold=fs.max,
        )
    if s.num_nan and not fs.allow_nan:
        yield _a(
            f.name,
            "FLOAT_TYPE_HAS_NAN",
            f"{f.name!r} has {s.num_nan} NaN values; the schema does not allow NaN (allow_nan: false).",
            value=float(s.num_nan),
            threshold=0.0,
        )


def _comparisons(
    fs: FeatureSchema,
    f: FeatureStatistics,
    baselines: dict[str, DatasetStatistics | None],
    drift: list[DriftSkewInfo],
) -> Iterator[Anomaly]:
    for comparison, comparator in (("drift", fs.drift_comparator), ("skew", fs.skew_comparator)):
        base_stats = baselines[comparison]
        if comparator is None or base_stats is None:
            continue
        base = base_stats.feature(f.name)
        if base is None:
            role = "previous span" if comparison == "drift" else "training data"
            yield _a(
                f.name,
                "COMPARATOR_CONTROL_DATA_MISSING",
                f"{f.name!r} has a {comparison} comparator but the {role} has no such feature.",
                severity=Severity.WARNING,
            )
            continue
        info = compare(f, base, comparator, comparison=comparison)
        drift.append(info)
        if info.is_anomalous:
            yield _comparator_anomaly(info, comparator)


def _comparator_anomaly(info: DriftSkewInfo, comparator: Comparator) -> Anomaly:
    where = f" (largest at value {info.arg_max!r})" if info.arg_max is not None else ""
    if info.p_value is not None:
        why = (
            f"significant (p = {info.p_value:.2g} < alpha {info.alpha:g}, {info.n_current} vs "
            f"{info.n_baseline} values) and above the effect floor {info.threshold:g}"
        )
    elif info.effective_threshold == info.threshold:
        why = f"exceeds threshold {info.threshold:g}"
    else:
        why = (
            f"exceeds threshold {info.threshold:g}, raised to the noise floor {info.effective_threshold:.4g}"
        )
    return _a(
        info.feature,
        f"COMPARATOR_{info.type}_HIGH",
        f"{info.comparison} of {info.feature!r}: {info.type} = {info.value:.4g}{where} {why}.",
        value=info.value,
        threshold=info.effective_threshold,
    )


def _check_feature(fs: FeatureSchema, f: FeatureStatistics, n: int) -> list[Anomaly]:
    if not _type_compatible(fs.type, f.type):
        return [
            _a(
                f.name,
                "UNEXPECTED_DATA_TYPE",
                f"{f.name!r} is {f.type.value} ({f.arrow_type}); the schema expects {fs.type.value}.",
            )
        ]
    return [*_presence(fs, f, n), *_domain(fs, f), *_range(fs, f)]


def validate(
    stats: DatasetStatistics,
    schema: Schema,
    previous: DatasetStatistics | None = None,
    training: DatasetStatistics | None = None,
) -> ValidationResult:
    """Check ``stats`` against ``schema``; drift against ``previous``, skew against ``training``.

    Returns:
        The anomalies (empty when clean) and every drift / skew comparison that ran.
    """
    if stats.num_examples == 0:
        return ValidationResult(
            anomalies=(_a("", "NO_DATA_IN_SPAN", "The dataset has no examples: nothing to validate."),)
        )
    anomalies: list[Anomaly] = []
    drift: list[DriftSkewInfo] = []
    baselines = {"drift": previous, "skew": training}
    for f in stats.features:
        fs = schema.feature(f.name)
        if fs is None:
            anomalies.append(
                _a(
                    f.name,
                    "SCHEMA_NEW_COLUMN",
                    f"New column {f.name!r} ({f.type.value}) is not in the schema. "
                    "Add it to the schema or drop it from the data.",
                )
            )
            continue
        found = _check_feature(fs, f, stats.num_examples)
        anomalies.extend(found)
        if not any(a.kind == "UNEXPECTED_DATA_TYPE" for a in found):
            anomalies.extend(_comparisons(fs, f, baselines, drift))
    for fs in schema.features:
        if stats.feature(fs.name) is None and fs.presence.min_count > 0:
            anomalies.append(
                _a(
                    fs.name,
                    "SCHEMA_MISSING_COLUMN",
                    f"Column {fs.name!r} ({fs.type.value}) is in the schema but not in the data.",
                )
            )
    return ValidationResult(anomalies=tuple(anomalies), drift_skew=tuple(drift))
