"""``loopml experiments|runs|artifacts|lineage``: output, --json, and exit codes."""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from loopml.config import Settings
from loopml.tracking import Client

Invoke = Callable[..., Any]


@pytest.fixture
def recorded(home: Path, tmp_path: Path) -> dict[str, str]:
    client = Client(Settings(home=home))
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n")
    dataset = client.create_artifact(data, type="Dataset")
    ids: dict[str, str] = {"dataset": dataset.artifact_id}
    for i, lr in enumerate((0.1, 0.2)):
        with client.start_run("cli", f"run{i}", seeds={"numpy": i}) as run:
            client.log_input(run.run_id, dataset)
            client.log_params(run.run_id, {"lr": lr, "model": "sgd"})
            for step in range(3):
                client.log_metric(run.run_id, "acc", 0.5 + i * 0.1 + step * 0.01, step=step)
            [art] = client.log_artifact(run.run_id, data, "out.csv")
            ids[f"run{i}"] = run.run_id
            ids[f"art{i}"] = art.artifact_id
    client.close()
    return ids


def test_version_and_help(invoke: Invoke) -> None:
    result = invoke("--version")
    assert result.code == 0 and result.out.startswith("loopml ")
    helped = invoke("--help")
    assert helped.code == 0
    for group in ("experiments", "runs", "artifacts", "lineage", "demo"):
        assert group in helped.out


def test_experiments_list(invoke: Invoke, recorded: dict[str, str]) -> None:
    result = invoke("experiments", "list", "--json")
    assert result.code == 0
    assert "cli" in {e["name"] for e in json.loads(result.out)["items"]}
    assert "cli" in invoke("experiments", "list").out


def test_runs_list_filter_and_order(invoke: Invoke, recorded: dict[str, str]) -> None:
    result = invoke(
        "runs",
        "list",
        "--experiment",
        "cli",
        "--filter",
        "metrics.acc > 0.55",
        "--order-by",
        "metrics.acc DESC",
        "--json",
    )
    assert result.code == 0, result.err
    runs = json.loads(result.out)["items"]
    assert [r["run_id"] for r in runs] == [recorded["run1"]]
    both = json.loads(invoke("runs", "list", "-e", "cli", "--max-results", "1", "--json").out)
    assert len(both["items"]) == 1 and both["next_page_token"]
    everything = json.loads(invoke("runs", "list", "--json").out)["items"]
    assert {r["run_id"] for r in everything} == {recorded["run0"], recorded["run1"]}
    table = invoke("runs", "list", "-e", "cli")
    assert table.code == 0 and "run0" in table.out


def test_runs_show(invoke: Invoke, recorded: dict[str, str]) -> None:
    result = invoke("runs", "show", recorded["run0"], "--json")
    assert result.code == 0
    shown = json.loads(result.out)
    assert shown["run"]["params"] == {"lr": "0.1", "model": "sgd"}
    assert shown["run"]["metrics"]["acc"] == pytest.approx(0.52)
    assert shown["run"]["status"] == "FINISHED"
    assert [a["name"] for a in shown["artifacts"]] == ["out.csv"]
    human = invoke("runs", "show", recorded["run0"])
    assert human.code == 0
    for word in ("Params", "Metrics", "lr", "FINISHED", "out.csv", "python"):
        assert word in human.out


def test_unknown_run_exits_2(invoke: Invoke, recorded: dict[str, str]) -> None:
    result = invoke("runs", "show", "0" * 32)
    assert result.code == 2
    assert "0" * 32 in result.err
    assert invoke("artifacts", "show", "0" * 32).code == 2
    assert invoke("lineage", "0" * 32).code == 2


def test_runs_compare(invoke: Invoke, recorded: dict[str, str]) -> None:
    result = invoke("runs", "compare", recorded["run0"], recorded["run1"], "--json")
    assert result.code == 0
    runs = json.loads(result.out)["items"]
    assert [r["params"]["lr"] for r in runs] == ["0.1", "0.2"]
    human = invoke("runs", "compare", recorded["run0"], recorded["run1"])
    assert human.code == 0 and "param lr" in human.out and "metric acc" in human.out


