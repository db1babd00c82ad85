"""How the census model is retrained in the lifecycle demo: on the labelled traffic of its newest windows.

The retrain loop (:class:`loopml.monitor.retrain.RetrainLoop`) decides *when*; this module says *on
what*. A retraining learns from the rows the deployment was asked about in the windows before the
newest one, with the labels that came back through feedback (written to one Parquet file named by
its content, so a re-run finds the pipeline's steps cached), and runs the census pipeline on them
through :class:`~loopml.monitor.retrain.PipelineRetrainer`. The newest window is held out: the
candidate is judged against the champion on it (:func:`holdout_rows`), on rows it never saw.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from loopml.artifacts import BlobStore
from loopml.atomic_write import write_bytes_atomic
from loopml.examples.census import pipeline as census
from loopml.monitor.records import WindowRecord
from loopml.monitor.retrain import Candidate, PipelineRetrainer, RetrainRequest, Span
from loopml.store import Store

__all__ = ["TrafficRetrainer", "holdout_rows"]

Rows = Callable[[str, Span], pd.DataFrame]
"""Labelled logged rows of a deployment in a span (``labelled_log_rows`` of the retrain loop)."""


def _newest(windows: Sequence[WindowRecord], end: object, n: int) -> list[WindowRecord]:
    """The ``n`` newest windows ending at or before ``end``, oldest first."""
    inside = sorted((w for w in windows if w.end <= end), key=lambda w: w.start)  # type: ignore[operator]
    return inside[-n:]


def holdout_rows(rows: Rows, windows: Callable[[], Sequence[WindowRecord]]) -> Rows:
    """The labelled rows of the newest window of a span: what a candidate is judged on."""

    def judged(deployment: str, span: Span) -> pd.DataFrame:
        newest = _newest(windows(), span.end, 1)
        if not newest:
            return pd.DataFrame({"label": []})
        return rows(deployment, Span(start=newest[0].start, end=newest[0].end))

    return judged


class TrafficRetrainer:
    """Runs the census pipeline on the labelled traffic of the windows before the newest one.

    Args:
        store: The metadata store (pipeline runs, registry).
        blobs: The artifact store.
        home: The loopml home (signing key; the traffic files go to ``<home>/lifecycle``).
        rows: The labelled logged rows of a deployment in a span.
        windows: The windows of this replay, to pick the training span from.
        train_windows: How many windows (before the held-out newest one) to learn from.
    """

    def __init__(
        self,
        *,
        store: Store,
        blobs: BlobStore,
        home: Path,
        rows: Rows,
        windows: Callable[[], Sequence[WindowRecord]],
        train_windows: int = 2,
    ) -> None:
        self._store, self._blobs, self._home = store, blobs, home
        self._rows, self._windows, self._n = rows, windows, train_windows

    def _traffic(self, request: RetrainRequest) -> tuple[Path, Span, int]:
        chosen = _newest(self._windows(), request.span.end, self._n + 1)[:-1]
        if not chosen:
            raise ValueError(f"no window before {request.span.end.isoformat()} to learn from")
        span = Span(start=chosen[0].start, end=chosen[-1].end)
        frame = self._rows(request.deployment, span).rename(columns={"label": census.LABEL})
        # Requests in flight together are logged in any order: sort, so the same rows make the
        # same file (and a re-run finds the pipeline's steps cached). The schema's bookkeeping
        # columns: ``id`` (the split hashes it) numbers the rows, ``year`` is when they were served.
        frame = frame.sort_values(list(frame.columns), kind="stable", ignore_index=True)
        frame.insert(0, "id", range(len(frame)))
        frame["year"] = span.end.year
        if frame.empty:
            raise ValueError(f"no labelled rows in {span.start.isoformat()} .. {span.end.isoformat()}")
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        data = buffer.getvalue()
        path = self._home / "lifecycle" / f"traffic-{hashlib.sha256(data).hexdigest()[:16]}.parquet"
        if not path.is_file():
            write_bytes_atomic(path, data)
        return path, span, len(frame)

    def retrain(self, request: RetrainRequest) -> Candidate:
        """Learn from the newest labelled traffic; push the candidate as ``challenger``."""
        try:
            path, span, count = self._traffic(request)
        except (ValueError, OSError) as err:
            return Candidate(error=f"no training data: {err}")
        pipeline = census.pipeline(
            home=self._home, source=path, dataset_name="census-ma-traffic", alias="challenger", train_rows=0
        )
        candidate = PipelineRetrainer(pipeline, store=self._store, blobs=self._blobs).retrain(request)
        facts = {"training_span": span.to_document(), "training_rows": count, "training_file": str(path)}
        return Candidate(
            model_uri=candidate.model_uri,
            error=candidate.error,
            refused=candidate.refused,
            pipeline_run=candidate.pipeline_run,
            details={**dict(candidate.details), **facts},
        )
