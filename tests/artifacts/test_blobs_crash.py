"""A writer killed mid-upload leaves nothing at any content address; the next write succeeds."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from loopml.artifacts import CHUNK_SIZE, BlobStore

CHUNKS = 40

# The child uploads CHUNKS chunks of 1 MiB, slowly after the third one, and reports each read.
_CHILD = textwrap.dedent(
    f"""
    import sys, time
    from loopml.artifacts import BlobStore

    class SlowStream:
        def __init__(self):
            self.index = 0

        def read(self, size=-1):
            if self.index == {CHUNKS}:
                return b""
            self.index += 1
            if self.index > 3:
                time.sleep(0.2)
            print("chunk", self.index, flush=True)
            return bytes([self.index]) * {CHUNK_SIZE}

    BlobStore(sys.argv[1]).put_stream(SlowStream())
    print("done", flush=True)
    """
)


def _content() -> bytes:
    return b"".join(bytes([i]) * CHUNK_SIZE for i in range(1, CHUNKS + 1))


@pytest.mark.slow
def test_killed_writer_leaves_no_blob(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(root)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == "chunk 6":
                break
        temp_files = list((root / "tmp").iterdir())
        assert len(temp_files) == 1  # the upload is in progress, in a temp file
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    data = _content()
    sha = hashlib.sha256(data).hexdigest()
    store = BlobStore(root)
    assert not store.exists(sha)
    assert not (root / "sha256").exists() or not [p for p in (root / "sha256").rglob("*") if p.is_file()]

    ref = store.put_bytes(data)
    assert ref.sha256 == sha
    assert store.verify(sha, size=len(data)).size == CHUNKS * CHUNK_SIZE
    assert [p.name for p in (root / "tmp").iterdir()] == [temp_files[0].name]  # only the stale one

    time.sleep(0.01)
    assert store.gc_temp(older_than_s=0) == 1
    assert list((root / "tmp").iterdir()) == []
    assert store.read_bytes(sha) == data
