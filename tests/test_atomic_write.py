"""Atomic writes: the whole new file or the old one, never a partial file or a stray temp file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from loopml import atomic_write


def test_writes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "report.json"
    atomic_write.write_text_atomic(target, "old")
    atomic_write.write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "schema.yaml"
    atomic_write.write_text_atomic(target, "old")

    def crash(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic_write.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic_write.write_text_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["schema.yaml"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_files_get_the_users_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        assert atomic_write.current_umask() == umask
        target = atomic_write.write_text_atomic(tmp_path / "stats.json", "{}")
        reference = tmp_path / "plain.txt"
        reference.write_text("{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)


def test_secrets_stay_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        target = atomic_write.write_bytes_atomic(tmp_path / "token", b"s3cret", private=True)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
