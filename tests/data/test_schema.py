"""Schema inference, YAML round trip with comments, errors naming line and field, TFDV import."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.data import compute_statistics
from loopml.data.drift import Comparator, ComparatorType
from loopml.data.schema import dump_schema, infer_schema, parse_schema, read_schema, write_schema
from loopml.data.statistics import FeatureType
from loopml.data.validation import validate
from loopml.errors import InvalidInput


def test_infer_and_round_trip(tmp_path: Path, frame: pd.DataFrame) -> None:
    frame.loc[::10, "normal"] = None
    stats = compute_statistics(frame)
    schema = infer_schema(stats, infer_ranges=True)
    color = schema.get_feature("color")
    assert color.type is FeatureType.STRING and color.domain == ("blue", "green", "red", "yellow")
    assert color.presence.min_fraction == 1.0 and color.presence.min_count == 1
    assert schema.get_feature("city").domain is None  # too many values for a domain
    normal = schema.get_feature("normal")
    assert normal.presence.min_fraction == 0.0 and normal.min is not None
    assert normal.drift_comparator == Comparator(type=ComparatorType.CALIBRATED, threshold=0.001, alpha=0.002)
    assert color.skew_comparator == Comparator(type=ComparatorType.CALIBRATED, threshold=0.01, alpha=0.002)
    path = write_schema(schema, tmp_path / "schema.yaml")
    text = path.read_text()
    assert text.startswith("# loopml data schema") and "# color: STRING" in text
    assert read_schema(path) == schema
    assert (
        parse_schema(dump_schema(schema.with_threshold(0.3))).get_feature("color").drift_comparator.threshold
        == 0.3
    )  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "features:\n  - name: a\n    type: INTEGER\n",
            r"line 3, field features\[0\]\.type: must be one of INT",
        ),
        (
            "features:\n  - name: a\n    type: INT\n    presence:\n      min_fraction: 2\n",
            r"line 5, field features\[0\]\.presence\.min_fraction: must be in \[0, 1\]",
        ),
        ("features:\n  - type: INT\n", r"field features\[0\]\.name: is required"),
        (
            "features:\n  - name: a\n    type: INT\n    drift_comparator: {type: chi2, threshold: 1}\n",
            r"line 4, field features\[0\]\.drift_comparator\.type",
        ),
        ("features: [\n", "line 2: not valid YAML"),
        (
            "features:\n  - name: a\n    type: INT\n"
            "    drift_comparator: {type: calibrated, threshold: 0, alpha: 2}\n",
            r"line 4, field features\[0\]\.drift_comparator\.alpha: must be in \(0, 1\)",
        ),
        ("features:\n  - {name: a, type: INT}\n  - {name: a, type: INT}\n", "line 3.*duplicate feature 'a'"),
    ],
)
def test_invalid_schema_names_line_and_field(text: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        parse_schema(text, source="s.yaml")


def test_tfdv_pbtxt_import(tmp_path: Path) -> None:
    from loopml.data.tfdv_schema import read_tfdv_schema

    path = tmp_path / "schema.pbtxt"
    path.write_text(
        'feature { name: "c" type: BYTES domain: "c" presence { min_fraction: 1 min_count: 1 }\n'
        "  drift_comparator { infinity_norm { threshold: 0.01 } } }\n"
        'feature { name: "x" type: FLOAT float_domain { min: 0 max: 3 }\n'
        "  skew_comparator { jensen_shannon_divergence { threshold: 0.1 } } }\n"
        'string_domain { name: "c" value: "u" value: "v" }\n'
    )
    schema = read_tfdv_schema(path)
    c, x = schema.get_feature("c"), schema.get_feature("x")
    assert c.type is FeatureType.STRING and c.domain == ("u", "v") and c.presence.min_fraction == 1.0
    assert c.drift_comparator is not None and c.drift_comparator.type is ComparatorType.L_INFINITY
    assert (x.min, x.max) == (0.0, 3.0)
    assert x.skew_comparator is not None and x.skew_comparator.method == "tfdv"
    path.write_text("feature { nam: 1 }")
    with pytest.raises(InvalidInput, match="not a TFDV schema"):
        read_tfdv_schema(path)


def test_ids_and_partition_keys_get_no_comparator_domain_or_range() -> None:
    # A census-like span: a row id, a year partition key, a string id, a constant string partition
    n = 500
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "id": np.arange(1000, 1000 + n),
            "year": np.full(n, 2015),
            "uuid": [f"row-{i:05d}" for i in rng.permutation(n)],
            "state": np.full(n, "MA"),
            "age": rng.integers(18, 90, n),
            "small": rng.integers(0, n, n),  # spans ~n values but with repeats: not an id
            "city": rng.choice(["a", "b", "c"], n),
        }
    )
    schema = infer_schema(compute_statistics(frame), infer_ranges=True)
    for name in ("id", "year", "uuid", "state"):
        f = schema.get_feature(name)
        assert f.drift_comparator is None and f.skew_comparator is None, name
        assert f.domain is None and f.min is None and f.max is None, name
    for name in ("age", "small", "city"):
        assert schema.get_feature(name).drift_comparator is not None, name
    assert "Row ids and partition keys" in dump_schema(schema)
    # comparing a later span: ids and year change completely, no anomaly is raised for them
    later = frame.assign(id=frame["id"] + 10 * n, year=2018, uuid=[f"new-{i}" for i in range(n)])
    result = validate(compute_statistics(later), schema, previous=compute_statistics(frame))
    assert not result.has_anomalies, result.anomalies
