"""The rows a candidate is judged on: logged inputs of the span joined to the labels that arrived."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from loopml.monitor.feedback import Feedback, FeedbackService
from loopml.monitor.retrain.labelled import labelled_log_rows
from loopml.monitor.retrain.records import Span
from loopml.store.sql import open_store
from tests.monitor.simulate import T0, log_hour


def test_logged_inputs_of_the_span_with_their_labels(tmp_path: Path) -> None:
    root = tmp_path / "predictions"
    first = log_hour(root, 0, n=50)
    second = log_hour(root, 1, n=50)
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        FeedbackService(store.feedback, log_root=root).add(
            "churn",
            [Feedback(key=i, label=int(t)) for i, t in zip(first.ids[:30], first.truth[:30], strict=True)]
            + [Feedback(key=second.ids[0], label=int(second.truth[0]))],
        )
        rows = labelled_log_rows(root, store.feedback, model_of=lambda d: {"churn-prod": "churn"}[d])
        frame = rows("churn-prod", Span(start=T0, end=T0 + dt.timedelta(hours=1)))
        assert len(frame) == 30  # the first hour's labelled rows only; unlabelled ones left out
        assert {"x", "city", "label"} <= set(frame.columns) and not any(
            c.startswith("in.") for c in frame.columns
        )
        expected = dict(zip(first.ids, first.truth.tolist(), strict=True))
        assert sorted(frame["label"].tolist()) == sorted(expected[i] for i in first.ids[:30])
        both = rows("churn-prod", Span(start=T0, end=T0 + dt.timedelta(hours=2)))
        assert len(both) == 31
        assert rows("churn-prod", Span(start=T0 + dt.timedelta(days=1), end=T0 + dt.timedelta(days=2))).empty
