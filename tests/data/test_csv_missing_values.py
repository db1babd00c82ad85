"""What a CSV cell means: empty and "NA"-like cells are missing, NaN spellings are NaN values."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from loopml.data import compute_statistics


def _numeric(stats: object, name: str) -> tuple[int, int, int]:
    feature = next(f for f in stats.features if f.name == name)  # type: ignore[attr-defined]
    return feature.num_missing, feature.num_non_missing, feature.num_stats.num_nan


def test_nan_cells_are_nan_values_not_missing(tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n1.5,nan\nnan,2\n,NaN\n-nan,inf\nNA,3\n")

    stats = compute_statistics(csv)

    # a: 1.5, nan, <empty>, -nan, NA -> two missing, three present of which two NaN
    assert _numeric(stats, "a") == (2, 3, 2)
    assert _numeric(stats, "b") == (0, 5, 2)


def test_csv_and_parquet_of_the_same_data_agree(tmp_path: Path) -> None:
    values = [1.0, float("nan"), 2.5, None, float("nan")]
    table = pa.table({"i": list(range(5)), "x": pa.array(values, type=pa.float64())})
    pq.write_table(table, tmp_path / "x.parquet")
    (tmp_path / "x.csv").write_text("i,x\n0,1\n1,nan\n2,2.5\n3,\n4,nan\n")

    from_parquet = compute_statistics(tmp_path / "x.parquet")
    from_csv = compute_statistics(tmp_path / "x.csv")

    assert _numeric(from_csv, "x") == _numeric(from_parquet, "x") == (1, 4, 2)


def test_empty_text_cells_are_missing_values(tmp_path: Path) -> None:
    # a taxi-trip-like file: empty `company` cells are no company, not a value ""
    csv = tmp_path / "trips.csv"
    csv.write_text("company,fare\n" + "Flash Cab,1\n,2\nSun Taxi,3\n,4\nFlash Cab,5\n" * 20)
    feature = compute_statistics(csv).get_feature("company")
    assert (feature.num_missing, feature.num_non_missing) == (40, 60)
    s = feature.string_stats
    assert s is not None and s.unique == 2 and "" not in s.frequencies()
    assert s.avg_length == (40 * len("Flash Cab") + 20 * len("Sun Taxi")) / 60


def test_types_hold_for_the_whole_file_late_values_widen_the_column(tmp_path: Path) -> None:
    # pyarrow infers types from the first megabyte: a late 41.5 in an int column, then text
    rows = "".join(f"{i % 90},x\n" for i in range(400_000))
    (tmp_path / "late_float.csv").write_text("age,c\n" + rows + "41.5,y\n")
    (tmp_path / "late_text.csv").write_text("age,c\n" + rows + "41.5,y\nunknown,z\n")
    age = compute_statistics(tmp_path / "late_float.csv").get_feature("age")
    assert age.type.value == "FLOAT" and age.num_non_missing == 400_001
    assert age.num_stats is not None and age.num_stats.max == 89.0 and age.num_stats.min == 0.0
    text = compute_statistics(tmp_path / "late_text.csv", max_workers=2).get_feature("age")
    assert text.type.value == "STRING" and text.string_stats is not None and text.string_stats.unique == 92
