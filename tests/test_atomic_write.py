"""Atomic writes: the whole new file or the old one, never a partial file or a stray temp file."""

from __future__ import annotations

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
