"""The figures of one window: input statistics, anomalies, drift and skew, predictions, rates, performance.

:func:`measure` is pure: the window's log rows, their joined labels and the reference statistics
(previous window, fixed baseline, training) in; flat metrics (named as in
:mod:`loopml.monitor.records`) and the window's statistics out. Input statistics are the
data-validation statistics (mergeable accumulators), fed partition by partition as the log is
read (:class:`PartitionReducer`; a day accumulates its hours in one pass, which costs less than
merging 24 hour accumulators); drift and skew use the calibrated comparator of :mod:`loopml.data.drift`.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopml.data.accumulator import StatisticsAccumulator
from loopml.data.drift import (
    CATEGORICAL_EFFECT_FLOOR,
    NUMERIC_EFFECT_FLOOR,
    Comparator,
    ComparatorType,
    DriftSkewInfo,
    compare,
)
from loopml.data.schema import infer_schema
from loopml.data.statistics import DatasetStatistics, FeatureStatistics
from loopml.data.validation import validate
from loopml.monitor.feedback import PREDICTION_COLUMN
from loopml.monitor.labels import JoinedLabels
from loopml.monitor.performance import classification_metrics, estimated_accuracy, regression_metrics
from loopml.monitor.predictions import INPUT_PREFIX, OUTPUT_PREFIX
from loopml.monitor.slice_drift import slice_verdicts

__all__ = ["Measurement", "PartitionReducer", "References", "WindowStatistics", "measure"]

PROBA_COLUMN = f"{OUTPUT_PREFIX}predict_proba"
_NUMERIC = Comparator(type=ComparatorType.CALIBRATED, threshold=NUMERIC_EFFECT_FLOOR)
_CATEGORICAL = Comparator(type=ComparatorType.CALIBRATED, threshold=CATEGORICAL_EFFECT_FLOOR)


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowStatistics:
    """The statistics of a window's inputs and of its predictions (``predict``, ``score``), and of the
    inputs of each slice (``"<column>=<value>"``), what per-slice drift compares."""

    inputs: DatasetStatistics
    predictions: DatasetStatistics
    slices: Mapping[str, DatasetStatistics] = field(default_factory=dict)

    def to_json(self) -> str:
        slices = ", ".join(
            f"{json.dumps(key)}: {stats.to_json(indent=None)}" for key, stats in self.slices.items()
        )
        return (
            '{"inputs": '
            + self.inputs.to_json(indent=None)
            + ', "predictions": '
            + self.predictions.to_json(indent=None)
            + (', "slices": {' + slices + "}" if self.slices else "")
            + "}"
        )

    @classmethod
    def from_json(cls, text: str) -> WindowStatistics:
        doc = json.loads(text)
        return cls(
            inputs=DatasetStatistics.from_json(json.dumps(doc["inputs"])),
            predictions=DatasetStatistics.from_json(json.dumps(doc["predictions"])),
            slices={
                key: DatasetStatistics.from_json(json.dumps(value))
                for key, value in doc.get("slices", {}).items()
            },
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class References:
    """What a window is compared with (each may be missing)."""

    previous: WindowStatistics | None = None
    baseline: WindowStatistics | None = None
    training: DatasetStatistics | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """A window's figures and statistics."""

    metrics: dict[str, float]
    statistics: WindowStatistics
    anomalies: tuple[str, ...] = ()
    versions: Mapping[str, int] = field(default_factory=dict)
    labels_used: int = 0

    @property
    def version(self) -> str:
        """The model version that answered most rows (ties: the larger version string)."""
        if not self.versions:
            return ""
        return max(self.versions.items(), key=lambda kv: (kv[1], kv[0]))[0]


