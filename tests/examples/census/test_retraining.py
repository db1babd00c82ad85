"""What the lifecycle demo retrains on: the labelled traffic before the newest window (held out)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from loopml.examples.census.retraining import TrafficRetrainer, holdout_rows
from loopml.monitor.records import WindowRecord
from loopml.monitor.retrain import RetrainRequest, Span

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def windows(n: int) -> list[WindowRecord]:
    minute = dt.timedelta(minutes=1)
    return [
        WindowRecord(
            deployment="census-employment",
            model="census-employment",
            version="1",
            start=T0 + i * minute,
            end=T0 + (i + 1) * minute,
            complete=True,
            rows=4,
            metrics={},
            window="requests:4",
        )
        for i in range(n)
    ]


class Log:
    """Labelled rows per asked span, in a different order on every call (as concurrent requests log)."""

    def __init__(self) -> None:
        self.spans: list[Span] = []

    def __call__(self, deployment: str, span: Span) -> pd.DataFrame:
        self.spans.append(span)
        frame = pd.DataFrame({"AGEP": [20.0, 30.0, 40.0, 50.0], "SEX": [1, 2, 1, 2], "label": [0, 1, 1, 0]})
        return frame.sample(frac=1.0, random_state=len(self.spans)).reset_index(drop=True)


def test_training_reads_the_windows_before_the_newest_into_one_file_per_content(tmp_path: Path) -> None:
    log, found = Log(), windows(5)
    retrainer = TrafficRetrainer(
        store=None,
        blobs=None,
        home=tmp_path,
        rows=log,
        windows=lambda: found,
        train_windows=2,  # type: ignore[arg-type]
    )
    request = RetrainRequest(
        deployment="census-employment", span=Span(start=T0, end=found[4].end), champion=None, attempt=1,
        retrain_id="r1",
    )  # fmt: skip
    first, span, count = retrainer._traffic(request)
    again, _, _ = retrainer._traffic(request)
    assert span == Span(start=found[2].start, end=found[3].end) and count == 4
    assert first == again and first.parent == tmp_path / "lifecycle"
    data = pd.read_parquet(first)
    assert list(data["id"]) == [0, 1, 2, 3] and set(data["year"]) == {2026}
    assert list(data["employed"]) == [0, 1, 1, 0] and "label" not in data.columns


def test_a_retraining_without_earlier_windows_says_so(tmp_path: Path) -> None:
    retrainer = TrafficRetrainer(
        store=None,
        blobs=None,
        home=tmp_path,
        rows=Log(),
        windows=lambda: windows(1),  # type: ignore[arg-type]
    )
    span = Span(start=T0, end=T0 + dt.timedelta(hours=1))
    request = RetrainRequest(
        deployment="census-employment", span=span, champion=None, attempt=1, retrain_id="r1"
    )
    candidate = retrainer.retrain(request)
    assert candidate.failed and "no window before" in (candidate.error or "")


def test_the_candidate_is_judged_on_the_newest_window_only() -> None:
    log, found = Log(), windows(5)
    judged = holdout_rows(log, lambda: found)
    frame = judged("census-employment", Span(start=T0, end=found[3].end))
    assert log.spans == [Span(start=found[3].start, end=found[3].end)] and len(frame) == 4
    assert list(holdout_rows(log, lambda: [])("census-employment", log.spans[0]).columns) == ["label"]
