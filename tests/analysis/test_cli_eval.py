"""`loopml eval show|report` (the CLI module lives in src/loopml/cli/eval.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopml.analysis import MetricThreshold, Predictions, evaluate
from loopml.cli.app import main

from .conftest import BinaryData


def _run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exit_info:
        return int(exit_info.code or 0)
    return 0


def _write(binary: BinaryData, tmp_path: Path, *, score: object) -> Path:
    ev = evaluate(
        binary.y_true, y_score=score, task="binary", features=binary.features, slices=["SEX"],
        baseline=Predictions(y_score=binary.good_score), bootstrap=None,
        thresholds=[MetricThreshold(metric="recall", lower=0.65, slices=("SEX",))],
    )  # fmt: skip
    return ev.save(tmp_path / "eval.json")


def test_show_failed_exits_1_and_names_metric_and_slice(
    binary: BinaryData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(binary, tmp_path, score=binary.bad_score)
    assert _run(["eval", "show", str(path)]) == 1
    out = capsys.readouterr().out
    assert "NOT BLESSED" in out and "recall on slice SEX=2" in out and "SEX=1" in out


def test_show_passed_exits_0_and_json(
    binary: BinaryData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(binary, tmp_path, score=binary.good_score)
    assert _run(["eval", "show", str(path)]) == 0
    assert "BLESSED" in capsys.readouterr().out
    assert _run(["eval", "show", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["blessing"]["passed"] is True and data["slices"][1]["key"] == "SEX=1"


def test_report_writes_html(binary: BinaryData, tmp_path: Path) -> None:
    path = _write(binary, tmp_path, score=binary.good_score)
    assert _run(["eval", "report", str(path), "--out", str(tmp_path / "r.html")]) == 0
    assert "SEX=2" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["eval", "show", str(tmp_path / "none.json")]) == 2
    assert "No evaluation file" in capsys.readouterr().err


def test_show_unknown_metric_names_the_available_ones(
    binary: BinaryData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(binary, tmp_path, score=binary.good_score)
    assert _run(["eval", "show", str(path), "--metrics", "auc"]) == 2
    err = capsys.readouterr().err
    assert "unknown metric 'auc'" in err and "roc_auc" in err
    assert _run(["eval", "show", str(path), "--metrics", "roc_auc,recall"]) == 0
    assert "roc_auc" in capsys.readouterr().out


def test_show_by_artifact_id_and_run_id(
    binary: BinaryData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from loopml.config import Settings
    from loopml.tracking import Client

    path = _write(binary, tmp_path, score=binary.good_score)
    home = tmp_path / "home"
    client = Client(Settings(home=home))
    with client.start_run("evals", "scored") as run:
        client.log_artifact(run.run_id, path, type="Evaluation")
        [art] = client.list_artifacts(run.run_id)
    client.close()
    for ref in (art.artifact_id, art.artifact_id[:8], run.run_id[:8]):
        assert _run(["--home", str(home), "eval", "show", ref]) == 0, capsys.readouterr().err
        assert "┘\n\nBLESSED" in capsys.readouterr().out  # the verdict is set apart from the table
    assert _run(["--home", str(home), "eval", "report", run.run_id[:8], "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").is_file()
    capsys.readouterr()
    assert _run(["--home", str(home), "eval", "show", "ffffffff"]) == 2
    assert "No run with id 'ffffffff'" in capsys.readouterr().err
