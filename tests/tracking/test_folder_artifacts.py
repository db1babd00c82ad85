"""Folder artifacts (a pipeline's folder outputs) verify and download, locally and through a server.

A folder is stored as one blob per file plus a manifest blob; its record holds the manifest's hash
and the total size of the files. Verifying compares the manifest with its hash, then every file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.artifacts import BlobStore
from loopml.config import Settings
from loopml.errors import IntegrityError, InvalidInput, NotFound
from loopml.pipeline import Model
from loopml.pipeline._runtime import upload_output
from loopml.server.background import serve_in_thread
from loopml.store.entities import Artifact
from loopml.tracking import Client

FILES = {"model.yaml": b"flavor: sklearn\n", "model/weights.bin": os.urandom(3000), "checksums.json": b"{}"}


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "package"
    for rel, data in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def _record_folder(client: Client, tmp_path: Path) -> Artifact:
    """Store a folder exactly as the pipeline runner stores a folder output, and record it."""
    out = upload_output(client.blobs, Model.from_path(_folder(tmp_path)), label="Model package")
    return client.store.artifacts.create(
        type=out.type_name,
        name="demo.train.model",
        uri=out.uri,
        sha256=out.sha256,
        size=out.size,
        properties=dict(out.properties),
    )


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_folder_record_holds_the_manifest_hash_and_the_total_size(client: Client, tmp_path: Path) -> None:
    art = _record_folder(client, tmp_path)
    assert art.size == sum(len(d) for d in FILES.values())
    assert len(client.blobs.read_bytes(art.sha256 or "")) != art.size  # the manifest is not the folder


def test_folder_artifact_verifies(client: Client, tmp_path: Path) -> None:
    art = _record_folder(client, tmp_path)
    assert client.verify_artifact(art.artifact_id) == art


def test_folder_artifact_downloads_as_the_folder(client: Client, tmp_path: Path) -> None:
    art = _record_folder(client, tmp_path)
    dest = tmp_path / "out"
    dest.mkdir()
    written = client.download_artifact(art.artifact_id, dest)
    assert written == dest / "demo.train.model" and _files(written) == FILES
    named = client.download_artifact(art.artifact_id, tmp_path / "elsewhere" / "pkg")
    assert _files(named) == FILES
    with pytest.raises(InvalidInput, match="already exists"):
        client.download_artifact(art.artifact_id, dest)  # dest/demo.train.model is there already


def _blob_path(settings: Settings, sha256: str) -> Path:
    return Path(settings.resolved_artifacts_url()) / "sha256" / sha256[:2] / sha256[2:]


def test_tampered_member_fails_and_nothing_is_written(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    art = _record_folder(client, tmp_path)
    member = BlobStore(settings.resolved_artifacts_url()).put_bytes(FILES["model/weights.bin"])
    stored = _blob_path(settings, member.sha256)
    data = stored.read_bytes()
    stored.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size: only the hash tells
    with pytest.raises(IntegrityError, match=r"file model/weights\.bin"):
        client.verify_artifact(art.artifact_id)
    with pytest.raises(IntegrityError, match=r"file model/weights\.bin"):
        client.download_artifact(art.artifact_id, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_missing_member_is_not_found(client: Client, settings: Settings, tmp_path: Path) -> None:
    art = _record_folder(client, tmp_path)
    member = BlobStore(settings.resolved_artifacts_url()).put_bytes(FILES["model.yaml"])
    _blob_path(settings, member.sha256).unlink()
    with pytest.raises(NotFound, match=r"model\.yaml"):
        client.verify_artifact(art.artifact_id)


def test_total_size_that_does_not_add_up_fails(client: Client, tmp_path: Path) -> None:
    art = _record_folder(client, tmp_path)
    forged = client.store.artifacts.create(
        type=art.type,
        name="forged",
        uri=art.uri,
        sha256=art.sha256,
        size=(art.size or 0) + 1,
        properties=dict(art.properties),
    )
    with pytest.raises(IntegrityError, match=r"hold \d+ bytes, \d+ bytes are recorded"):
        client.verify_artifact(forged.artifact_id)


def test_manifest_entry_leaving_the_folder_is_refused(client: Client) -> None:
    member = client.blobs.put_bytes(b"x")
    manifest = client.blobs.put_bytes(b'{"files": {"../escape": "' + member.sha256.encode() + b'"}}')
    art = client.store.artifacts.create(
        type="Model",
        name="evil",
        uri=manifest.uri,
        sha256=manifest.sha256,
        size=1,
        properties={"loopml.layout": "directory"},
    )
    with pytest.raises(IntegrityError, match="leaves the folder"):
        client.verify_artifact(art.artifact_id)


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Client]:
    with serve_in_thread(Settings(home=tmp_path / "server")) as url:
        c = Client(Settings(home=tmp_path / "client", tracking_uri=url))
        yield c
        c.close()


def test_folder_artifact_verifies_and_downloads_through_the_server(remote: Client, tmp_path: Path) -> None:
    art = _record_folder(remote, tmp_path)
    assert remote.verify_artifact(art.artifact_id).artifact_id == art.artifact_id
    written = remote.download_artifact(art.artifact_id, tmp_path / "from-server")
    assert _files(written) == FILES
