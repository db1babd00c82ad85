"""The per-client buffer of metric points, written to the store in batches."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from loopml.store.entities import Metric

__all__ = ["MetricBuffer"]

Writer = Callable[[str, Sequence[Metric]], None]


class MetricBuffer:
    """Collects metric points per run; hands them to ``write`` when ``flush_size`` points are pending.

    Thread-safe. A failed write drops the points it was given and re-raises, so a run that was
    ended elsewhere does not poison later flushes.
    """

    def __init__(self, write: Writer, *, flush_size: int) -> None:
        self._write = write
        self._flush_size = flush_size
        self._pending: dict[str, list[Metric]] = {}
        self._count = 0
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return self._count

    def add(self, run_id: str, points: Sequence[Metric]) -> None:
        """Queue points for ``run_id``; flush everything when the buffer is full."""
        with self._lock:
            self._pending.setdefault(run_id, []).extend(points)
            self._count += len(points)
            if self._count >= self._flush_size:
                self.flush()

    def flush(self, run_id: str | None = None) -> None:
        """Write pending points of ``run_id`` (all runs when None)."""
        with self._lock:
            run_ids = list(self._pending) if run_id is None else [run_id]
            for rid in run_ids:
                points = self._pending.pop(rid, None)
                if not points:
                    continue
                self._count -= len(points)
                self._write(rid, points)
