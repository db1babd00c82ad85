"""``method: tfdv`` and TFDV-imported schemas decide as TFDV 1.16 does; statistics follow TFDV's rules.

What TFDV does, checked here:
- L-infinity is compared with the schema's threshold alone (no noise floor), and is 0 for numeric
  features (no "type changed" note);
- a column missing from the schema is ``SCHEMA_NEW_COLUMN`` with severity ERROR;
- ``avg_length`` counts UTF-8 bytes; top values with equal counts list the larger value first
  (TFDV sorts ``(count, value)`` in reverse);
- STANDARD histogram buckets are ``(low, high]`` with the first closed: a value on an edge goes in
  the lower bucket;
- ``infer_schema`` gives an INT feature holding only 0 and 1 a ``bool_domain`` (loopml: type BOOL);
  INT data validates against it, and importing TFDV's schema of a dataset raises nothing on it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from loopml.data import compute_statistics
from loopml.data.drift import Comparator, ComparatorType, compare
from loopml.data.schema import dump_schema, infer_schema, parse_schema
from loopml.data.statistics import FeatureType, HistogramType
from loopml.data.validation import Severity, validate


def _column(values: list[str]) -> pa.Table:
    return pa.table({"c": values})


def test_l_infinity_in_tfdv_mode_has_no_noise_floor() -> None:
    # 2,000 rows: "a" moves from 50 % to 51.5 %, L-inf 0.015 above TFDV's usual 0.01
    base = compute_statistics(_column(["a"] * 1000 + ["b"] * 1000)).get_feature("c")
    cur = compute_statistics(_column(["a"] * 1030 + ["b"] * 970)).get_feature("c")
    tfdv = compare(
        cur,
        base,
        Comparator(type=ComparatorType.L_INFINITY, threshold=0.01, method="tfdv"),
        comparison="drift",
    )
    assert abs(tfdv.value - 0.015) < 1e-12 and tfdv.is_anomalous and tfdv.effective_threshold == 0.01
    assert tfdv.method == "tfdv"
    floored = compare(
        cur, base, Comparator(type=ComparatorType.L_INFINITY, threshold=0.01), comparison="drift"
    )
    assert not floored.is_anomalous and floored.effective_threshold > 0.01
    # the method survives the YAML round trip
    schema = infer_schema(compute_statistics(_column(["a", "b"] * 10)))
    tfdv_comp = Comparator(type=ComparatorType.L_INFINITY, threshold=0.01, method="tfdv")
    schema = replace(schema, features=tuple(replace(f, drift_comparator=tfdv_comp) for f in schema.features))
    assert parse_schema(dump_schema(schema)) == schema


def test_l_infinity_on_numeric_features_is_zero() -> None:
    a = compute_statistics(pd.DataFrame({"x": np.arange(100.0)})).get_feature("x")
    b = compute_statistics(pd.DataFrame({"x": np.arange(100.0) + 50})).get_feature("x")
    info = compare(
        a, b, Comparator(type=ComparatorType.L_INFINITY, threshold=0.01, method="tfdv"), comparison="skew"
    )
    assert info.value == 0.0 and not info.is_anomalous and info.note == ""


def test_new_column_is_an_error() -> None:
    schema = infer_schema(compute_statistics(pa.table({"a": [1, 2, 3]})))
    result = validate(compute_statistics(pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]})), schema)
    assert [(a.kind, a.severity) for a in result.anomalies] == [("SCHEMA_NEW_COLUMN", Severity.ERROR)]


def test_avg_length_in_utf8_bytes_and_top_value_ties_larger_first() -> None:
    s = compute_statistics(_column(["é", "ab", "zz", "ab", "zz", "€"])).get_feature("c").string_stats
    assert s is not None
    assert s.avg_length == (2 + 2 + 2 + 2 + 2 + 3) / 6  # é: 2 bytes, €: 3 bytes
    assert [v.value for v in s.top_values] == ["zz", "ab", "€", "é"]


def test_standard_histogram_puts_edge_values_in_the_lower_bucket() -> None:
    stats = compute_statistics(pd.DataFrame({"x": np.arange(11.0)})).get_feature("x").num_stats
    assert stats is not None
    hist = stats.histogram(HistogramType.STANDARD)
    assert hist is not None
    # edges 0, 1, ..., 10: [0, 1] holds 0 and 1, then (1, 2] holds 2, ..., (9, 10] holds 10
    assert [b.sample_count for b in hist.buckets] == [2.0] + [1.0] * 9


def test_bool_domain_for_zero_one_integers() -> None:
    frame = pd.DataFrame({"label": np.array([0, 1, 1, 0, 1] * 20, dtype="int64")})
    stats = compute_statistics(frame)
    schema = infer_schema(stats)
    assert schema.get_feature("label").type is FeatureType.BOOL
    assert not validate(stats, schema, previous=stats).has_anomalies
    bad = compute_statistics(pd.DataFrame({"label": np.array([0, 1, 2] * 20, dtype="int64")}))
    assert [a.kind for a in validate(bad, schema).anomalies] == ["BOOL_TYPE_BIG_INT"]


def test_tfdv_schema_of_a_dataset_validates_it_cleanly(tmp_path: Path) -> None:
    from loopml.data.tfdv_schema import read_tfdv_schema

    # the schema TFDV 1.16 infers for this frame (bool_domain on the 0/1 INT column)
    path = tmp_path / "schema.pbtxt"
    path.write_text(
        'feature { name: "label" type: INT bool_domain { } presence { min_fraction: 1 min_count: 1 }\n'
        "  shape { dim { size: 1 } } }\n"
        'feature { name: "age" type: INT presence { min_fraction: 1 min_count: 1 }\n'
        "  shape { dim { size: 1 } } }\n"
        'feature { name: "color" type: BYTES domain: "color" presence { min_fraction: 1 min_count: 1 }\n'
        "  shape { dim { size: 1 } } drift_comparator { infinity_norm { threshold: 0.01 } } }\n"
        'string_domain { name: "color" value: "blue" value: "red" }\n'
    )
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "label": rng.integers(0, 2, 1000),
            "age": rng.integers(18, 90, 1000),
            "color": rng.choice(["red", "blue"], 1000),
        }
    )
    stats = compute_statistics(frame)
    result = validate(stats, read_tfdv_schema(path), previous=stats)
    assert not result.has_anomalies, result.anomalies
    assert [d.method for d in result.drift_skew] == ["tfdv"]


def test_infinities_get_tfdv_point_buckets_in_the_standard_histogram() -> None:
    """±inf as in TFDV 1.16: ``quantiles_util.generate_equi_width_histogram`` strips infinities and
    adds them back as a ``[-inf, -inf]`` bucket first and an ``[inf, inf]`` bucket last, the
    equal-width buckets spanning the finite min and max; num_non_missing counts them. (TFDV also
    folds infinities into mean, std_dev, median and the QUANTILES histogram; loopml keeps those
    finite and counts infinities in num_pos_inf / num_neg_inf: TFDV's drift and skew checks read
    only the STANDARD histogram, so decisions under ``method: tfdv`` are the same.)
    """
    values = [-np.inf, -np.inf, *np.arange(1.0, 11.0), np.inf]
    f = compute_statistics(pd.DataFrame({"x": values})).get_feature("x")
    assert f.num_non_missing == 13
    s = f.num_stats
    assert s is not None and (s.min, s.max) == (-np.inf, np.inf) and s.mean == 5.5
    hist = s.histogram(HistogramType.STANDARD)
    assert hist is not None
    first, *finite, last = hist.buckets
    assert (first.low_value, first.high_value, first.sample_count) == (-np.inf, -np.inf, 2.0)
    assert (last.low_value, last.high_value, last.sample_count) == (np.inf, np.inf, 1.0)
    assert (finite[0].low_value, finite[-1].high_value) == (1.0, 10.0)
    assert sum(b.sample_count for b in finite) == 10.0


def test_jensen_shannon_in_tfdv_mode_treats_infinite_and_nan_mass_as_tfdv() -> None:
    """TFDV's ``AlignHistograms`` (anomalies/metrics.cc) appends a side's infinite mass as a cell
    the other side has 0 in, and NaN counts as two such cells, even when both sides have the same
    mass: two identical samples with one +inf in 11 values are 1/11 apart."""
    jsd = Comparator(type=ComparatorType.JENSEN_SHANNON, threshold=0.1, method="tfdv")
    with_inf = compute_statistics(pd.DataFrame({"x": [*np.arange(1.0, 11.0), np.inf]})).get_feature("x")
    info = compare(with_inf, with_inf, jsd, comparison="drift")
    assert abs(info.value - 1 / 11) < 1e-12
    # (pandas turns NaN into a missing value; a NumPy array through Arrow keeps it a NaN)
    with_nan = compute_statistics(pa.table({"x": np.append(np.arange(1.0, 11.0), np.nan)})).get_feature("x")
    assert with_nan.num_stats is not None and with_nan.num_stats.num_nan == 1
    # cells: 10 matching ones of 1/11 each side, then [0, 1/11] against [1/11, 0]
    assert abs(compare(with_nan, with_nan, jsd, comparison="drift").value - 1 / 11) < 1e-12
    finite = compute_statistics(pd.DataFrame({"x": np.arange(1.0, 11.0)})).get_feature("x")
    assert compare(finite, finite, jsd, comparison="drift").value == 0.0
