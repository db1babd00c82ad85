"""Dataset versions (copied and by reference), diff, and lineage of statistics / schema / anomalies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopml.artifacts import BlobStore
from loopml.cli.app import main
from loopml.data.versions import DatasetVersions, parse_ref
from loopml.errors import InvalidInput, NotFound
from loopml.store.entities import EventType
from loopml.store.sql import open_store
from tests.data.conftest import make_frame


def _ok(*args: str) -> None:
    try:
        main(list(args))
    except SystemExit as ex:
        assert ex.code in (0, None), f"exit {ex.code}"


def test_add_show_diff_and_lineage(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    make_frame(300, seed=1).to_csv(data / "a.csv", index=False)
    make_frame(200, seed=2).to_csv(data / "b.csv", index=False)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        versions = DatasetVersions(store, BlobStore(tmp_path / "blobs"))
        v1 = versions.add("churn", data)
        assert (v1.version, v1.num_rows, len(v1.files)) == (1, 500, 2)
        assert all(not f.is_reference for f in v1.files)
        make_frame(50, seed=3).to_csv(data / "b.csv", index=False)
        v2 = versions.add("churn", data, by_reference=True)
        assert v2.version == 2 and all(f.is_reference for f in v2.files)
        d = versions.diff("churn@1", "churn@2")
        assert d.changed == ("b.csv",) and (d.rows_before, d.rows_after) == (500, 350)
        assert versions.get("churn").version == 2
        with versions.materialize(v1) as local:
            assert sorted(p.name for p in local.iterdir()) == ["a.csv", "b.csv"]
            assert (local / "b.csv").read_bytes() != (data / "b.csv").read_bytes()  # v1's bytes, not today's
        with pytest.raises(NotFound, match="loopml data list"):
            versions.get("churn@9")
        stats_file = tmp_path / "s.json"
        stats_file.write_text("{}")
        execution_id = versions.record(v1, {"statistics": ("Statistics", stats_file)}, execution_type="X")
        events = store.lineage.list_events(execution_id=execution_id)
        assert {(e.type, e.role) for e in events} == {
            (EventType.INPUT, "dataset"),
            (EventType.OUTPUT, "statistics"),
        }
        assert next(e for e in events if e.type is EventType.INPUT).artifact_id == v1.artifact_id
    finally:
        store.close()


def test_cli_versions_and_profile_lineage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    csv = tmp_path / "train.csv"
    make_frame(400, seed=1).to_csv(csv, index=False)
    _ok("--home", str(home), "data", "add", "train", str(csv))
    _ok("--home", str(home), "data", "profile", "train@1", "--out", str(tmp_path / "s.json"))
    _ok(
        "--home",
        str(home),
        "data",
        "schema",
        str(tmp_path / "s.json"),
        "--out",
        str(tmp_path / "schema.yaml"),
        "--dataset",
        "train",
    )
    capsys.readouterr()
    _ok("--home", str(home), "data", "list", "--json")
    listed = json.loads(capsys.readouterr().out)["items"]
    assert [(r["name"], r["version"], r["num_rows"]) for r in listed] == [("train", 1, 400)]
    _ok("--home", str(home), "data", "show", "train@1", "--json")
    shown = json.loads(capsys.readouterr().out)
    assert shown["file_list"][0]["path"] == "train.csv" and "normal: double" in shown["arrow_schema"]
    store = open_store(f"sqlite:///{home.absolute() / 'store.db'}")
    try:
        uses = store.lineage.list_events(artifact_id=shown["artifact_id"])
        kinds = {store.lineage.get_execution(e.execution_id).type for e in uses if e.type is EventType.INPUT}
        assert kinds == {"ComputeStatistics", "InferSchema"}
    finally:
        store.close()


def test_parse_ref() -> None:
    assert parse_ref("a@3") == ("a", 3) and parse_ref("a") == ("a", None)
    with pytest.raises(InvalidInput, match="positive integer"):
        parse_ref("a@x")


def test_list_reads_every_page_of_dataset_artifacts(tmp_path: Path) -> None:
    """Pipelines write a Dataset artifact per step and run; versions past the first page still count."""
    data = tmp_path / "data"
    data.mkdir()
    make_frame(20, seed=1).to_csv(data / "a.csv", index=False)
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        for i in range(1000):  # one full default page of Dataset artifacts that are not versions
            store.artifacts.create(
                type="Dataset", name=f"examples-{i}", uri=f"sha256/{i}", sha256=None, size=None
            )
        versions = DatasetVersions(store, BlobStore(tmp_path / "blobs"))
        added = versions.add("churn", data)
        assert [v.artifact_id for v in versions.list()] == [added.artifact_id]
        assert [v.artifact_id for v in versions.list("churn")] == [added.artifact_id]
