"""PNG charts of a statistics report (`loopml data report --png DIR`, the ``plots`` extra)."""

from __future__ import annotations

import importlib
import importlib.util
import struct
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from loopml.cli.app import main
from loopml.data import compute_statistics, infer_schema, validate, write_statistics
from loopml.errors import MissingDependency
from tests.data.conftest import make_frame

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must come first."""
    assert data[:8] == PNG_MAGIC, data[:8]
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_write_png_report_writes_one_valid_png_per_feature(tmp_path: Path) -> None:
    from loopml.data.report_png import png_file_name, write_png_report

    train = compute_statistics(make_frame(4000, seed=1))
    serve_frame = make_frame(4000, seed=2)
    serve_frame.loc[:99, "color"] = "purple"
    serve = compute_statistics(serve_frame)
    result = validate(serve, infer_schema(train), training=train)
    assert any(a.feature == "color" for a in result.anomalies)

    written = write_png_report(serve, train, out_dir=tmp_path / "png", result=result)

    assert [p.name for p in written] == [png_file_name(f.name) for f in serve.features]
    for path in written:
        data = path.read_bytes()
        width, height = _png_size(data)
        assert width >= 400 and height >= 250, (path.name, width, height)
        assert len(data) > 5_000, (path.name, len(data))
    # numeric with a baseline: two panels side by side → wider than a categorical chart
    assert (
        _png_size((tmp_path / "png" / "normal.png").read_bytes())[0]
        > _png_size((tmp_path / "png" / "color.png").read_bytes())[0]
    )
    assert not list((tmp_path / "png").glob(".*.tmp"))  # atomic writes leave no temp files


def test_png_handles_degenerate_features_and_unsafe_names(tmp_path: Path) -> None:
    from loopml.data.report_png import write_png_report

    table = pa.table(
        {
            "all null": pa.array([None, None, None], pa.float64()),
            "const/x": [2.0, 2.0, 2.0],
            "empty_str": pa.array([None, None, None], pa.string()),
        }
    )
    written = write_png_report(compute_statistics(table), out_dir=tmp_path)
    assert sorted(p.name for p in written) == ["all_null.png", "const_x.png", "empty_str.png"]
    for path in written:
        assert path.read_bytes().startswith(PNG_MAGIC)


def test_cli_report_png(tmp_path: Path) -> None:
    make_frame(3000, seed=3).to_parquet(tmp_path / "d.parquet")
    write_statistics(compute_statistics(tmp_path / "d.parquet"), tmp_path / "s.json")
    try:
        main(
            [
                "data",
                "report",
                str(tmp_path / "s.json"),
                "--out",
                str(tmp_path / "r.html"),
                "--png",
                str(tmp_path / "charts"),
            ]
        )
    except SystemExit as ex:
        assert ex.code in (0, None), f"exit {ex.code}"
    names = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert names == sorted(f"{c}.png" for c in make_frame(10).columns)
    assert all((tmp_path / "charts" / n).read_bytes().startswith(PNG_MAGIC) for n in names)
    assert "<svg" in (tmp_path / "r.html").read_text()  # the HTML report is unchanged


def test_png_without_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object, **kwargs: object) -> object:
        return None if name == "matplotlib" else real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.delitem(sys.modules, "loopml.data.report_png", raising=False)
    with pytest.raises(MissingDependency, match=r"PNG reports.*loopml\[plots\]"):
        importlib.import_module("loopml.data.report_png")
    # the HTML report needs no plotting library
    assert "loopml.data.report" in sys.modules
