"""Feedback labels joined to each route's answered requests: the online-metric gate's outcomes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from loopml.deploy.collector import ObservationCollector
from loopml.deploy.gates import Verdict, online_metric_gate
from loopml.deploy.outcomes import Answered, feedback_labels, join_outcomes, key_strings, route_outcomes
from loopml.deploy.policy import GateThresholds, OnlineMetric
from loopml.errors import InvalidInput
from loopml.store.entities import StoredLabel
from loopml.store.sql import open_store


def label(key: str, value: str | float, *, row: int = -1, key_field: str = "") -> StoredLabel:
    return StoredLabel(model="churn", key_field=key_field, key=key, row=row, value=value, observed_at=0)


def test_a_row_label_wins_over_the_request_label() -> None:
    answered = [
        Answered(request_id="r1", predictions=(1.0, 0.0, 1.0)),
        Answered(request_id="r2", predictions=(0.0,)),
    ]
    labels = [label("r1", 1, row=-1), label("r1", 0, row=2), label("r3", 1)]
    outcomes = join_outcomes(answered, labels)
    assert [(o.prediction, o.label) for o in outcomes] == [(1.0, 1.0), (0.0, 1.0), (1.0, 0.0)]


def test_rows_of_a_split_request_take_their_own_labels() -> None:
    answered = [Answered(request_id="r1", predictions=("b", "b"), rows=(1, 3))]
    labels = [label("r1", "a", row=0), label("r1", "b", row=1), label("r1", "c", row=3)]
    assert [o.label for o in join_outcomes(answered, labels)] == ["b", "c"]


def test_labels_by_a_key_feature_are_not_joined_to_requests() -> None:
    answered = [Answered(request_id="alice", predictions=(1.0,))]
    assert join_outcomes(answered, [label("alice", 1, key_field="customer")]) == ()


def test_rows_must_match_the_predictions() -> None:
    with pytest.raises(InvalidInput, match="one position per prediction"):
        Answered(request_id="r1", predictions=(1.0, 0.0), rows=(0,))


def test_one_lookup_serves_every_route() -> None:
    asked: list[Sequence[str]] = []

    def lookup(ids: Sequence[str]) -> list[StoredLabel]:
        asked.append(ids)
        return [label("p1", 1), label("c1", 0)]

    routes = {
        "primary": [Answered(request_id="p1", predictions=(1.0,))],
        "canary": [
            Answered(request_id="c1", predictions=(1.0,)),
            Answered(request_id="c2", predictions=(0.0,)),
        ],
    }
    outcomes = route_outcomes(routes, lookup)
    assert asked == [["c1", "c2", "p1"]]
    assert [(o.prediction, o.label) for o in outcomes["primary"]] == [(1.0, 1.0)]
    assert [(o.prediction, o.label) for o in outcomes["canary"]] == [(1.0, 0.0)]


def test_the_collector_joins_late_labels_from_the_store_to_the_route_that_answered() -> None:
    with open_store("sqlite://") as store:
        c = ObservationCollector(start_ms=0, seed=1)
        for i in range(300):
            c.record("primary", error=False, latency_ms=1.0, predictions=(float(i % 2),), request_id=f"p{i}")
            c.record("canary", error=False, latency_ms=1.0, predictions=(1.0,), request_id=f"c{i}")
        c.record("canary", error=True, latency_ms=1.0, request_id="failed")
        t = GateThresholds(min_labels=100, metric=OnlineMetric.ACCURACY)
        lookup = feedback_labels(store.feedback, "churn")
        before = c.observations(now_ms=10, labels=lookup)
        assert online_metric_gate(before, t).verdict is Verdict.NO_DATA  # type: ignore[union-attr]
        # the labels arrive after the predictions (late) and still count in their window
        truth = [label(f"p{i}", float(i % 2), row=0) for i in range(300)]
        truth += [label(f"c{i}", float(i % 2)) for i in range(300)]
        truth += [label("unknown", 1.0)]
        store.feedback.upsert(truth)
        after = c.observations(now_ms=20, labels=lookup)
    assert len(after.route("primary").outcomes) == 300 and len(after.route("canary").outcomes) == 300
    assert c.observations(now_ms=20).route("canary").outcomes == ()  # no lookup, no outcomes
    gate = online_metric_gate(after, t)
    assert gate is not None and gate.verdict is Verdict.FAIL and gate.value == pytest.approx(0.5)


def test_rows_take_the_label_of_their_key_feature_value_after_their_request_labels() -> None:
    answered = [
        Answered(request_id="r1", predictions=(1.0, 0.0), keys=("alice", "bob")),
        Answered(request_id="r2", predictions=(1.0,), keys=("carol",)),
    ]
    labels = [
        label("alice", 0, key_field="customer"),
        label("bob", 1, key_field="customer"),
        label("carol", 1, key_field="customer", row=0),  # a key label names the whole key (row -1) only
        label("r1", 1, row=0),  # the request's own row label wins over alice's
    ]
    outcomes = join_outcomes(answered, labels)
    assert [(o.prediction, o.label) for o in outcomes] == [(1.0, 1.0), (0.0, 1.0)]


def test_route_outcomes_looks_labels_up_by_key_when_a_key_lookup_is_given() -> None:
    asked: list[Sequence[str]] = []

    def by_key(keys: Sequence[str]) -> list[StoredLabel]:
        asked.append(keys)
        return [label("42", 1, key_field="customer")]

    routes = {
        "primary": [Answered(request_id="p1", predictions=(1.0,), keys=("42",))],
        "canary": [Answered(request_id="c1", predictions=(0.0,), keys=("7",))],
    }
    outcomes = route_outcomes(routes, lambda ids: [], by_key)
    assert asked == [["42", "7"]]
    assert [(o.prediction, o.label) for o in outcomes["primary"]] == [(1.0, 1.0)]
    assert outcomes["canary"] == ()
    assert route_outcomes(routes, lambda ids: [])["primary"] == ()  # no key lookup: no key join


def test_key_strings_read_feature_values_as_the_monitor_join_does() -> None:
    assert key_strings(np.array([42, 7])) == ("42", "7")
    assert key_strings(np.array([3.5, 42.0])) == ("3.5", "42")
    assert key_strings(np.array(["c-7", None], dtype=object)) == ("c-7", "")


def test_keys_must_match_the_predictions_and_the_key_field_must_be_named() -> None:
    with pytest.raises(InvalidInput, match="one key per prediction"):
        Answered(request_id="r1", predictions=(1.0, 0.0), keys=("a",))
    with pytest.raises(InvalidInput, match="label_key_field"):
        GateThresholds(label_key_field="")


def test_the_collector_joins_labels_by_key_through_the_store() -> None:
    with open_store("sqlite://") as store:
        store.feedback.upsert(
            [label("alice", 1, key_field="customer"), label("bob", 0, key_field="customer")]
        )
        c = ObservationCollector(start_ms=0, seed=1)
        c.record(
            "primary",
            error=False,
            latency_ms=1,
            predictions=(1.0, 1.0),
            request_id="r1",
            keys=("alice", "bob"),
        )
        c.record("canary", error=False, latency_ms=1, predictions=(0.0,), request_id="r2", keys=("alice",))
        by_id = feedback_labels(store.feedback, "churn")
        by_key = feedback_labels(store.feedback, "churn", key_field="customer")
        assert c.observations(now_ms=10, labels=by_id).route("primary").outcomes == ()
        seen = c.observations(now_ms=10, labels=by_id, key_labels=by_key)
        assert [(o.prediction, o.label) for o in seen.route("primary").outcomes] == [(1.0, 1.0), (1.0, 0.0)]
        assert [(o.prediction, o.label) for o in seen.route("canary").outcomes] == [(0.0, 1.0)]
