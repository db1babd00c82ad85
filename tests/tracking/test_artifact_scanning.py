"""Logged artifacts are scanned on the way in: unsafe ones refused (or recorded), their download gated."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.config import Settings, UnsafeArtifacts
from loopml.errors import UnsafeArtifact
from loopml.security.uploads import SCAN_PROPERTY
from loopml.tracking import Client


class RunsCode:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


@pytest.fixture
def evil(tmp_path: Path) -> Path:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(RunsCode()))
    return path


@pytest.fixture
def recording(tmp_path: Path) -> Iterator[Client]:
    c = Client(Settings(home=tmp_path / "home", unsafe_artifacts=UnsafeArtifacts.RECORD))
    yield c
    c.close()


def test_unsafe_pickle_is_refused_and_nothing_is_recorded(client: Client, evil: Path) -> None:
    with client.start_run("scan") as run:
        with pytest.raises(UnsafeArtifact, match=r"'model\.pkl' was refused"):
            client.log_artifact(run.run_id, evil)
        with pytest.raises(UnsafeArtifact):
            client.create_artifact(evil, type="Model")
        assert client.list_artifacts(run.run_id) == []


def test_directory_with_one_unsafe_file_logs_none_of_its_files(client: Client, tmp_path: Path) -> None:
    folder = tmp_path / "outputs"
    folder.mkdir()
    (folder / "a_notes.txt").write_text("fine")
    (folder / "b_model.pkl").write_bytes(pickle.dumps(RunsCode()))
    with client.start_run("scan") as run:
        with pytest.raises(UnsafeArtifact, match=r"'outputs/b_model\.pkl' was refused"):
            client.log_artifact(run.run_id, folder)
        assert client.list_artifacts(run.run_id) == []


def test_safe_upload_records_its_verdict(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "weights.pkl"
    path.write_bytes(pickle.dumps({"w": [1.0]}))
    with client.start_run("scan") as run:
        (art,) = client.log_artifact(run.run_id, path)
        text = client.log_text(run.run_id, "hello", "notes.txt")
    assert art.properties[SCAN_PROPERTY]["verdict"] == "safe"
    assert "pickle" in art.properties[SCAN_PROPERTY]["formats"]
    assert text.properties[SCAN_PROPERTY] == {"verdict": "safe", "formats": ["data"], "findings": []}


def test_forged_verdict_in_properties_is_replaced(client: Client, evil: Path, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("a\n1\n")
    art = client.create_artifact(path, properties={SCAN_PROPERTY: {"verdict": "unsafe"}, "k": 1})
    assert art.properties[SCAN_PROPERTY]["verdict"] == "safe" and art.properties["k"] == 1


def test_recorded_unsafe_artifact_downloads_only_with_the_opt_in(
    recording: Client, evil: Path, tmp_path: Path
) -> None:
    with recording.start_run("scan") as run:
        (art,) = recording.log_artifact(run.run_id, evil)
    assert art.properties[SCAN_PROPERTY]["verdict"] == "unsafe"
    with pytest.raises(UnsafeArtifact, match="--allow-unsafe"):
        recording.download_artifact(art.artifact_id, tmp_path / "out.pkl")
    assert not (tmp_path / "out.pkl").exists()
    got = recording.download_artifact(art.artifact_id, tmp_path / "out.pkl", allow_unsafe=True)
    assert got.read_bytes() == evil.read_bytes()
    assert recording.verify_artifact(art.artifact_id) == art  # verifying hands out no bytes
