"""The label join: a row's own label first, then its request's, then its key feature's."""

from __future__ import annotations

import pyarrow as pa

from loopml.monitor.feedback import Feedback, FeedbackService
from loopml.monitor.labels import join_labels
from loopml.store.sql import open_store


def test_row_then_request_then_key_precedence() -> None:
    rows = pa.table(
        {
            "request_id": ["a", "a", "a", "b", "c"],
            "row": pa.array([0, 1, 2, 0, 0], pa.int32()),
            "in.customer": ["k1", "k1", "k1", "k2", "k3"],
        }
    )
    with open_store("sqlite://") as store:
        service = FeedbackService(store.feedback)
        service.add("m", [Feedback(key="a", label="whole"), Feedback(key="a", label="own", row=1)])
        service.add(
            "m",
            [Feedback(key="k2", label="by-key"), Feedback(key="k1", label="ignored")],
            key_field="customer",
        )
        service.add("other", [Feedback(key="c", label="other model")])
        joined = join_labels(rows, store.feedback, "m", key_field="customer")
        plain = join_labels(rows, store.feedback, "m")
    assert joined.values.to_pylist() == ["whole", "own", "whole", "by-key", None]
    assert (joined.labelled, joined.labels_used) == (4, 3)
    assert plain.values.to_pylist() == ["whole", "own", "whole", None, None]


def test_many_labels_and_few_rows_use_a_lookup() -> None:
    rows = pa.table({"request_id": ["r5"], "row": pa.array([0], pa.int32())})
    with open_store("sqlite://") as store:
        FeedbackService(store.feedback).add("m", [Feedback(key=f"r{i}", label=i) for i in range(50)])
        assert join_labels(rows, store.feedback, "m").values.to_pylist() == [5]
