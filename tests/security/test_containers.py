"""Containers, sniffing and resource bounds: bombs, depth, member counts, huge pickles."""

from __future__ import annotations

import gzip
import io
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.security import FindingKind, ScanLimits, Verdict, scan_bytes, scan_path
from tests.security import corpus

_EVIL = corpus.full(corpus.call(corpus.g("os", "system", 2), [corpus.s("id", 2)]), 2)


def _bomb_zip(path: Path, *, payload: int) -> None:
    """A zip whose member is a pickle with a ``payload``-byte BINBYTES8 of zeros, written streaming."""
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z,
        z.open("model.pkl", "w", force_zip64=True) as member,
    ):
        member.write(b"\x80\x04\x8e" + struct.pack("<Q", payload))
        chunk = b"\x00" * (1 << 20)
        for _ in range(payload // len(chunk)):
            member.write(chunk)
        member.write(b".")


def test_zip_bomb_hits_the_ratio_limit(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    _bomb_zip(path, payload=256 << 20)
    assert path.stat().st_size < 1 << 20
    report = scan_path(path)
    kinds = {f.kind for f in report.findings}
    assert FindingKind.RESOURCE_LIMIT in kinds
    assert report.verdict is Verdict.UNKNOWN


def test_decompressed_byte_budget_is_enforced() -> None:
    data = gzip.compress(b"\x80\x04\x8e" + struct.pack("<Q", 8 << 20) + b"\x00" * (8 << 20) + b".")
    report = scan_bytes(data, limits=ScanLimits(max_decompressed_bytes=1 << 20))
    assert [f.kind for f in report.findings] == [FindingKind.RESOURCE_LIMIT]
    assert "max_decompressed_bytes" in report.findings[0].message


def test_deeply_nested_archive_hits_the_depth_limit() -> None:
    data = _EVIL
    for level in range(8):
        data = gzip.compress(data) if level % 2 else corpus._zip({f"l{level}.bin": data})
    report = scan_bytes(data)
    assert FindingKind.RESOURCE_LIMIT in {f.kind for f in report.findings}
    assert report.verdict is not Verdict.SAFE
    shallow = scan_bytes(gzip.compress(corpus._zip({"x": gzip.compress(_EVIL)})))
    assert shallow.verdict is Verdict.UNSAFE
    assert shallow.members[-1].path == "<bytes>/x"


def test_member_count_is_bounded() -> None:
    data = corpus._zip({f"m{i}.txt": b"x" for i in range(20)})
    report = scan_bytes(data, limits=ScanLimits(max_members=5))
    assert report.members[0].findings[0].kind is FindingKind.RESOURCE_LIMIT
    assert len(report.members) == 6


def test_ten_gigabyte_pickle_scans_with_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.pkl"
    size = 10 * 1024**3
    with open(path, "wb") as f:  # a sparse file: BINBYTES8 of 10 GiB, then STOP
        f.write(b"\x80\x04\x8e" + struct.pack("<Q", size))
        f.seek(size, io.SEEK_CUR)
        f.write(b".")
    tracemalloc.start()
    try:
        report = scan_path(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.verdict is Verdict.SAFE
    assert report.bytes_scanned == size + 12
    assert peak < 64 << 20


def test_huge_declared_payload_in_a_short_file_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "short.pkl"
    path.write_bytes(b"\x80\x04\x8e" + struct.pack("<Q", 10 * 1024**3) + b"\x00" * 10)
    report = scan_path(path)
    assert report.findings[0].kind is FindingKind.TRUNCATED


def test_content_is_sniffed_not_judged_by_extension(tmp_path: Path) -> None:
    path = tmp_path / "weights.csv"
    path.write_bytes(gzip.compress(_EVIL))
    report = scan_path(path)
    assert report.verdict is Verdict.UNSAFE
    assert report.members[0].format == "gzip/pickle"


def test_directory_scan_covers_every_file_and_reports_symlinks(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "ok.txt").write_text("hello")
    (tmp_path / "evil.bin").write_bytes(_EVIL)
    (tmp_path / "link").symlink_to(tmp_path / "evil.bin")
    report = scan_path(tmp_path)
    by_name = {Path(m.path).name: m for m in report.members}
    assert by_name["evil.bin"].verdict is Verdict.UNSAFE
    assert by_name["ok.txt"].verdict is Verdict.SAFE
    assert by_name["link"].format == "symlink"
    assert report.verdict is Verdict.UNSAFE


def test_corrupt_containers_fail_closed() -> None:
    assert scan_bytes(gzip.compress(_EVIL)[:-12]).verdict is Verdict.UNSAFE  # the global was seen
    truncated = scan_bytes(gzip.compress(b"\x80\x02K\x01." * 1000)[:30])
    assert truncated.verdict is Verdict.UNKNOWN
    broken_zip = corpus._zip({"a.pkl": _EVIL})[:-30]
    assert scan_bytes(broken_zip).verdict is Verdict.UNKNOWN


def test_bad_arguments_raise_loopml_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="No file or directory"):
        scan_path(tmp_path / "missing.pkl")
    with pytest.raises(InvalidInput, match="dotted"):
        scan_bytes(b"", trusted_globals=["not a name"])
    with pytest.raises(InvalidInput, match="max_depth"):
        ScanLimits(max_depth=0)


def test_zip_appended_to_a_benign_pickle_is_scanned_too(tmp_path: Path) -> None:
    path = tmp_path / "polyglot.pt"
    path.write_bytes(corpus.full(corpus.s("hello", 2), 2) + corpus.torch_zip(corpus.embed(_EVIL[2:-1], 2)))
    report = scan_path(path)
    assert report.verdict is Verdict.UNSAFE
    assert any("[appended-zip]/archive/data.pkl" in m.path for m in report.members)
