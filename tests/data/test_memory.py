"""Freed heap pages go back to the system: rate-limited, and a no-op without malloc_trim."""

from __future__ import annotations

import pytest

from loopml.data import _memory


def test_a_forced_release_runs_and_the_next_ones_wait_for_the_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(_memory, "_trim", lambda pad: calls.append(pad) or 1)
    monkeypatch.setattr(_memory, "_last", 0.0)
    assert _memory.release_freed_memory(force=True)
    assert not _memory.release_freed_memory()  # within the interval
    assert _memory.release_freed_memory(force=True)
    assert calls == [0, 0]


def test_without_malloc_trim_nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_memory, "_trim", None)
    assert not _memory.release_freed_memory(force=True)


def test_the_c_library_trim_is_found_on_linux() -> None:
    import sys

    if sys.platform != "linux":
        pytest.skip("malloc_trim is a glibc function")
    assert _memory._load_trim() is not None
    assert _memory.release_freed_memory(force=True)
