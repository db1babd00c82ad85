"""``loopml pipeline run|runs|show``: output, --json and exit codes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from loopml.cli.app import main

PIPELINE_FILE = """
from loopml.pipeline import Dataset, Model, Parameter, Pipeline, component

@component
def make(*, rows: int = 3) -> Dataset:
    return Dataset.from_properties({"rows": rows})

@component
def train(data: Dataset, *, fail: bool = False) -> Model:
    if fail:
        raise ValueError("training diverged")
    return Model.from_properties({"rows": data.properties["rows"]})

data = make(rows=Parameter(name="rows", type=int, default=3))
fail = Parameter(name="fail", type=bool, default=False)
demo = Pipeline("demo", steps=[train(data=data.output, fail=fail)])
"""


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def pipeline_file(tmp_path: Path) -> Path:
    path = tmp_path / "demo_pipeline.py"
    path.write_text(PIPELINE_FILE)
    return path


@pytest.fixture
def invoke(capsys: pytest.CaptureFixture[str], tmp_path: Path):  # type: ignore[no-untyped-def]
    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(["--home", str(tmp_path / "home"), *args])
            code = 0
        except SystemExit as ex:
            code = ex.code if isinstance(ex.code, int) else 1
        captured = capsys.readouterr()
        return Result(code=code, out=captured.out, err=captured.err)

    return run


def test_run_then_cached_rerun_then_runs_and_show(invoke, pipeline_file: Path) -> None:  # type: ignore[no-untyped-def]
    first = invoke("pipeline", "run", str(pipeline_file), "--json")
    assert first.code == 0, first.err
    payload = json.loads(first.out)
    assert payload["status"] == "COMPLETE" and [s["state"] for s in payload["steps"]] == ["COMPLETE"] * 2
    second = invoke("pipeline", "run", str(pipeline_file))
    assert second.code == 0 and "COMPLETE" in second.out and "(2 cached)" in second.out
    assert "CACHED" in second.err  # the live progress table
    changed = json.loads(
        invoke("pipeline", "run", f"{pipeline_file}:demo", "--param", "rows=5", "--json").out
    )
    assert [s["state"] for s in changed["steps"]] == ["COMPLETE", "COMPLETE"]
    forced = json.loads(invoke("pipeline", "run", str(pipeline_file), "--no-cache", "--json").out)
    assert [s["state"] for s in forced["steps"]] == ["COMPLETE", "COMPLETE"]
    pooled = invoke("pipeline", "run", str(pipeline_file), "--no-cache", "--workers", "2", "--json")
    assert [s["state"] for s in json.loads(pooled.out)["steps"]] == ["COMPLETE", "COMPLETE"], pooled.out

    runs = json.loads(invoke("pipeline", "runs", "--json").out)["items"]
    assert len(runs) == 5 and {r["status"] for r in runs} == {"COMPLETE"}
    assert runs[-1]["run_id"] == payload["run_id"]  # newest first
    assert invoke("pipeline", "runs").code == 0

    shown = json.loads(invoke("pipeline", "show", payload["run_name"], "--json").out)
    assert shown["summary"]["run_id"] == payload["run_id"]
    assert [(s["name"], s["state"], s["upstream"]) for s in shown["steps"]] == [
        ("make", "COMPLETE", []),
        ("train", "COMPLETE", ["make"]),
    ]
    assert set(shown["steps"][1]["outputs"]) == {"model"}
    text = invoke("pipeline", "show", payload["run_id"][:8])
    assert text.code == 0 and "train" in text.out and "COMPLETE" in text.out
    not_tracked = invoke("runs", "show", payload["run_id"][:8])  # the prefix `pipeline runs` prints
    assert not_tracked.code == 2 and f"loopml pipeline show {payload['run_id'][:8]}" in not_tracked.err


def test_failed_run_exits_1_and_shows_the_failure(invoke, pipeline_file: Path) -> None:  # type: ignore[no-untyped-def]
    failed = invoke("pipeline", "run", str(pipeline_file), "--param", "fail=true", "--json")
    assert failed.code == 1
    payload = json.loads(failed.out)
    assert payload["status"] == "FAILED"
    assert "ValueError: training diverged" in payload["steps"][1]["error"]
    shown = json.loads(invoke("pipeline", "show", payload["run_id"], "--json").out)
    assert shown["summary"]["status"] == "FAILED" and shown["steps"][1]["state"] == "FAILED"
    runs = json.loads(invoke("pipeline", "runs", "--json").out)["items"]
    assert runs[0]["counts"] == {"COMPLETE": 1, "FAILED": 1}


def test_bad_input_exits_2(invoke, pipeline_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad_param = invoke("pipeline", "run", str(pipeline_file), "--param", "rows=lots")
    assert bad_param.code == 2 and "cannot read 'lots' as int" in bad_param.err
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    none = invoke("pipeline", "run", str(empty))
    assert none.code == 2 and "defines no pipeline" in none.err
    assert invoke("pipeline", "run", str(pipeline_file), "--executor", "dask").code == 2
    missing = invoke("pipeline", "show", "nonexistent-run")  # no store in this folder yet
    assert missing.code == 2 and "No loopml store" in missing.err
