"""`loopml data stats|schema|validate|report` end to end, with exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from loopml.cli.app import main
from loopml.data import compute_statistics
from loopml.data.files import write_statistics
from tests.data.conftest import make_frame


def _run(*args: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    code = info.value.code
    return 0 if code is None else int(code)


def _main_ok(*args: str) -> None:
    try:
        main(list(args))
    except SystemExit as ex:
        assert ex.code in (0, None), f"exit {ex.code}"


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    make_frame(4000, seed=1).to_csv(tmp_path / "train.csv", index=False)
    serve = make_frame(4000, seed=2)
    serve["normal"] = serve["normal"] + 3.0
    serve.loc[:99, "color"] = "purple"
    serve.to_parquet(tmp_path / "serve.parquet")
    return tmp_path


def test_stats_schema_validate_report(files: Path) -> None:
    d = files
    _main_ok("data", "stats", str(d / "train.csv"), "--out", str(d / "train.json"))
    _main_ok("data", "stats", str(d / "serve.parquet"), "--out", str(d / "serve.json"), "--json")
    assert json.loads((d / "train.json").read_text())["num_examples"] == 4000
    _main_ok("data", "schema", str(d / "train.json"), "--out", str(d / "schema.yaml"))
    assert "# loopml data schema" in (d / "schema.yaml").read_text()
    _main_ok(
        "data",
        "validate",
        str(d / "train.json"),
        "--schema",
        str(d / "schema.yaml"),
        "--training",
        str(d / "train.json"),
        "--out",
        str(d / "clean.json"),
    )
    assert json.loads((d / "clean.json").read_text())["anomalies"] == []
    code = _run(
        "data",
        "validate",
        str(d / "serve.json"),
        "--schema",
        str(d / "schema.yaml"),
        "--training",
        str(d / "train.json"),
        "--out",
        str(d / "anomalies.json"),
    )
    assert code == 1
    doc = json.loads((d / "anomalies.json").read_text())
    kinds = {(a["feature"], a["kind"]) for a in doc["anomalies"]}
    assert ("color", "ENUM_TYPE_UNEXPECTED_STRING_VALUES") in kinds
    assert ("normal", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH") in kinds
    assert {e["comparison"] for e in doc["drift_skew"]} == {"skew"}
    assert (
        _run(
            "data",
            "validate",
            str(d / "serve.json"),
            "--schema",
            str(d / "schema.yaml"),
            "--training",
            str(d / "train.json"),
            "--threshold",
            "0.9",
        )
        == 1
    )  # the enum anomaly remains
    _main_ok(
        "data",
        "report",
        str(d / "serve.json"),
        str(d / "train.json"),
        "--schema",
        str(d / "schema.yaml"),
        "--out",
        str(d / "report.html"),
        "--svg",
        str(d / "svg"),
    )
    page = (d / "report.html").read_text()
    assert "<svg" in page and "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in page and "<script" not in page
    assert (d / "svg" / "normal.svg").read_text().startswith("<svg")
    _main_ok("data", "show-stats", str(d / "serve.json"), "--json")


def test_bad_inputs_exit_2_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    assert _run("data", "stats", str(tmp_path / "empty.csv"), "--out", str(tmp_path / "s.json")) == 2
    assert not (tmp_path / "s.json").exists()
    assert "empty" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("features:\n  - name: a\n    type: INTEGER\n")
    (tmp_path / "s.json").write_text("{not json")
    assert _run("data", "schema", str(tmp_path / "s.json"), "--out", str(tmp_path / "x.yaml")) == 2
    assert "line 1" in capsys.readouterr().err
    make_frame(10).to_csv(tmp_path / "t.csv", index=False)
    _main_ok("data", "stats", str(tmp_path / "t.csv"), "--out", str(tmp_path / "t.json"))
    assert _run("data", "validate", str(tmp_path / "t.json"), "--schema", str(tmp_path / "bad.yaml")) == 2
    assert "line 3, field features[0].type" in capsys.readouterr().err.replace("\n", "")


def test_header_only_csv_exits_2_as_help_promises(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "h.csv").write_text("a,b\n")
    capsys.readouterr()
    assert _run("data", "stats", str(tmp_path / "h.csv"), "--out", str(tmp_path / "h.json")) == 2
    assert "'h.csv' holds no rows" in capsys.readouterr().err.replace(str(tmp_path) + "/", "")
    assert not (tmp_path / "h.json").exists()


def test_binary_input_is_named_not_echoed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = b"\x7fELF\x02\x01\x01\x00BINARY-PAYLOAD\xf0\x9f\x00"
    (tmp_path / "data.csv").write_bytes(secret * 50)
    (tmp_path / "data.parquet").write_bytes(secret * 50)
    (tmp_path / "latin1.csv").write_bytes("café,b\n1,2\n".encode("latin-1"))
    for name, says in (
        ("data.csv", "is not a CSV file: it holds binary data"),
        ("data.parquet", "is not a Parquet file"),
        ("latin1.csv", "line 1 (the header): invalid UTF-8"),
    ):
        capsys.readouterr()
        assert _run("data", "stats", str(tmp_path / name), "--out", str(tmp_path / "s.json")) == 2
        captured = capsys.readouterr()
        assert says in captured.err.replace("\n", "")
        assert "BINARY-PAYLOAD" not in captured.out + captured.err and "Traceback" not in captured.err


def test_unknown_suffix_hint_names_the_cli_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data.dat").write_text("a,b\n1,2\n")
    assert _run("data", "stats", str(tmp_path / "data.dat"), "--out", str(tmp_path / "s.json")) == 2
    assert "`--format csv`" in capsys.readouterr().err.replace("\n", "")
    _main_ok(
        "data", "stats", str(tmp_path / "data.dat"), "--format", "csv", "--out", str(tmp_path / "s.json")
    )


def test_stats_file_gets_the_users_umask(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    previous = os.umask(0o022)
    try:
        _main_ok("data", "stats", str(tmp_path / "t.csv"), "--out", str(tmp_path / "t.json"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "t.json").stat().st_mode) == 0o644


def test_header_only_statistics_are_no_data_in_span(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("a,b\n")
    write_statistics(compute_statistics(str(tmp_path / "h.csv")), tmp_path / "h.json")
    (tmp_path / "schema.yaml").write_text("features:\n  - {name: a, type: STRING}\n")
    assert (
        _run(
            "data",
            "validate",
            str(tmp_path / "h.json"),
            "--schema",
            str(tmp_path / "schema.yaml"),
            "--out",
            str(tmp_path / "a.json"),
        )
        == 1
    )
    assert json.loads((tmp_path / "a.json").read_text())["anomalies"][0]["kind"] == "NO_DATA_IN_SPAN"
