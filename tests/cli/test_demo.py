"""``loopml demo --quickstart`` end to end in a temporary home."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

Invoke = Callable[..., Any]


@pytest.mark.slow
def test_demo_quickstart_trains_tracks_and_prints_lineage(invoke: Invoke) -> None:
    result = invoke("demo", "--quickstart")
    assert result.code == 0, result.err
    assert "lineage" in result.out.lower() or "upstream" in result.out
    runs = json.loads(invoke("runs", "list", "-e", "quickstart", "--json").out)["runs"]
    parents = [r for r in runs if r["parent_run_id"] is None]
    assert len(parents) == 1 and len(runs) == 4
    parent = parents[0]
    assert parent["status"] == "FINISHED"
    assert parent["metrics"]["best_val_accuracy"] > 0.6
    assert parent["reproducibility"]["datasets"][0]["type"] == "Dataset"
    shown = json.loads(invoke("runs", "show", parent["run_id"], "--json").out)
    assert "Model" in {a["type"] for a in shown["artifacts"]}
