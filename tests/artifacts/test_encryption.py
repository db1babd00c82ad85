"""Encryption at rest: round trips, wrong key, tampering, truncation, reordering and key loading."""

from __future__ import annotations

import base64
import hashlib
import io
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.artifacts import (
    CHUNK_SIZE,
    BlobStore,
    encryption_key_id,
    generate_encryption_key,
    load_encryption_key,
)
from loopml.artifacts._encryption import HEADER_SIZE, MAGIC, DecryptingSource, EncryptingWriter, parse_header
from loopml.errors import IntegrityError, InvalidInput, NotFound
from tests.artifacts.conftest import StoreUnderTest, make_store

KEY = bytes(range(32))
FRAME = CHUNK_SIZE + 16


@pytest.fixture(params=["local", "memory"])
def encrypted(request: pytest.FixtureRequest, tmp_path: Path) -> StoreUnderTest:
    return make_store(request.param, tmp_path, encryption_key=KEY)


def _data(size: int) -> bytes:
    return random.Random(size).randbytes(size)


@pytest.mark.parametrize("size", [0, 5, CHUNK_SIZE, 2 * CHUNK_SIZE, 2 * CHUNK_SIZE + 5])
def test_round_trip_addresses_plaintext(encrypted: StoreUnderTest, size: int) -> None:
    data = _data(size)
    ref = encrypted.store.put_bytes(data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert ref.size == size
    stored = encrypted.raw(ref.uri)
    assert stored.startswith(MAGIC)
    frames = max(1, -(-size // CHUNK_SIZE))
    assert len(stored) == HEADER_SIZE + size + 16 * frames
    assert size < 64 or data[:64] not in stored
    assert encrypted.store.read_bytes(ref.sha256, size=size) == data
    assert encrypted.store.verify(ref.sha256) == ref
    with encrypted.store.open(ref.sha256) as f:
        assert f.read() == data


@pytest.mark.parametrize("size", [0, 5, CHUNK_SIZE, 2 * CHUNK_SIZE, 2 * CHUNK_SIZE + 5])
def test_content_size_of_an_encrypted_blob_is_the_plaintext_size(
    encrypted: StoreUnderTest, size: int
) -> None:
    ref = encrypted.store.put_bytes(_data(size))
    assert encrypted.store.content_size(ref.sha256) == size
    assert encrypted.reopen().content_size(ref.sha256) == size  # no key needed: nothing is decrypted


def test_content_size_of_a_cut_encrypted_blob_is_an_integrity_error(encrypted: StoreUnderTest) -> None:
    ref = encrypted.store.put_bytes(_data(100))
    encrypted.overwrite(ref.uri, encrypted.raw(ref.uri)[: HEADER_SIZE + 10])
    with pytest.raises(IntegrityError, match="fits no whole number of frames"):
        encrypted.store.content_size(ref.sha256)


def test_wrong_key_is_integrity_error(encrypted: StoreUnderTest) -> None:
    ref = encrypted.store.put_bytes(b"secret")
    other = encrypted.reopen(encryption_key=generate_encryption_key())
    with pytest.raises(IntegrityError, match=f"another key.*{encryption_key_id(KEY)}"):
        other.read_bytes(ref.sha256)


def test_no_key_gives_clear_error(encrypted: StoreUnderTest) -> None:
    ref = encrypted.store.put_bytes(b"secret")
    with pytest.raises(InvalidInput, match=r"stored encrypted.*encryption_key=load_encryption_key"):
        encrypted.reopen().read_bytes(ref.sha256, label="weights")


def test_tampered_ciphertext(encrypted: StoreUnderTest) -> None:
    ref = encrypted.store.put_bytes(_data(CHUNK_SIZE + 100))
    stored = bytearray(encrypted.raw(ref.uri))
    stored[HEADER_SIZE + FRAME + 3] ^= 0x80
    encrypted.overwrite(ref.uri, bytes(stored))
    with pytest.raises(IntegrityError, match="failed decryption at chunk 1"):
        encrypted.store.verify(ref.sha256, label="model")


@pytest.mark.parametrize("cut", ["last_frame", "mid_frame", "header"])
def test_truncation_is_detected(encrypted: StoreUnderTest, cut: str) -> None:
    ref = encrypted.store.put_bytes(_data(2 * CHUNK_SIZE + 100))
    stored = encrypted.raw(ref.uri)
    keep = {"last_frame": HEADER_SIZE + 2 * FRAME, "mid_frame": HEADER_SIZE + FRAME + 50, "header": 10}[cut]
    encrypted.overwrite(ref.uri, stored[:keep])
    with pytest.raises(IntegrityError, match="truncated"):
        encrypted.store.read_bytes(ref.sha256)


def test_reordered_frames_are_detected(encrypted: StoreUnderTest) -> None:
    ref = encrypted.store.put_bytes(_data(2 * CHUNK_SIZE + 100))
    stored = encrypted.raw(ref.uri)
    header, first, second = stored[:HEADER_SIZE], stored[HEADER_SIZE:][:FRAME], stored[HEADER_SIZE + FRAME :]
    encrypted.overwrite(ref.uri, header + second[:FRAME] + first + second[FRAME:])
    with pytest.raises(IntegrityError, match="chunk 0"):
        encrypted.store.read_bytes(ref.sha256)


def test_damaged_header_is_detected(encrypted: StoreUnderTest) -> None:
    ref = encrypted.store.put_bytes(b"payload")
    stored = bytearray(encrypted.raw(ref.uri))
    stored[len(MAGIC)] = 99  # version
    encrypted.overwrite(ref.uri, bytes(stored))
    with pytest.raises(IntegrityError, match="encryption header"):
        encrypted.store.read_bytes(ref.sha256)


def test_plain_blobs_stay_readable_with_a_key(tmp_path: Path) -> None:
    ref = BlobStore(tmp_path).put_bytes(b"older plain blob")
    assert BlobStore(tmp_path, encryption_key=KEY).read_bytes(ref.sha256) == b"older plain blob"


@pytest.mark.parametrize("bad", [b"short", "not bytes", bytes(31)])
def test_bad_key_for_store(tmp_path: Path, bad: object) -> None:
    with pytest.raises(InvalidInput, match="32 bytes"):
        BlobStore(tmp_path, encryption_key=bad)  # type: ignore[arg-type]


class TestLoadEncryptionKey:
    KEY = generate_encryption_key()

    def test_values(self) -> None:
        assert load_encryption_key(self.KEY.hex()) == self.KEY
        assert load_encryption_key(self.KEY.hex().upper()) == self.KEY
        assert load_encryption_key(base64.b64encode(self.KEY).decode()) == self.KEY
        assert load_encryption_key(base64.urlsafe_b64encode(self.KEY).decode()) == self.KEY
        assert load_encryption_key(self.KEY) == self.KEY

    @pytest.mark.parametrize("form", ["raw", "hex", "base64"])
    def test_files(self, tmp_path: Path, form: str) -> None:
        path = tmp_path / "key"
        content = {
            "raw": self.KEY,
            "hex": self.KEY.hex().encode() + b"\n",
            "base64": base64.b64encode(self.KEY) + b"\n",
        }[form]
        path.write_bytes(content)
        assert load_encryption_key(path) == self.KEY
        assert load_encryption_key(str(path)) == self.KEY

    def test_bad_file(self, tmp_path: Path) -> None:
        path = tmp_path / "key"
        path.write_bytes(b"hunter2-not-a-key")
        with pytest.raises(InvalidInput, match="32 raw bytes, 64 hex characters or base64") as info:
            load_encryption_key(path)
        assert "hunter2" not in str(info.value)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(NotFound, match="does not exist"):
            load_encryption_key(tmp_path / "absent.key")

    def test_bad_value_never_echoed(self) -> None:
        with pytest.raises(InvalidInput, match="neither an existing key file") as info:
            load_encryption_key("topsecret-but-wrong")
        assert "topsecret" not in str(info.value)


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=20_000), pieces=st.lists(st.integers(1, 5000), max_size=8))
def test_frames_round_trip_any_size_and_write_pattern(data: bytes, pieces: list[int]) -> None:
    out = io.BytesIO()
    writer = EncryptingWriter(out, KEY, chunk_size=4096)
    offset = 0
    for n in [*pieces, len(data)]:  # uneven writes, then the rest
        writer.write(data[offset : offset + n])
        offset += n
    writer.finish()
    stored = io.BytesIO(out.getvalue())
    header = parse_header(stored.read(HEADER_SIZE), subject="blob")
    source = DecryptingSource(stored, KEY, header, subject="blob")
    assert b"".join(iter(source.read_chunk, b"")) == data


def test_get_file_into_directory_is_invalid(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    ref = store.put_bytes(b"x")
    with pytest.raises(InvalidInput, match="is a directory"):
        store.get_file(ref.sha256, tmp_path)
