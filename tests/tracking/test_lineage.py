"""Lineage: recording executions and walking the graph upstream and downstream, depth-limited."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.store.entities import Artifact, EventType
from loopml.tracking import Client, NodeKind, record_execution, walk


def _artifact(client: Client, tmp_path: Path, name: str) -> Artifact:
    path = tmp_path / name
    path.write_text(name)
    return client.create_artifact(path, type="Dataset")


@pytest.fixture
def chain(client: Client, tmp_path: Path) -> dict[str, str]:
    """raw -[ingest]-> clean -[run]-> model -[evaluate]-> report."""
    raw = _artifact(client, tmp_path, "raw.csv")
    clean = _artifact(client, tmp_path, "clean.csv")
    ingest = record_execution(
        client.store, type="ingest", name="ingest", inputs={"raw": raw}, outputs={"examples": [clean]}
    )
    with client.start_run("exp", "train") as run:
        client.log_input(run.run_id, clean)
        model_file = tmp_path / "model.bin"
        model_file.write_bytes(b"m")
        [model] = client.log_artifact(run.run_id, model_file, type="Model")
    report = _artifact(client, tmp_path, "report.json")
    evaluate = record_execution(
        client.store,
        type="evaluate",
        name="evaluate",
        inputs={"model": model.artifact_id},
        outputs={"evaluation": report.artifact_id},
        params={"threshold": 0.5},
    )
    return {
        "raw": raw.artifact_id,
        "clean": clean.artifact_id,
        "ingest": ingest.execution_id,
        "run": run.run_id,
        "model": model.artifact_id,
        "evaluate": evaluate.execution_id,
        "report": report.artifact_id,
    }


def test_upstream_of_the_report_reaches_the_raw_data(client: Client, chain: dict[str, str]) -> None:
    graph = walk(client.store, chain["report"], direction="upstream", depth=10)
    assert graph.root == chain["report"]
    ids = {n.id for n in graph.nodes}
    assert ids == {chain[k] for k in ("raw", "clean", "ingest", "run", "model", "evaluate", "report")}
    assert graph.node(chain["run"]).kind is NodeKind.RUN
    assert graph.node(chain["ingest"]).kind is NodeKind.EXECUTION
    assert graph.node(chain["model"]).kind is NodeKind.ARTIFACT
    edge = {(e.source, e.target): e for e in graph.edges}
    assert edge[(chain["clean"], chain["run"])].event_type is EventType.INPUT
    assert edge[(chain["clean"], chain["run"])].role == "dataset"
    assert edge[(chain["run"], chain["model"])].event_type is EventType.OUTPUT
    assert edge[(chain["ingest"], chain["clean"])].role == "examples"


def test_depth_limits_the_walk(client: Client, chain: dict[str, str]) -> None:
    one = walk(client.store, chain["report"], direction="upstream", depth=1)
    assert {n.id for n in one.nodes} == {chain["report"], chain["evaluate"]}
    two = walk(client.store, chain["report"], direction="upstream", depth=2)
    assert {n.id for n in two.nodes} == {chain["report"], chain["evaluate"], chain["model"]}
    zero = walk(client.store, chain["report"], depth=0)
    assert [n.id for n in zero.nodes] == [chain["report"]] and zero.edges == ()


def test_downstream_of_raw_data(client: Client, chain: dict[str, str]) -> None:
    graph = walk(client.store, chain["raw"], direction="downstream", depth=4)
    assert {n.id for n in graph.nodes} == {chain[k] for k in ("raw", "ingest", "clean", "run", "model")}
    assert [e.target for e in graph.children(chain["clean"])] == [chain["run"]]


def test_both_directions_from_a_run(client: Client, chain: dict[str, str]) -> None:
    graph = walk(client.store, chain["run"], direction="both", depth=1)
    assert graph.root == chain["run"]
    assert {n.id for n in graph.nodes} == {chain["run"], chain["clean"], chain["model"]}
    by_execution = walk(client.store, chain["evaluate"], direction="both", depth=1)
    assert {n.id for n in by_execution.nodes} == {chain["evaluate"], chain["model"], chain["report"]}


def test_cycles_terminate(client: Client, tmp_path: Path) -> None:
    a = _artifact(client, tmp_path, "a")
    b = _artifact(client, tmp_path, "b")
    record_execution(client.store, type="step", name="ab", inputs={"in": a}, outputs={"out": b})
    record_execution(client.store, type="step", name="ba", inputs={"in": b}, outputs={"out": a})
    graph = walk(client.store, a.artifact_id, direction="both", depth=50)
    assert len(graph.nodes) == 4
    assert len(graph.edges) == 4


def test_unknown_id_and_bad_arguments(client: Client, chain: dict[str, str]) -> None:
    with pytest.raises(NotFound, match="0" * 32):
        walk(client.store, "0" * 32)
    with pytest.raises(InvalidInput, match="direction"):
        walk(client.store, chain["raw"], direction="sideways")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="depth"):
        walk(client.store, chain["raw"], depth=-1)
    with pytest.raises(NotFound):
        record_execution(client.store, type="x", name="x", inputs={"in": "f" * 32})
