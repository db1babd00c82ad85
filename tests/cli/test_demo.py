"""``loopml demo``: the quickstart end to end in a temporary home; the examples found as package data."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from loopml.cli.demo import _example
from loopml.errors import InvalidInput

Invoke = Callable[..., Any]


@pytest.mark.slow
def test_demo_quickstart_trains_tracks_and_prints_lineage(invoke: Invoke) -> None:
    result = invoke("demo", "--quickstart")
    assert result.code == 0, result.err
    assert "lineage" in result.out.lower() or "upstream" in result.out
    runs = json.loads(invoke("runs", "list", "-e", "quickstart", "--json").out)["items"]
    parents = [r for r in runs if r["parent_run_id"] is None]
    assert len(parents) == 1 and len(runs) == 4
    parent = parents[0]
    assert parent["status"] == "FINISHED"
    assert parent["metrics"]["best_val_accuracy"] > 0.6
    assert parent["reproducibility"]["datasets"][0]["type"] == "Dataset"
    shown = json.loads(invoke("runs", "show", parent["run_id"], "--json").out)
    assert "Model" in {a["type"] for a in shown["artifacts"]}


def test_demo_finds_the_examples_as_package_resources() -> None:
    with _example("census") as census, _example("quickstart") as quickstart:
        assert (census / "pipeline.py").is_file() and (census / "schema.yaml").is_file()
        assert len(list((census / "data").glob("year=*.parquet"))) == 4
        assert (quickstart / "train.py").is_file()
        assert census.parent == quickstart.parent == Path(str(files("loopml.examples")))


def test_a_missing_example_says_to_reinstall() -> None:
    with pytest.raises(InvalidInput, match=r"'nowhere' example .* reinstall loopml"), _example("nowhere"):
        pass


def test_an_unusable_state_folder_is_a_clear_error(invoke: Invoke, tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    result = invoke("--home", str(blocked), "demo", "--json")
    assert result.code != 0
    assert "a-file" in result.err and "writable" in result.err
    assert "Traceback" not in result.err + result.out
