"""With LOOPML_TRACKING_URI set, every command goes through the server or says it needs local access."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.server.background import serve_in_thread
from loopml.store.sql import open_store
from loopml.tracking import Client

from .conftest import Invoke


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    home = tmp_path_factory.mktemp("server-home")
    with serve_in_thread(Settings(home=home)) as url:
        yield url, home


@pytest.fixture
def remote(
    server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """A run logged to the server, and the server's store holding a registered model."""
    url, home = server
    monkeypatch.setenv("LOOPML_TRACKING_URI", url)
    monkeypatch.chdir(tmp_path)  # a stray ./.loopml would appear here
    client = Client(Settings(tracking_uri=url))
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n")
    with client.start_run("remote-cli", f"run-{tmp_path.name}") as run:
        client.log_metric(run.run_id, "auc", 0.9)
        client.log_metric(run.run_id, "auc", 0.95, step=1)
        [art] = client.log_artifact(run.run_id, data)
    client.close()
    store = open_store(Settings(home=home).resolved_store_url())
    if store.models.find_model("churn") is None:
        store.models.create_model("churn", description="from the server")
    store.close()
    yield {"run": run.run_id, "artifact": art.artifact_id}
    assert not (tmp_path / ".loopml").exists()


def test_reads_go_through_the_server(invoke: Invoke, home: Path, remote: dict[str, str]) -> None:
    runs = json.loads(invoke("runs", "list", "-e", "remote-cli", "--json").out)["items"]
    assert remote["run"] in {r["run_id"] for r in runs}
    shown = invoke("runs", "show", remote["run"][:8], "--json")  # the prefix is resolved by the server
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["run"]["metrics"] == {"auc": 0.95}
    history = json.loads(invoke("runs", "metrics", remote["run"][:8], "auc", "--json").out)["items"]
    assert [p["value"] for p in history] == [0.9, 0.95]
    listed = json.loads(invoke("artifacts", "list", remote["run"][:8], "--json").out)["items"]
    assert [a["artifact_id"] for a in listed] == [remote["artifact"]]
    graph = invoke("lineage", remote["artifact"][:8], "--json")
    assert graph.code == 0 and remote["run"] in {n["id"] for n in json.loads(graph.out)["nodes"]}
    models = invoke("models", "list", "--json")
    assert models.code == 0, models.err
    assert "churn" in {m["name"] for m in json.loads(models.out)["items"]}
    assert "from the server" in invoke("models", "show", "churn").out
    pipeline_runs = invoke("pipeline", "runs", "--json")
    assert pipeline_runs.code == 0 and json.loads(pipeline_runs.out)["items"] == []
    datasets = invoke("data", "list", "--json")
    assert datasets.code == 0 and json.loads(datasets.out)["items"] == []
    assert invoke("experiments", "create", f"made-remotely-{home.parent.name}").code == 0
    assert not home.exists()  # --home is not touched while a server is used


@pytest.mark.parametrize(
    "argv",
    [
        ("users", "list"),
        ("tokens", "list"),
        ("audit", "list"),
        ("users", "create", "ana"),
        ("models", "alias", "churn", "staging", "1"),
        ("models", "download", "models:/churn/1", "-o", "out"),
        ("pipeline", "run", "pipeline.py"),
    ],
)
def test_local_only_commands_say_so(
    invoke: Invoke, home: Path, remote: dict[str, str], argv: tuple[str, ...]
) -> None:
    result = invoke(*argv)
    assert result.code == 2
    assert "cannot go through the server" in result.err and "LOOPML_TRACKING_URI" in result.err
    assert not home.exists()