class PartitionReducer:
    """Feeds each log partition's inputs to the window's statistics, keeping only what figures need.

    Called on every partition as it is read, so the window's input columns (the bulk of the log)
    are never held all at once; only the columns in ``keep`` (a slice or key feature) stay. For each
    column of ``slices``, the inputs of each of its values get statistics of their own too (the
    ``max_slices`` most frequent values are kept; at most four times as many are followed).
    """

    def __init__(self, *, keep: Sequence[str] = (), slices: Sequence[str] = (), max_slices: int = 20) -> None:
        self._acc = StatisticsAccumulator()
        self._keep = {f"{INPUT_PREFIX}{name}" for name in (*keep, *slices)}
        self._slices: dict[str, dict[str, StatisticsAccumulator]] = {c: {} for c in slices}
        self._counts: dict[str, collections.Counter[str]] = {c: collections.Counter() for c in slices}
        self._max_slices = max_slices

    def __call__(self, part: pa.Table) -> pa.Table:
        names = [n for n in part.column_names if n.startswith(INPUT_PREFIX)]
        inputs = part.select(names).rename_columns([n[len(INPUT_PREFIX) :] for n in names])
        self._acc.update(inputs)
        for column in self._slices:
            if column in inputs.column_names and inputs.num_rows:
                self._update_slices(column, inputs)
        return part.select(
            [n for n in part.column_names if not n.startswith(INPUT_PREFIX) or n in self._keep]
        )

    def _update_slices(self, column: str, inputs: pa.Table) -> None:
        """Group the rows by the column's value (one sort, then zero-copy runs) and feed each group."""
        values = inputs[column].combine_chunks().cast(pa.string())
        order = pc.sort_indices(values)  # nulls last
        grouped, runs = inputs.take(order), pc.run_end_encode(values.take(order))
        accumulators, counts = self._slices[column], self._counts[column]
        start = 0
        for value, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
            key = str(value)
            acc = accumulators.get(key)
            if acc is None and len(accumulators) < 4 * self._max_slices:
                acc = accumulators[key] = StatisticsAccumulator()
            if acc is not None:
                acc.update(grouped.slice(start, end - start))
                counts[key] += end - start
            start = end

    def result(self) -> DatasetStatistics:
        """The input statistics of every partition fed so far."""
        return self._acc.result(name="inputs")

    def slice_results(self) -> dict[str, DatasetStatistics]:
        """The input statistics of each slice (``"<column>=<value>"``), the most frequent values first."""
        out = {}
        for column, counts in self._counts.items():
            for value, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: self._max_slices]:
                key = f"{column}={value}"
                out[key] = self._slices[column][value].result(name=key)
        return out


def _comparisons(
    prefix: str, current: DatasetStatistics, reference: DatasetStatistics | None, metrics: dict[str, float]
) -> list[str]:
    """``<prefix>.<feature>`` magnitudes and alarms; returns the features that alarmed."""
    if reference is None or current.num_examples == 0 or reference.num_examples == 0:
        return []
    alarmed = []
    for feature in current.features:
        ref = reference.feature(feature.name)
        if ref is None:
            continue
        info = _compare(feature, ref, prefix)
        metrics[f"{prefix}.{feature.name}"] = info[0]
        if info[1]:
            alarmed.append(feature.name)
    metrics[f"{prefix}_features"] = float(len(alarmed))
    return alarmed


def _compare(current: FeatureStatistics, reference: FeatureStatistics, comparison: str) -> tuple[float, bool]:
    comparator = _CATEGORICAL if current.string_stats is not None else _NUMERIC
    info = compare(current, reference, comparator, comparison=comparison)
    return float(info.value), bool(info.is_anomalous)


def _probabilities(table: pa.Table) -> np.ndarray | None:
    if PROBA_COLUMN not in table.column_names:
        return None
    column = table[PROBA_COLUMN].combine_chunks()
    if column.null_count or len(column) == 0:
        return None
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    k = int(lengths[0])
    if k < 2 or (lengths != k).any():
        return None
    flat = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.float64)
    return np.asarray(flat.reshape(len(column), k))


def _classes(predicted: pa.Array, proba: np.ndarray | None) -> list[str] | None:
    """The class of each probability column: read where a class won, else the sorted classes."""
    if proba is None:
        return None
    k = proba.shape[1]
    winners = proba.argmax(axis=1)
    seen: dict[int, str] = {}
    for j in range(k):
        rows = np.flatnonzero(winners == j)
        if rows.size:
            seen[j] = str(predicted[int(rows[0])].as_py())
    if len(seen) == k:
        return [seen[i] for i in range(k)]
    distinct = sorted(str(v) for v in pc.unique(predicted.drop_null()).to_pylist())
    return distinct if len(distinct) == k else None


@dataclass(frozen=True, slots=True)
class _Rows:
    """The per-row arrays a window's figures come from (predictions and labels stay in Arrow)."""

    predicted: pa.Array | None
    is_classifier: bool
    proba: np.ndarray | None
    classes: list[str] | None
    labels: pa.Array
    errors: np.ndarray
    atypical: np.ndarray


def _rows(table: pa.Table, joined: JoinedLabels) -> _Rows:
    n = table.num_rows
    predicted: pa.Array | None = None
    is_classifier = False
    errors = np.zeros(n, dtype=bool)
    if PREDICTION_COLUMN in table.column_names:
        column = table[PREDICTION_COLUMN].combine_chunks()
        errors = column.is_null().to_numpy(zero_copy_only=False)
        is_classifier = not pa.types.is_floating(column.type)
        if is_classifier:
            predicted = column.cast(pa.string())
        else:
            predicted = column.cast(pa.float64())
            errors = errors | ~np.isfinite(predicted.to_numpy(zero_copy_only=False))
    proba = _probabilities(table)
    is_classifier = is_classifier or proba is not None
    classes = _classes(predicted, proba) if is_classifier and predicted is not None else None
    labels = joined.values.cast(pa.string()) if is_classifier else joined.values
    atypical = (
        (pc.list_value_length(table["flags"].combine_chunks()).to_numpy(zero_copy_only=False) > 0)
        if "flags" in table.column_names
        else np.zeros(n, dtype=bool)
    )
    return _Rows(predicted, is_classifier, proba, classes, labels, errors, atypical)


