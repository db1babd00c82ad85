"""Reading the evaluation an Evaluation artifact holds, as a file or as a folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopml.analysis import evaluate, load_evaluation
from loopml.artifacts import BlobStore
from loopml.errors import InvalidInput
from loopml.store.entities import Artifact


def _artifact(sha256: str | None, *, type: str = "Evaluation", folder: bool = False) -> Artifact:
    props = {"loopml.layout": "directory"} if folder else {}
    return Artifact(
        artifact_id="e" * 32,
        type=type,
        name="ev",
        uri="u",
        sha256=sha256,
        size=10,
        properties=props,
        created_at=0,
    )


def test_reads_a_file_and_a_folder_evaluation(tmp_path: Path) -> None:
    blobs = BlobStore(f"file://{tmp_path}")
    result = evaluate([0, 1] * 20, y_pred=[0, 1] * 20, task="binary", bootstrap=None)
    report = blobs.put_bytes(result.to_json().encode())
    assert load_evaluation(blobs, _artifact(report.sha256)) == result
    manifest = blobs.put_bytes(json.dumps({"files": {"evaluation.json": report.sha256}}).encode())
    assert load_evaluation(blobs, _artifact(manifest.sha256, folder=True)).overall.value("accuracy") == 1.0


def test_refuses_what_is_not_an_evaluation(tmp_path: Path) -> None:
    blobs = BlobStore(f"file://{tmp_path}")
    with pytest.raises(InvalidInput, match="is a Model, not an Evaluation"):
        load_evaluation(blobs, _artifact("0" * 64, type="Model"))
    with pytest.raises(InvalidInput, match="is a reference"):
        load_evaluation(blobs, _artifact(None))
    other = blobs.put_bytes(b"x")
    manifest = blobs.put_bytes(json.dumps({"files": {"notes.txt": other.sha256}}).encode())
    with pytest.raises(InvalidInput, match=r"holds no evaluation\.json"):
        load_evaluation(blobs, _artifact(manifest.sha256, folder=True))
    with pytest.raises(InvalidInput, match="not evaluation JSON"):
        load_evaluation(blobs, _artifact(other.sha256))