def test_runs_reproduce(invoke: Invoke, recorded: dict[str, str], tmp_path: Path) -> None:
    reqs = tmp_path / "reqs.txt"
    result = invoke("runs", "reproduce", recorded["run1"], "--requirements-out", str(reqs))
    assert result.code == 0, result.err
    assert f"pip install -r {reqs}" in result.out
    assert "numpy=1" in result.out
    assert "python" in result.out.lower()
    assert any(line.lower().startswith("scikit-learn==") for line in reqs.read_text().splitlines())
    as_json = json.loads(invoke("runs", "reproduce", recorded["run1"], "--json").out)
    assert as_json["steps"] and "requirements" in as_json


def test_artifacts_show_get_verify(invoke: Invoke, recorded: dict[str, str], tmp_path: Path) -> None:
    shown = json.loads(invoke("artifacts", "show", recorded["art0"], "--json").out)
    assert shown["name"] == "out.csv" and shown["size"] == 4
    assert "out.csv" in invoke("artifacts", "show", recorded["art0"]).out
    out = tmp_path / "got.csv"
    assert invoke("artifacts", "get", recorded["art0"], "--out", str(out)).code == 0
    assert out.read_text() == "x\n1\n"
    ok = invoke("artifacts", "verify", recorded["art0"])
    assert ok.code == 0 and "OK" in ok.out


def test_tampered_artifact_fails_verification(invoke: Invoke, recorded: dict[str, str], home: Path) -> None:
    shown = json.loads(invoke("artifacts", "show", recorded["art0"], "--json").out)
    blob = home / "artifacts" / shown["uri"]
    assert blob.is_file()
    os.chmod(blob, 0o644)
    blob.write_bytes(b"y\n2\n")
    result = invoke("artifacts", "verify", recorded["art0"])
    assert result.code == 1
    assert "IntegrityError" in result.err


def test_lineage_tree_and_json(invoke: Invoke, recorded: dict[str, str]) -> None:
    result = invoke("lineage", recorded["art0"], "--json")
    assert result.code == 0, result.err
    graph = json.loads(result.out)
    ids = {n["id"] for n in graph["nodes"]}
    assert {recorded["art0"], recorded["run0"], recorded["dataset"]} <= ids
    tree = invoke("lineage", recorded["dataset"], "--direction", "downstream", "--depth", "1")
    assert tree.code == 0 and "run0" in tree.out and "run1" in tree.out
    both = invoke("lineage", recorded["run0"], "--direction", "both")
    assert "upstream" in both.out and "downstream" in both.out
    assert invoke("lineage", recorded["run0"], "--direction", "sideways").code == 2


def test_artifact_recorded_unsafe_shows_its_verdict_and_downloads_only_with_allow_unsafe(
    invoke: Invoke, home: Path, tmp_path: Path
) -> None:
    class RunsCode:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("echo pwned",))

    evil = tmp_path / "model.pkl"
    evil.write_bytes(pickle.dumps(RunsCode()))
    client = Client(Settings(home=home, unsafe_artifacts="record"))
    with client.start_run("cli") as run:
        [art] = client.log_artifact(run.run_id, evil)
    client.close()
    shown = invoke("artifacts", "show", art.artifact_id)
    assert shown.code == 0 and "unsafe (pickle)" in shown.out.replace("\n", " ")
    out = tmp_path / "got.pkl"
    refused = invoke("artifacts", "get", art.artifact_id, "--out", str(out))
    assert refused.code == 1 and "--allow-unsafe" in refused.err and not out.exists()
    allowed = invoke("artifacts", "get", art.artifact_id, "--out", str(out), "--allow-unsafe")
    assert allowed.code == 0 and out.read_bytes() == evil.read_bytes()