def _figures(r: _Rows, mask: np.ndarray | None = None) -> dict[str, float]:
    """Rates and performance over all rows, or over ``mask``."""
    n = len(r.labels) if mask is None else int(mask.sum())
    if n == 0:
        return {}
    has_label = r.labels.is_valid().to_numpy(zero_copy_only=False)
    if mask is not None:
        has_label = has_label & mask
    rows = np.flatnonzero(has_label)
    out = {
        "rows": float(n),
        "error_rate": float(r.errors.mean() if mask is None else r.errors[mask].mean()),
        "atypical_rate": float(r.atypical.mean() if mask is None else r.atypical[mask].mean()),
        "labelled_rows": float(rows.size),
        "label_coverage": rows.size / n,
    }
    if r.predicted is None:
        return out
    labels = np.asarray(r.labels.take(rows).to_pylist(), dtype=object)
    if r.is_classifier:
        predicted = np.asarray(r.predicted.take(rows).to_pylist(), dtype=object)
        proba = None if r.proba is None else r.proba[rows]
        out |= classification_metrics(predicted, labels, proba=proba, classes=r.classes)
        if r.proba is not None:
            out |= estimated_accuracy(r.proba if mask is None else r.proba[mask])
    else:
        values = r.predicted.to_numpy(zero_copy_only=False)
        out |= regression_metrics(values[rows], labels)
        chosen = values if mask is None else values[mask]
        finite = chosen[np.isfinite(chosen)]
        if finite.size:
            out["prediction_mean"] = float(finite.mean())
    return out


def _prediction_statistics(r: _Rows) -> DatasetStatistics:
    columns: dict[str, Any] = {}
    if r.predicted is not None:
        columns["predict"] = r.predicted
    if r.proba is not None:
        columns["score"] = r.proba[:, 1] if r.proba.shape[1] == 2 else r.proba.max(axis=1)
    acc = StatisticsAccumulator()
    if columns:
        acc.update(pa.table(columns))
    return acc.result(name="predictions")


def _class_rates(r: _Rows, metrics: dict[str, float], limit: int) -> None:
    if r.predicted is None or not r.is_classifier or len(r.predicted) == 0:
        return
    counts = {c["values"]: c["counts"] for c in pc.value_counts(r.predicted).to_pylist()}
    for label, count in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:limit]:
        metrics[f"class_rate.{label}"] = count / len(r.predicted)
    if r.classes is not None and len(r.classes) == 2:
        metrics["positive_rate"] = counts.get(r.classes[1], 0) / len(r.predicted)


def _latency(table: pa.Table, metrics: dict[str, float]) -> None:
    if table.num_rows == 0 or "latency_ms" not in table.column_names:
        return
    first_rows = pc.equal(table["row"], 0)
    latency = table["latency_ms"].filter(first_rows).to_numpy()
    if latency.size:
        p50, p99 = np.percentile(latency, [50, 99])
        metrics["latency_p50_ms"], metrics["latency_p99_ms"] = float(p50), float(p99)
        metrics["requests"] = float(latency.size)


def _slices(table: pa.Table, r: _Rows, column: str, limit: int, metrics: dict[str, float]) -> None:
    name = f"{INPUT_PREFIX}{column}"
    if name not in table.column_names or table.num_rows == 0:
        return
    values = table[name].combine_chunks().cast(pa.string())
    counts = [(c["values"], c["counts"]) for c in pc.value_counts(values).to_pylist()]
    for value, _ in sorted(counts, key=lambda kv: (-kv[1], str(kv[0])))[:limit]:
        mask = (
            values.is_null()
            if value is None
            else pc.fill_null(pc.equal(values, pa.scalar(value, pa.string())), False)
        ).to_numpy(zero_copy_only=False)
        for key, figure in _figures(r, mask).items():
            metrics[f"slice.{column}={value}.{key}"] = figure


