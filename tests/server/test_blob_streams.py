"""Blob bytes through the server: multi-batch uploads and downloads, broken and refused uploads,
and the client's checks (one-pass hash against the server's, verified downloads)."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import anyio
import httpx
import pytest
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from loopml.artifacts import BlobRef, BlobStore
from loopml.config import Settings
from loopml.errors import IntegrityError, InvalidState
from loopml.server._streams import consume_body
from loopml.server.background import serve_in_thread
from loopml.store.remote import RemoteBlobs, RemoteStore
from loopml.web.errors import RequestRejected

#: Several of the server's 1 MiB hand-over batches, and not a multiple of them.
SIZE = 5 * 1024 * 1024 + 12_345


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("blob-streams")


@pytest.fixture(scope="module")
def url(home: Path) -> Iterator[str]:
    with serve_in_thread(Settings(home=home)) as served:
        yield served


@pytest.fixture
def blobs(url: str) -> Iterator[RemoteBlobs]:
    store = RemoteStore(url)
    try:
        yield RemoteBlobs(store.session)
    finally:
        store.close()


def _leftovers(home: Path) -> list[Path]:
    """Temp files of unfinished uploads, waiting (bounded) for the server to clean up after one."""
    folder = home / "artifacts" / "tmp"
    for _ in range(100):
        found = sorted(folder.glob("*")) if folder.is_dir() else []
        if not found:
            return []
        time.sleep(0.05)
    return found


def test_large_file_round_trip(blobs: RemoteBlobs, tmp_path: Path, home: Path) -> None:
    data = os.urandom(SIZE)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    ref = blobs.put_file(source)
    assert ref.sha256 == hashlib.sha256(data).hexdigest() and ref.size == SIZE
    back = blobs.get_file(ref.sha256, tmp_path / "back" / "big.bin", size=SIZE)
    assert back.read_bytes() == data
    assert blobs.read_bytes(ref.sha256) == data
    assert _leftovers(home) == []


def test_run_file_of_several_batches(url: str) -> None:
    data = os.urandom(SIZE)
    with httpx.Client(base_url=url + "/api/v1", timeout=60) as api:
        experiment = api.post("/experiments/get-or-create", json={"name": "streams"}).json()
        run = api.post("/runs", json={"experiment_id": experiment["experiment_id"]}).json()["run_id"]

        def pieces() -> Iterator[bytes]:  # chunked, in uneven pieces
            for start in range(0, SIZE, 300_001):
                yield data[start : start + 300_001]

        stored = api.put(f"/runs/{run}/artifacts/weights.bin", content=pieces())
        assert stored.status_code == 201, stored.text
        assert stored.json()["sha256"] == hashlib.sha256(data).hexdigest()
        assert api.get(f"/runs/{run}/artifacts/weights.bin").content == data


def test_upload_to_an_unknown_run_is_refused_without_reading_it_all(url: str, home: Path) -> None:
    with httpx.Client(base_url=url + "/api/v1", timeout=60) as api:
        refused = api.put(f"/runs/{'f' * 32}/artifacts/x.bin", content=os.urandom(SIZE))
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    assert _leftovers(home) == []


def test_client_that_disconnects_mid_upload_leaves_nothing(url: str, home: Path) -> None:
    before = sorted((home / "artifacts").rglob("sha256/*/*"))
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port)) as raw:
        head = f"PUT /api/v1/blobs HTTP/1.1\r\nHost: x\r\nContent-Length: {SIZE}\r\n\r\n"
        raw.sendall(head.encode() + os.urandom(3 * 1024 * 1024))
    assert _leftovers(home) == []
    assert sorted((home / "artifacts").rglob("sha256/*/*")) == before


def test_wrong_hash_header_is_still_refused(url: str) -> None:
    with httpx.Client(base_url=url + "/api/v1", timeout=60) as api:
        refused = api.put("/blobs", content=os.urandom(SIZE), headers={"X-Content-SHA256": "0" * 64})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "integrity_error"


def test_corrupt_stored_blob_breaks_the_download(blobs: RemoteBlobs, tmp_path: Path, home: Path) -> None:
    data = os.urandom(3 * 1024 * 1024)
    ref = blobs.put_bytes(data)
    stored = home / "artifacts" / ref.uri
    stored.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, last byte flipped
    dest = tmp_path / "out.bin"
    with pytest.raises(IntegrityError):
        blobs.get_file(ref.sha256, dest, size=ref.size)
    assert not dest.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("size", [100, SIZE])  # one piece; several pieces
@pytest.mark.parametrize("sized", [True, False])  # with ?size= or without: the length is known either way
def test_corrupt_blob_never_reaches_a_plain_client_whole(
    blobs: RemoteBlobs, url: str, home: Path, size: int, sized: bool
) -> None:
    data = os.urandom(size)
    ref = blobs.put_bytes(data)
    stored = home / "artifacts" / ref.uri
    stored.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size: only the hash can tell
    received = bytearray()
    params = {"size": size} if sized else {}
    download = httpx.stream("GET", f"{url}/api/v1/blobs/{ref.sha256}", params=params)
    with pytest.raises(httpx.RemoteProtocolError), download as response:  # the body ends early
        assert response.status_code == 200
        assert response.headers.get("content-length") == str(size)
        for piece in response.iter_raw():
            received += piece
    assert len(received) < size


@pytest.mark.parametrize("wrong", [0, 99, 101, SIZE])
def test_wrong_size_is_refused_before_any_byte_and_raises_no_alarm(
    blobs: RemoteBlobs, url: str, wrong: int, caplog: pytest.LogCaptureFixture
) -> None:
    ref = blobs.put_bytes(os.urandom(100))
    answer = httpx.get(f"{url}/api/v1/blobs/{ref.sha256}", params={"size": wrong})
    assert answer.status_code == 409  # state the request cannot know, not a malformed request
    error = answer.json()["error"]
    assert error["code"] == "conflict"
    assert f"holds 100 bytes, not the size={wrong}" in error["message"] and "corrupt" not in error["message"]
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert httpx.get(f"{url}/api/v1/blobs/{ref.sha256}", params={"size": 100}).status_code == 200


def test_short_stored_copy_of_a_run_file_is_an_integrity_error_before_any_byte(url: str, home: Path) -> None:
    data = os.urandom(100)
    with httpx.Client(base_url=url + "/api/v1", timeout=60) as api:
        experiment = api.post("/experiments/get-or-create", json={"name": "short-copy"}).json()
        run = api.post("/runs", json={"experiment_id": experiment["experiment_id"]}).json()["run_id"]
        art = api.put(f"/runs/{run}/artifacts/short.bin", content=data).json()
        (home / "artifacts" / art["uri"]).write_bytes(data[:60])
        answer = api.get(f"/runs/{run}/artifacts/short.bin")
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "integrity_error"
    assert "holds 60 bytes, not the 100 bytes recorded" in answer.json()["error"]["message"]


def test_intact_blob_reaches_a_plain_client_whole(blobs: RemoteBlobs, url: str) -> None:
    data = os.urandom(SIZE)
    ref = blobs.put_bytes(data)
    response = httpx.get(f"{url}/api/v1/blobs/{ref.sha256}", params={"size": SIZE})
    assert response.status_code == 200 and response.content == data


# --- consume_body: the hand-over between the event loop and the blob writer's thread ------------


def _request(messages: list[Message]) -> Request:
    """A request whose body arrives as ``messages`` (then nothing more)."""
    queue = list(messages)

    async def receive() -> Message:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    return Request({"type": "http", "method": "PUT", "path": "/", "headers": []}, receive)


def _body(pieces: list[bytes], *, complete: bool = True) -> list[Message]:
    more = [True] * len(pieces)
    if complete:
        more[-1] = False
    return [{"type": "http.request", "body": p, "more_body": m} for p, m in zip(pieces, more, strict=True)]


def _store_body(tmp_path: Path, messages: list[Message], *, limit: int = 1 << 30) -> BlobRef:
    store = BlobStore(tmp_path / "blobs")

    async def main() -> BlobRef:
        return await consume_body(_request(messages), limit=limit, consumer=store.put_stream)

    return anyio.run(main)


def test_body_of_many_pieces_is_stored_whole(tmp_path: Path) -> None:
    data = os.urandom(SIZE)
    pieces = [data[i : i + 65_536] for i in range(0, SIZE, 65_536)]
    ref = _store_body(tmp_path, _body(pieces))
    assert ref.sha256 == hashlib.sha256(data).hexdigest() and ref.size == SIZE
    assert BlobStore(tmp_path / "blobs").read_bytes(ref.sha256) == data


def test_body_cut_short_stores_nothing(tmp_path: Path) -> None:
    pieces = [os.urandom(256 * 1024) for _ in range(12)]  # 3 MiB, then the client goes away
    with pytest.raises(ClientDisconnect):
        _store_body(tmp_path, _body(pieces, complete=False))
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []


def test_body_over_the_limit_is_refused(tmp_path: Path) -> None:
    pieces = [b"x" * 700_000] * 3
    with pytest.raises(RequestRejected) as refused:
        _store_body(tmp_path, _body(pieces), limit=2_000_000)
    assert refused.value.status_code == 413
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []


def test_consumer_that_fails_early_is_not_kept_waiting(tmp_path: Path) -> None:
    def refuse(body: BinaryIO) -> None:
        body.read(10)
        raise InvalidState("Run has ended")

    async def main() -> None:
        messages = _body([os.urandom(1024 * 1024) for _ in range(20)])
        await consume_body(_request(messages), limit=1 << 30, consumer=refuse)

    with pytest.raises(InvalidState, match="Run has ended"):  # as itself, not an exception group
        anyio.run(main)


# --- the client's side, against a scripted server ----------------------------------------------


def _blobs_answering(answer: dict[str, object], seen: list[httpx.Request]) -> RemoteBlobs:
    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(201, json=answer)

    store = RemoteStore("http://loopml.test", transport=httpx.MockTransport(handler))
    return RemoteBlobs(store.session)


def test_file_upload_is_sized_and_hashed_in_one_pass(tmp_path: Path) -> None:
    data = b"abc" * 1000
    source = tmp_path / "f.bin"
    source.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    seen: list[httpx.Request] = []
    blobs = _blobs_answering({"sha256": sha, "size": len(data), "uri": f"sha256/{sha[:2]}/{sha[2:]}"}, seen)
    ref = blobs.put_file(source, label="notes/f.bin")
    (request,) = seen
    assert ref.sha256 == sha and ref.size == len(data)
    assert request.headers["content-length"] == str(len(data))
    assert "transfer-encoding" not in request.headers
    assert request.headers["x-loopml-label"] == "notes/f.bin"
    assert request.content == data


def test_upload_whose_stored_hash_differs_raises(tmp_path: Path) -> None:
    other = "0" * 64
    seen: list[httpx.Request] = []
    blobs = _blobs_answering({"sha256": other, "size": 5, "uri": f"sha256/00/{other[2:]}"}, seen)
    with pytest.raises(IntegrityError, match=r"changed in transit") as caught:
        blobs.put_bytes(b"hello", label="greeting")
    assert hashlib.sha256(b"hello").hexdigest() in str(caught.value) and other in str(caught.value)


def test_stream_of_unknown_size_goes_chunked() -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    sha = hashlib.sha256(data).hexdigest()
    seen: list[httpx.Request] = []
    blobs = _blobs_answering({"sha256": sha, "size": len(data), "uri": "u"}, seen)

    class Pipe:  # no file descriptor, no size
        def __init__(self) -> None:
            self._left = memoryview(data)

        def read(self, size: int = -1) -> bytes:
            piece, self._left = self._left[:size], self._left[size:]
            return bytes(piece)

    assert blobs.put_stream(Pipe()).sha256 == sha  # type: ignore[arg-type]
    assert seen[0].headers.get("transfer-encoding") == "chunked" and seen[0].content == data


def test_empty_upload_is_sent_with_length_zero() -> None:
    seen: list[httpx.Request] = []
    sha = hashlib.sha256(b"").hexdigest()
    blobs = _blobs_answering({"sha256": sha, "size": 0, "uri": "u"}, seen)
    assert blobs.put_bytes(b"").size == 0 and seen[0].headers["content-length"] == "0"
