"""Upload screening: pickle-family uploads judged by the scanner, refuse or record, the download gate."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pytest

from loopml.artifacts import BlobStore
from loopml.config import UnsafeArtifacts
from loopml.errors import UnsafeArtifact
from loopml.security.uploads import (
    SCAN_PROPERTY,
    check_download,
    recorded_verdict,
    screen_blob,
    screen_bytes,
    screen_file,
)


class RunsCode:
    """Unpickling this calls ``os.system`` (``posix.system`` on Linux)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def _pickle(path: Path, obj: object) -> None:
    path.write_bytes(pickle.dumps(obj))


def _joblib(path: Path, obj: object) -> None:
    joblib.dump(obj, path)


def _torch_zip(path: Path, obj: object) -> None:
    """The layout of ``torch.save``: a zip whose ``archive/data.pkl`` is the pickle."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(obj, protocol=2))
        archive.writestr("archive/version", "3\n")


def _npy(path: Path, obj: object) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([obj, 1], dtype=object), allow_pickle=True)
    path.write_bytes(buffer.getvalue())


WRITERS: dict[str, Callable[[Path, object], None]] = {
    "pickle": _pickle,
    "joblib": _joblib,
    "torch-zip": _torch_zip,
    "npy-object": _npy,
}


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_pickle_family_upload_that_runs_code_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"model.{kind}"
    WRITERS[kind](path, RunsCode())
    with pytest.raises(UnsafeArtifact, match=r"refused: .*unsafe.*system.*LOOPML_UNSAFE_ARTIFACTS=record"):
        screen_file(path, name="model.bin", policy=UnsafeArtifacts.REFUSE)
    recorded = screen_file(path, name="model.bin", policy=UnsafeArtifacts.RECORD)
    assert recorded["verdict"] == "unsafe" and any("system" in f for f in recorded["findings"])


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_harmless_pickle_family_upload_is_safe(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"weights.{kind}"
    WRITERS[kind](path, {"weights": [1.0, 2.0], "name": "w"})
    assert screen_file(path, name="weights", policy=UnsafeArtifacts.REFUSE)["verdict"] == "safe"


def test_plain_data_passes_as_data(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("a,b\n1,2\n")
    scan = screen_file(path, name="rows.csv", policy=UnsafeArtifacts.REFUSE)
    assert scan == {"verdict": "safe", "formats": ["data"], "findings": []}


def test_bytes_and_stored_blobs_are_screened_alike(tmp_path: Path) -> None:
    evil = pickle.dumps(RunsCode())
    with pytest.raises(UnsafeArtifact):
        screen_bytes(evil, name="x.pkl", policy=UnsafeArtifacts.REFUSE)
    blobs = BlobStore(tmp_path / "blobs")
    ref = blobs.put_bytes(evil)
    with pytest.raises(UnsafeArtifact):
        screen_blob(blobs, ref.sha256, name="x.pkl", policy=UnsafeArtifacts.REFUSE)
    assert screen_blob(blobs, ref.sha256, name="x.pkl", policy=UnsafeArtifacts.RECORD)["verdict"] == "unsafe"


def test_download_of_an_artifact_recorded_unsafe_needs_the_opt_in() -> None:
    unsafe = {SCAN_PROPERTY: {"verdict": "unsafe", "findings": ["malicious: posix.system"]}}
    with pytest.raises(UnsafeArtifact, match=r"recorded unsafe .* --allow-unsafe .*allow_unsafe=true"):
        check_download(unsafe, name="m.pkl", artifact_id="a1", allow_unsafe=False)
    check_download(unsafe, name="m.pkl", artifact_id="a1", allow_unsafe=True)
    for other in ({}, {SCAN_PROPERTY: {"verdict": "safe"}}, {SCAN_PROPERTY: {"verdict": "unknown"}}):
        check_download(other, name="m.pkl", artifact_id="a1", allow_unsafe=False)
    assert recorded_verdict({SCAN_PROPERTY: "forged"}) is None
