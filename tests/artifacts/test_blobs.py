"""Contract suite for BlobStore, run over the local-path and memory:// backends."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import pytest

from loopml.artifacts import CHUNK_SIZE, BlobRef, BlobStore, blob_uri
from loopml.errors import IntegrityError, InvalidInput, NotFound
from tests.artifacts.conftest import StoreUnderTest


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _random_bytes(size: int, *, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


class TestBlobStoreContract:
    def test_put_bytes_round_trip(self, backend: StoreUnderTest) -> None:
        ref = backend.store.put_bytes(b"hello world")
        assert ref == BlobRef(sha256=_sha(b"hello world"), size=11, uri=blob_uri(_sha(b"hello world")))
        assert ref.uri == f"sha256/{ref.sha256[:2]}/{ref.sha256[2:]}"
        assert backend.raw(ref.uri) == b"hello world"
        assert backend.store.read_bytes(ref.sha256) == b"hello world"
        assert backend.store.exists(ref.sha256)

    def test_empty_blob(self, backend: StoreUnderTest) -> None:
        ref = backend.store.put_bytes(b"")
        assert ref.size == 0
        assert backend.store.read_bytes(ref.sha256, size=0) == b""

    def test_put_file_and_get_file(self, backend: StoreUnderTest, tmp_path: Path) -> None:
        src = tmp_path / "model.bin"
        src.write_bytes(b"weights" * 1000)
        ref = backend.store.put_file(src)
        dest = backend.store.get_file(ref.sha256, tmp_path / "out" / "copy.bin", size=ref.size)
        assert dest.read_bytes() == src.read_bytes()
        assert list(dest.parent.iterdir()) == [dest]  # no temp file left next to it

    def test_put_stream_round_trip_via_open(self, backend: StoreUnderTest) -> None:
        data = _random_bytes(CHUNK_SIZE + 123)
        ref = backend.store.put_stream(io.BytesIO(data), label="stream")
        with backend.store.open(ref.sha256, size=ref.size) as f:
            assert f.read(10) == data[:10]
            assert f.read() == data[10:]

    def test_large_multi_chunk_file(self, backend: StoreUnderTest, tmp_path: Path) -> None:
        src, digest = tmp_path / "large.bin", hashlib.sha256()
        with src.open("wb") as out:
            for i in range(20):
                block = _random_bytes(CHUNK_SIZE, seed=i)
                digest.update(block)
                out.write(block)
        ref = backend.store.put_file(src)
        assert (ref.sha256, ref.size) == (digest.hexdigest(), 20 * CHUNK_SIZE)
        assert backend.store.verify(ref.sha256) == ref
        copy = backend.store.get_file(ref.sha256, tmp_path / "large.copy")
        assert _sha(copy.read_bytes()) == ref.sha256

    def test_dedup_keeps_one_copy_and_no_temp(self, backend: StoreUnderTest) -> None:
        first = backend.store.put_bytes(b"same")
        second = backend.store.put_stream(io.BytesIO(b"same"))
        assert first == second
        assert len(backend.files("sha256")) == 1
        assert backend.files("tmp") == []

    def test_tampered_blob_names_expected_and_actual_hash(self, backend: StoreUnderTest) -> None:
        data = _random_bytes(3000)
        ref = backend.store.put_bytes(data)
        damaged = bytearray(data)
        damaged[1500] ^= 0x01
        backend.overwrite(ref.uri, bytes(damaged))
        for read in (
            lambda: backend.store.read_bytes(ref.sha256, label="model.skops"),
            lambda: backend.store.verify(ref.sha256, label="model.skops"),
        ):
            with pytest.raises(IntegrityError) as info:
                read()
            message = str(info.value)
            assert "'model.skops'" in message
            assert f"expected sha256 {ref.sha256}" in message
            assert f"got sha256 {_sha(bytes(damaged))}" in message
            assert "Restore it" in message

    def test_open_raises_at_end_of_tampered_blob(self, backend: StoreUnderTest) -> None:
        ref = backend.store.put_bytes(b"a" * 100)
        backend.overwrite(ref.uri, b"b" * 100)
        with pytest.raises(IntegrityError, match=ref.sha256), backend.store.open(ref.sha256) as f:
            f.read()

    def test_open_closed_part_way_does_not_verify(self, backend: StoreUnderTest) -> None:
        ref = backend.store.put_bytes(b"a" * 100)
        backend.overwrite(ref.uri, b"b" * 100)
        with backend.store.open(ref.sha256) as f:
            assert f.read(10) == b"b" * 10  # documented: only a full read is verified

    def test_close_verifies_after_reading_expected_size(self, backend: StoreUnderTest) -> None:
        ref = backend.store.put_bytes(b"a" * 100)
        backend.overwrite(ref.uri, b"b" * 100)
        f = backend.store.open(ref.sha256, size=100)
        assert f.read(100) == b"b" * 100
        with pytest.raises(IntegrityError, match=f"got sha256 {_sha(b'b' * 100)}"):
            f.close()

    def test_blob_longer_than_expected_size_fails_while_reading(self, backend: StoreUnderTest) -> None:
        ref = backend.store.put_bytes(b"a" * 100)
        backend.overwrite(ref.uri, b"a" * 100 + b"extra")
        with pytest.raises(IntegrityError, match="105 bytes"), backend.store.open(ref.sha256, size=100) as f:
            f.read()

    def test_truncated_blob(self, backend: StoreUnderTest, tmp_path: Path) -> None:
        data = _random_bytes(CHUNK_SIZE + 10)
        ref = backend.store.put_bytes(data)
        backend.overwrite(ref.uri, data[:-10])
        with pytest.raises(IntegrityError, match=rf"\({ref.size} bytes\).*\({ref.size - 10} bytes\)"):
            backend.store.verify(ref.sha256, size=ref.size)
        dest = tmp_path / "never.bin"
        with pytest.raises(IntegrityError):
            backend.store.get_file(ref.sha256, dest)
        assert not dest.exists()
        assert list(tmp_path.iterdir()) == [] or not any(p.name.endswith(".part") for p in tmp_path.iterdir())

    def test_missing_blob(self, backend: StoreUnderTest, tmp_path: Path) -> None:
        sha = _sha(b"never stored")
        assert not backend.store.exists(sha)
        for call in (
            lambda: backend.store.read_bytes(sha, label="data.csv"),
            lambda: backend.store.open(sha),
            lambda: backend.store.verify(sha),
            lambda: backend.store.get_file(sha, tmp_path / "x"),
        ):
            with pytest.raises(NotFound, match=sha):
                call()
        assert not (tmp_path / "x").exists()

    @pytest.mark.parametrize("bad", ["", "ABC", "A" * 64, "g" * 64, "../" + "a" * 61, "a" * 63, 42])
    def test_bad_sha_is_invalid_input(self, backend: StoreUnderTest, bad: object) -> None:
        with pytest.raises(InvalidInput, match="64 lowercase hex"):
            backend.store.exists(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="64 lowercase hex"):
            backend.store.read_bytes(bad)  # type: ignore[arg-type]

    def test_failed_write_leaves_nothing(self, backend: StoreUnderTest) -> None:
        class Broken(io.RawIOBase):
            calls = 0

            def readable(self) -> bool:
                return True

            def read(self, size: int = -1) -> bytes:
                self.calls += 1
                if self.calls > 2:
                    raise OSError("disk gone")
                return b"x" * CHUNK_SIZE

        with pytest.raises(OSError, match="disk gone"):
            backend.store.put_stream(Broken())  # type: ignore[arg-type]
        assert backend.files("sha256") == []
        assert backend.files("tmp") == []

    def test_text_stream_is_invalid_input(self, backend: StoreUnderTest) -> None:
        with pytest.raises(InvalidInput, match="binary mode"):
            backend.store.put_stream(io.StringIO("text"))  # type: ignore[arg-type]

    def test_gc_temp_removes_only_old_temp_files(self, backend: StoreUnderTest) -> None:
        backend.overwrite("tmp/stale.part", b"partial")
        assert backend.store.gc_temp(older_than_s=3600) == 0
        assert backend.store.gc_temp(older_than_s=0) == 1
        assert backend.files("tmp") == []
        with pytest.raises(InvalidInput, match="older_than_s"):
            backend.store.gc_temp(older_than_s=-1)


def test_put_file_missing_path_is_not_found(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(NotFound, match=r"nope\.bin"):
        store.put_file(tmp_path / "nope.bin")
    with pytest.raises(InvalidInput, match="as a file"):
        store.put_file(tmp_path)


def test_file_url_root_is_local(tmp_path: Path) -> None:
    store = BlobStore(f"file://{tmp_path}")
    ref = store.put_bytes(b"x")
    assert (tmp_path / ref.uri).read_bytes() == b"x"
    assert BlobStore(str(tmp_path)).read_bytes(ref.sha256) == b"x"
