"""Anomaly kinds, descriptions naming the values, and drift_skew entries for every comparator."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa

from loopml.data import compute_statistics
from loopml.data.schema import infer_schema
from loopml.data.validation import Severity, validate


def _table(n: int, **overrides: object) -> pa.Table:
    rng = np.random.default_rng(0)
    cols: dict[str, object] = {
        "age": rng.integers(18, 90, n),
        "score": rng.normal(0, 1, n),
        "plan": rng.choice(["free", "pro"], n),
    }
    cols.update(overrides)
    return pa.table(cols)


def test_schema_anomalies() -> None:
    train = compute_statistics(_table(1000))
    schema = infer_schema(train, infer_ranges=True)
    n = 1000
    plan = np.array(["free", "pro", "gold", "trial"] * (n // 4), dtype=object)
    score = np.random.default_rng(1).normal(0, 1, n)
    score[:3] = np.nan
    score[5] = 1e9
    age = pa.array(["x"] * n)
    serve = compute_statistics(pa.table({"age": age, "score": score, "plan": plan, "extra": np.ones(n)}))
    result = validate(serve, schema)
    kinds = {(a.feature, a.kind) for a in result.anomalies}
    assert ("age", "UNEXPECTED_DATA_TYPE") in kinds
    assert ("score", "FLOAT_TYPE_HAS_NAN") in kinds
    assert ("score", "FLOAT_TYPE_BIG_FLOAT") in kinds
    assert ("plan", "ENUM_TYPE_UNEXPECTED_STRING_VALUES") in kinds
    assert ("extra", "SCHEMA_NEW_COLUMN") in kinds
    enum = next(a for a in result.anomalies if a.kind == "ENUM_TYPE_UNEXPECTED_STRING_VALUES")
    assert "'gold' (25.00%)" in enum.description and "'trial' (25.00%)" in enum.description
    assert enum.value == 0.5
    big = next(a for a in result.anomalies if a.kind == "FLOAT_TYPE_BIG_FLOAT")
    assert big.value == 1e9 and big.threshold == schema.get_feature("score").max
    doc = json.loads(result.to_json())
    assert {"feature", "kind", "severity", "description"} <= set(doc["anomalies"][0])


def test_presence_missing_column_and_small_int() -> None:
    train = compute_statistics(_table(100))
    schema = infer_schema(train, infer_ranges=True)
    serve = compute_statistics(
        pa.table(
            {"age": pa.array([1, None, None, None]), "score": [None] * 4},
        )
    )
    result = validate(serve, schema)
    kinds = {(a.feature, a.kind) for a in result.anomalies}
    assert {
        ("age", "FEATURE_TYPE_LOW_FRACTION_PRESENT"),
        ("age", "INT_TYPE_SMALL_INT"),
        ("plan", "SCHEMA_MISSING_COLUMN"),
    } <= kinds
    assert ("score", "FEATURE_TYPE_NOT_PRESENT") in kinds or ("score", "UNEXPECTED_DATA_TYPE") in kinds


def test_no_data_in_span_and_control_data_missing() -> None:
    empty = compute_statistics(pa.table({"age": pa.array([], pa.int64())}))
    schema = infer_schema(compute_statistics(_table(100)))
    result = validate(empty, schema)
    assert [a.kind for a in result.anomalies] == ["NO_DATA_IN_SPAN"]
    previous = compute_statistics(_table(100).drop_columns(["plan"]))
    result = validate(compute_statistics(_table(100)), schema, previous=previous)
    missing = [a for a in result.anomalies if a.kind == "COMPARATOR_CONTROL_DATA_MISSING"]
    assert [a.feature for a in missing] == ["plan"] and missing[0].severity is Severity.WARNING
    assert {d.feature for d in result.drift_skew} == {"age", "score"}
    assert all(not d.is_anomalous and math.isfinite(d.value) for d in result.drift_skew)
