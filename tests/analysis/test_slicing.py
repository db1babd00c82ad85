# ruff: noqa: RUF001  (the multiplication sign joins crossed slice names on purpose)
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.analysis import SliceSpec
from loopml.analysis.slicing import make_slices
from loopml.errors import InvalidInput


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "SEX": [1, 2, 2, 1, 2, 1, 2, 2],
            "RAC1P": [1, 6, 1, 1, 6, 6, 1, 1],
            "AGEP": [20.0, 35.0, 45.0, 31.0, 29.0, 60.0, np.nan, 40.0],
            "STATE": ["MA", "MA", "NY", "NY", "MA", "MA", "MA", None],
        }
    )


def _counts(specs: list[SliceSpec]) -> dict[str, int]:
    return {s.key: len(s.index) for s in make_slices(_frame(), specs, n=8)}


def test_overall_always_first() -> None:
    slices = make_slices(None, [], n=8)
    assert [s.key for s in slices] == ["overall"]
    assert slices[0].index.tolist() == list(range(8))


def test_feature_values_and_crosses() -> None:
    counts = _counts([SliceSpec.feature("SEX"), SliceSpec.cross("SEX", "RAC1P")])
    assert counts == {
        "overall": 8,
        "SEX=1": 3,
        "SEX=2": 5,
        "SEX=1 × RAC1P=1": 2,
        "SEX=1 × RAC1P=6": 1,
        "SEX=2 × RAC1P=1": 3,
        "SEX=2 × RAC1P=6": 2,
    }


def test_bucket_edges_render_intervals_and_missing() -> None:
    counts = _counts([SliceSpec.buckets("AGEP", edges=[30, 40])])
    assert counts == {"overall": 8, "AGEP=<missing>": 1, "AGEP<30": 2, "AGEP∈[30,40)": 2, "AGEP≥40": 3}


def test_quantile_buckets_split_evenly() -> None:
    counts = _counts([SliceSpec.buckets("AGEP", quantiles=2)])
    assert counts["AGEP<35"] == 3 and counts["AGEP≥35"] == 4


def test_string_feature_with_missing_value() -> None:
    counts = _counts([SliceSpec.feature("STATE")])
    assert counts == {"overall": 8, "STATE=MA": 5, "STATE=NY": 2, "STATE=<missing>": 1}


def test_float_codes_render_as_integers() -> None:
    frame = pd.DataFrame({"SEX": [1.0, 2.0, 2.0]})
    assert [s.key for s in make_slices(frame, [SliceSpec.feature("SEX")], n=3)] == [
        "overall",
        "SEX=1",
        "SEX=2",
    ]


def test_missing_column_names_it_and_lists_available() -> None:
    with pytest.raises(InvalidInput, match=r"'RACE'.*available columns: SEX, RAC1P, AGEP, STATE"):
        make_slices(_frame(), [SliceSpec.feature("RACE")], n=8)


def test_length_mismatch() -> None:
    with pytest.raises(InvalidInput, match="`features` has 8 rows but `y_true` has 9"):
        make_slices(_frame(), [SliceSpec.feature("SEX")], n=9)


def test_bad_specs() -> None:
    with pytest.raises(InvalidInput, match="exactly one of"):
        SliceSpec.buckets("AGEP")
    with pytest.raises(InvalidInput, match="increasing"):
        SliceSpec.buckets("AGEP", edges=[40, 30])
    with pytest.raises(InvalidInput, match="non-numeric"):
        make_slices(_frame(), [SliceSpec.buckets("STATE", edges=[1])], n=8)


def test_spec_round_trip() -> None:
    spec = SliceSpec(features=("AGEP", "SEX"), edges={"AGEP": (30.0, 40.0)})
    assert SliceSpec.from_dict(spec.to_dict()) == spec
    assert spec.name == "AGEP × SEX"
