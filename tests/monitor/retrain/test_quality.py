"""The window-based data-quality gate: complete windows pass; missing partitions, too many schema
anomalies or an empty span hold a retraining, saying why."""

from __future__ import annotations

import datetime as dt

from loopml.monitor.records import WindowRecord
from loopml.monitor.retrain.quality import WindowQualityGate
from loopml.monitor.retrain.records import Span

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
SPAN = Span(start=T0, end=T0 + dt.timedelta(hours=3))


def _window(h: int, *, complete: bool = True, anomalies: float = 0.0) -> WindowRecord:
    return WindowRecord(
        deployment="churn", model="churn", version="1", start=T0 + dt.timedelta(hours=h),
        end=T0 + dt.timedelta(hours=h + 1), complete=complete, rows=100, metrics={"anomalies": anomalies},
        problems=() if complete else ("model=churn/hour=2026-03-01T01/part-x.parquet: not Parquet",),
    )  # fmt: skip


def test_complete_windows_pass_and_each_problem_is_named() -> None:
    good = [_window(h) for h in range(3)]
    assert WindowQualityGate(lambda _d: good)(deployment="churn", span=SPAN).passed
    broken = [_window(0), _window(1, complete=False), _window(2, anomalies=4)]
    verdict = WindowQualityGate(lambda _d: broken, max_anomalies=1)(deployment="churn", span=SPAN)
    assert not verdict.passed and len(verdict.reasons) == 2
    assert "not Parquet" in verdict.reasons[0] and "4 schema anomalies (at most 1)" in verdict.reasons[1]
    later = Span(start=T0 + dt.timedelta(days=1), end=T0 + dt.timedelta(days=2))
    empty = WindowQualityGate(lambda _d: good)(deployment="churn", span=later)
    assert not empty.passed and "holds 0 logged row(s)" in empty.reasons[0]
