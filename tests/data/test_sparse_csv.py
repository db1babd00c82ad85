"""CSV columns that are empty where pyarrow infers types still get their real type."""

from __future__ import annotations

from pathlib import Path

from loopml.data import compute_statistics


def _write_sparse_csv(path: Path, *, empty_rows: int, tail: list[str]) -> None:
    # > 1 MiB of rows whose `tract` cell is empty, then rows that fill it in.
    filler = "x" * 40
    lines = ["id,tract,note"]
    lines += [f"{i},,{filler}" for i in range(empty_rows)]
    lines += [f"{empty_rows + i},{value},{filler}" for i, value in enumerate(tail)]
    path.write_text("\n".join(lines) + "\n")


def _feature(stats: object, name: str) -> object:
    return next(f for f in stats.features if f.name == name)  # type: ignore[attr-defined]


def test_late_integers_make_an_int_feature(tmp_path: Path) -> None:
    path = tmp_path / "trips.csv"
    _write_sparse_csv(path, empty_rows=30_000, tail=["17031081401", "17031839100"])
    stats = compute_statistics(path)
    tract = _feature(stats, "tract")
    assert tract.type == "INT"
    assert tract.num_non_missing == 2
    assert tract.num_missing == 30_000


def test_late_decimals_and_text_widen_the_type(tmp_path: Path) -> None:
    floats = tmp_path / "floats.csv"
    _write_sparse_csv(floats, empty_rows=30_000, tail=["1", "2.5"])
    assert _feature(compute_statistics(floats), "tract").type == "FLOAT"
    text = tmp_path / "text.csv"
    _write_sparse_csv(text, empty_rows=30_000, tail=["1", "north"])
    assert _feature(compute_statistics(text), "tract").type == "STRING"
