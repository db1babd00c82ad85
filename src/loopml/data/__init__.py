"""Data validation: dataset statistics, schema, anomalies, drift and skew (TFDV semantics).

``compute_statistics`` profiles CSV / Parquet files, folders and in-memory frames with mergeable
accumulators into :class:`DatasetStatistics` (TFDV field names); ``infer_schema`` proposes a
:class:`Schema`; ``validate`` checks statistics against it and against previous / training
statistics (drift / skew); :class:`DatasetVersions` registers immutable dataset versions.
"""

from loopml.data.accumulator import StatisticsAccumulator
from loopml.data.compute import compute_statistics
from loopml.data.drift import Comparator, ComparatorType, DriftSkewInfo
from loopml.data.files import read_statistics, write_anomalies, write_statistics
from loopml.data.report import render_report
from loopml.data.schema import FeatureSchema, Presence, Schema, infer_schema, read_schema, write_schema
from loopml.data.statistics import (
    Bucket,
    DatasetStatistics,
    FeatureStatistics,
    FeatureType,
    Histogram,
    HistogramType,
    NumericStatistics,
    Quantile,
    RankBucket,
    StringStatistics,
    ValueCount,
)
from loopml.data.validation import Anomaly, Severity, ValidationResult, validate
from loopml.data.versions import DatasetDiff, DatasetFile, DatasetVersion, DatasetVersions

__all__ = [
    "Anomaly",
    "Bucket",
    "Comparator",
    "ComparatorType",
    "DatasetDiff",
    "DatasetFile",
    "DatasetStatistics",
    "DatasetVersion",
    "DatasetVersions",
    "DriftSkewInfo",
    "FeatureSchema",
    "FeatureStatistics",
    "FeatureType",
    "Histogram",
    "HistogramType",
    "NumericStatistics",
    "Presence",
    "Quantile",
    "RankBucket",
    "Schema",
    "Severity",
    "StatisticsAccumulator",
    "StringStatistics",
    "ValidationResult",
    "ValueCount",
    "compute_statistics",
    "infer_schema",
    "read_schema",
    "read_statistics",
    "render_report",
    "validate",
    "write_anomalies",
    "write_schema",
    "write_statistics",
]