def _slice_drift(
    slices: Mapping[str, DatasetStatistics], references: References, metrics: dict[str, float]
) -> None:
    """Per-slice drift against the same slice of the reference windows, Holm-corrected over the
    window's (slice, feature) pairs (:mod:`loopml.monitor.slice_drift`).

    Writes ``slice.<column>=<value>.drift.<feature>`` (the magnitude), ``…drift_pvalue.<feature>`` and
    ``…drift_adjusted_pvalue.<feature>`` (raw and corrected), ``…drift_features`` (the slice's drifted
    features), the same for ``baseline_drift``, and ``slice_drift_features`` /
    ``slice_baseline_drift_features`` (drifted pairs of the window).
    """

    def detector(current: FeatureStatistics, reference: FeatureStatistics, comparison: str) -> DriftSkewInfo:
        comparator = _CATEGORICAL if current.string_stats is not None else _NUMERIC
        return compare(current, reference, comparator, comparison=comparison)

    for prefix, reference in (("drift", references.previous), ("baseline_drift", references.baseline)):
        if reference is None or not slices:
            continue
        verdicts = slice_verdicts(slices, reference.slices, detector, comparison=prefix)
        for key in {v.slice for v in verdicts}:
            metrics[f"slice.{key}.{prefix}_features"] = 0.0
        for v in verdicts:
            base = f"slice.{v.slice}.{prefix}"
            metrics[f"{base}.{v.feature}"] = v.magnitude
            if v.p_value is not None and v.adjusted_p_value is not None:
                metrics[f"{base}_pvalue.{v.feature}"] = v.p_value
                metrics[f"{base}_adjusted_pvalue.{v.feature}"] = v.adjusted_p_value
            metrics[f"{base}_features"] += float(v.drifted)
        metrics[f"slice_{prefix}_features"] = float(sum(v.drifted for v in verdicts))


def measure(
    table: pa.Table,
    inputs: DatasetStatistics,
    joined: JoinedLabels,
    references: References,
    *,
    slice_column: str | None = None,
    max_slices: int = 20,
    slice_columns: Sequence[str] = (),
    slice_inputs: Mapping[str, DatasetStatistics] | None = None,
) -> Measurement:
    """The figures of a window.

    Args:
        table: The window's log rows (input columns may be left out, as :class:`PartitionReducer` does).
        inputs: The statistics of the window's inputs.
        joined: The rows' labels, aligned with ``table``.
        references: Previous window, fixed baseline and training statistics.
        slice_column: An input feature whose most frequent values get their own figures.
        max_slices: At most this many slice values (and classes in ``class_rate``).
        slice_columns: More such features.
        slice_inputs: The statistics of each slice's inputs (:meth:`PartitionReducer.slice_results`),
            stored with the window and compared with the references' same slices (per-slice drift).
    """
    if table.num_columns == 0:
        table = pa.table({"row": pa.array([], pa.int32())})
    rows = _rows(table, joined)
    predictions = _prediction_statistics(rows)
    metrics = _figures(rows) or {"rows": 0.0}
    _latency(table, metrics)
    _class_rates(rows, metrics, max_slices)
    _comparisons("drift", inputs, references.previous.inputs if references.previous else None, metrics)
    _comparisons(
        "baseline_drift", inputs, references.baseline.inputs if references.baseline else None, metrics
    )
    _comparisons("skew", inputs, references.training, metrics)
    previous = references.previous.predictions if references.previous else None
    if previous is not None and predictions.num_examples and previous.num_examples:
        for name, metric in (("predict", "prediction_drift"), ("score", "score_drift")):
            cur, ref = predictions.feature(name), previous.feature(name)
            if cur is not None and ref is not None:
                metrics[metric] = _compare(cur, ref, "drift")[0]
    anomalies: tuple[str, ...] = ()
    reference = references.training or (references.baseline.inputs if references.baseline else None)
    if reference is not None and inputs.num_examples:
        found = validate(inputs, infer_schema(reference, comparators=False)).anomalies
        anomalies = tuple(f"{a.feature or '-'}: {a.kind}: {a.description}" for a in found)
        metrics["anomalies"] = float(len(found))
    for feature in inputs.features:
        if inputs.num_examples:
            metrics[f"missing.{feature.name}"] = feature.num_missing / inputs.num_examples
    for column in dict.fromkeys((*((slice_column,) if slice_column else ()), *slice_columns)):
        _slices(table, rows, column, max_slices, metrics)
    _slice_drift(slice_inputs or {}, references, metrics)
    versions = (
        {str(c["values"]): int(c["counts"]) for c in pc.value_counts(table["version"]).to_pylist()}
        if "version" in table.column_names
        else {}
    )
    return Measurement(
        metrics=metrics,
        statistics=WindowStatistics(inputs=inputs, predictions=predictions, slices=dict(slice_inputs or {})),
        anomalies=anomalies,
        versions=versions,
        labels_used=joined.labels_used,
    )
