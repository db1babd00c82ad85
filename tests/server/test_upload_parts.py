"""Multipart uploads in flight: parts staged, read back checked, limits, stale uploads removed."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from loopml.errors import IntegrityError, InvalidInput, NotFound
from loopml.server._upload_parts import STALE_AFTER_S, PartStaging


def test_parts_read_back_in_the_listed_order_and_are_removed(tmp_path: Path) -> None:
    staging = PartStaging(tmp_path)
    upload = staging.begin(run_id="r1", name="big.bin", num_parts=2)
    second = staging.put(upload, 2, io.BytesIO(b"world"), limit=100)
    first = staging.put(upload, 1, io.BytesIO(b"hello "), limit=100)
    with staging.parts(staging.get(upload.upload_id, run_id="r1"), [(1, first), (2, f'"{second}"')]) as parts:
        assert parts.read() == b"hello world"
    staging.discard(upload)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(NotFound, match="completed, aborted or never started"):
        staging.get(upload.upload_id, run_id="r1")


def test_a_part_changed_on_disk_is_caught_while_read(tmp_path: Path) -> None:
    staging = PartStaging(tmp_path)
    upload = staging.begin(run_id="r1", name="x", num_parts=1)
    etag = staging.put(upload, 1, io.BytesIO(b"original"), limit=100)
    (tmp_path / upload.upload_id / "part-00001").write_bytes(b"tampered")
    with staging.parts(upload, [(1, etag)]) as parts, pytest.raises(IntegrityError, match="changed"):
        parts.read()


def test_refusals_name_the_problem(tmp_path: Path) -> None:
    staging = PartStaging(tmp_path)
    with pytest.raises(InvalidInput, match=r"num_parts must be in 1\.\.10000"):
        staging.begin(run_id="r1", name="x", num_parts=0)
    upload = staging.begin(run_id="r1", name="x", num_parts=2)
    with pytest.raises(InvalidInput, match=r"Part number must be in 1\.\.2; got 3"):
        staging.put(upload, 3, io.BytesIO(b"a"), limit=100)
    staging.put(upload, 1, io.BytesIO(b"a" * 60), limit=100)
    with pytest.raises(InvalidInput, match="exceed the server's artifact limit of 100 bytes"):
        staging.put(upload, 2, io.BytesIO(b"b" * 60), limit=100)
    assert sorted(p.name for p in (tmp_path / upload.upload_id).iterdir()) == [
        "part-00001",
        "part-00001.sha256",
        "upload.json",
    ]  # the refused part left no file behind
    with pytest.raises(InvalidInput, match=r"Part 2 of upload \w+ is missing"):
        staging.parts(upload, [(1, ""), (2, "")])
    with pytest.raises(NotFound):
        staging.get(upload.upload_id, run_id="another-run")  # an upload belongs to its run
    with pytest.raises(NotFound):
        staging.get("../../etc", run_id="r1")  # ids are 32 hex digits, never a path


def test_stale_uploads_are_swept(tmp_path: Path) -> None:
    staging = PartStaging(tmp_path)
    old = staging.begin(run_id="r1", name="x", num_parts=1)
    fresh = staging.begin(run_id="r1", name="y", num_parts=1)
    past = time.time() - STALE_AFTER_S - 60
    os.utime(tmp_path / old.upload_id, (past, past))
    staging.sweep()
    assert [p.name for p in tmp_path.iterdir()] == [fresh.upload_id]
