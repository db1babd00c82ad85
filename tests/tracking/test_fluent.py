"""The top-level facade: loopml.start_run and friends over one default client."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import loopml
from loopml.errors import InvalidState
from loopml.store.entities import RunStatus


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path) -> Iterator[Path]:
    loopml.set_settings(home=tmp_path / "home")
    yield tmp_path
    loopml.reset()


def test_facade_logs_to_the_active_run(tmp_path: Path) -> None:
    data = tmp_path / "d.txt"
    data.write_text("data")
    with loopml.start_run("fluent", "main", seeds={"numpy": 1}) as run:
        assert loopml.active_run() is not None
        loopml.log_param("p", 1)
        loopml.log_params({"q": "x"})
        loopml.log_metric("m", 0.5, step=1)
        loopml.log_metrics({"n": 2.0}, step=2)
        loopml.set_tag("t", "v")
        loopml.set_tags({"u": "w"})
        [artifact] = loopml.log_artifact(data)
        loopml.log_dict({"a": 1}, "a.json")
        loopml.log_text("hi", "hi.txt")
        dataset = loopml.get_client().create_artifact(data, name="input.txt")
        loopml.log_input(dataset)
    assert loopml.active_run() is None
    stored = loopml.get_run(run.run_id)
    assert stored.status is RunStatus.FINISHED
    assert stored.params == {"p": "1", "q": "x"}
    assert stored.metrics == {"m": 0.5, "n": 2.0}
    assert stored.tags["t"] == "v" and stored.tags["u"] == "w"
    assert artifact.run_id == run.run_id
    assert stored.reproducibility["datasets"][0]["artifact_id"] == dataset.artifact_id
    assert [r.run_id for r in loopml.search_runs("fluent").items] == [run.run_id]
    assert (tmp_path / "home" / "store.db").is_file()


def test_nested_runs_through_the_facade() -> None:
    with loopml.start_run("fluent") as parent:
        with pytest.raises(InvalidState, match="nested=True"):
            loopml.start_run("fluent")
        with loopml.start_run("fluent", nested=True) as child:
            assert loopml.active_run().run_id == child.run_id  # type: ignore[union-attr]
        assert loopml.active_run().run_id == parent.run_id  # type: ignore[union-attr]
    assert loopml.get_run(child.run_id).parent_run_id == parent.run_id


def test_logging_without_active_run_is_a_clear_error() -> None:
    with pytest.raises(InvalidState, match="start_run"):
        loopml.log_metric("m", 1.0)


def test_end_run_ends_the_active_run() -> None:
    run = loopml.start_run()
    loopml.end_run(RunStatus.KILLED)
    assert loopml.get_run(run.run_id).status is RunStatus.KILLED
    loopml.end_run()  # nothing active: no error


def test_import_is_light() -> None:
    code = (
        "import sys, json, loopml, loopml.cli; "
        "print(json.dumps(sorted(m for m in ('ray', 'onnxruntime', 'psycopg', 'sqlalchemy', 'sklearn', "
        "'pyarrow') if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert json.loads(done.stdout) == []


def test_dir_of_loopml_lists_the_sdk_only() -> None:
    import loopml

    names = dir(loopml)
    assert names == sorted(loopml.__all__)
    assert "start_run" in names and "log_metric" in names
    assert not {"importlib", "annotations", "Any", "TYPE_CHECKING", "_FLUENT"} & set(names)
