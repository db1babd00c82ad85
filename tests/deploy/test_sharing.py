"""Window tallies of several replicas: documents, merging, and the gates' view of the merge."""

from __future__ import annotations

import math
import random

import pytest

from loopml.deploy.collector import ObservationCollector
from loopml.deploy.sharing import (
    Reservoir,
    RouteTally,
    WindowTally,
    merge_reservoirs,
    merge_tallies,
    observations_of,
)
from loopml.errors import InvalidInput
from loopml.store.entities import StoredLabel


def _replica(seed: int, *, requests: int, errors: int, start_ms: int = 100) -> ObservationCollector:
    c = ObservationCollector(start_ms=start_ms, sample_size=50, seed=seed)
    for i in range(requests):
        c.record(
            "canary",
            error=i < errors,
            latency_ms=float(i),
            predictions=() if i < errors else ("yes", "no"),
            atypical=i % 10 == 9,
            request_id=f"s{seed}-{i}",
        )
    c.record("primary", error=False, latency_ms=1.0, predictions=(0.5,), request_id=f"s{seed}-p")
    c.record_mirror("shadow", error=False, latency_ms=2.0, pairs=[(0.5, 0.25)])
    return c


def test_counts_are_summed_and_samples_merged_across_replicas() -> None:
    a, b = _replica(1, requests=30, errors=3), _replica(2, requests=70, errors=7, start_ms=90)
    merged = merge_tallies([a.tally(), b.tally()], sample_size=50, seed=0)
    canary = merged.routes["canary"]
    assert (canary.requests, canary.errors, canary.atypical) == (100, 10, 10)
    assert merged.start_ms == 90
    # 100 latencies seen, 50 kept: in proportion to what each replica saw (15 + 35)
    assert canary.latencies.seen == 100 and len(canary.latencies.items) == 50
    assert canary.answered.seen == 90 and len(canary.answered.items) == 50
    obs = observations_of(merged, now_ms=200)
    assert obs.route("canary").requests == 100 and obs.route("primary").requests == 2
    assert obs.route("shadow").mirrored == ((0.5, 0.25), (0.5, 0.25))
    assert (obs.window.start_ms, obs.window.end_ms) == (90, 200)


def test_a_merged_sample_weighs_each_replica_by_what_it_saw() -> None:
    big = Reservoir(seen=9_000, items=("a",) * 100)
    small = Reservoir(seen=1_000, items=("b",) * 100)
    merged = merge_reservoirs([big, small], size=100, rng=random.Random(0))
    assert merged.seen == 10_000 and merged.items.count("a") == 90 and merged.items.count("b") == 10
    # small samples are kept whole
    whole = merge_reservoirs(
        [Reservoir(seen=2, items=(1, 2)), Reservoir(seen=1, items=(3,))], size=10, rng=random.Random(0)
    )
    assert sorted(whole.items) == [1, 2, 3]


def test_a_tally_survives_its_document_and_leaves_non_finite_outputs_out() -> None:
    c = ObservationCollector(start_ms=5, sample_size=10, seed=0)
    c.record(
        "canary",
        error=False,
        latency_ms=3.0,
        predictions=("yes", "no"),
        request_id="r1",
        rows=(0, 2),
        scores=(0.9, 0.2),
        positive="yes",
        keys=("k1", "k2"),
    )
    c.record("primary", error=False, latency_ms=1.0, predictions=(math.nan, 1.5))
    tally = c.tally()
    back = WindowTally.from_document(tally.to_document())
    assert back.routes["canary"] == tally.routes["canary"]
    assert back.routes["primary"].predictions.items == (1.5,)
    assert back.routes["primary"].predictions.seen == 2


@pytest.mark.parametrize(
    "document", [{}, {"start_ms": 1, "routes": {"canary": {"requests": 1}}}, {"start_ms": "x"}]
)
def test_a_document_that_is_no_tally_is_refused(document: dict[str, object]) -> None:
    with pytest.raises(InvalidInput, match="Not a window tally document"):
        WindowTally.from_document(document)


def test_impossible_samples_and_empty_merges_are_refused() -> None:
    with pytest.raises(InvalidInput, match="out of 1 seen"):
        Reservoir(seen=1, items=(1, 2))
    with pytest.raises(InvalidInput, match="at least one replica"):
        merge_tallies([])


def test_labels_join_the_answered_requests_of_every_replica() -> None:
    a = _replica(1, requests=4, errors=0)
    b = _replica(2, requests=4, errors=0)
    merged = merge_tallies([a.tally(), b.tally()])
    posted = [
        StoredLabel(model="churn", key=f"s{s}-{i}", row=-1, value="yes", observed_at=0)
        for s in (1, 2)
        for i in range(4)
    ]

    def lookup(ids: object) -> list[StoredLabel]:
        return [lab for lab in posted if lab.key in ids]  # type: ignore[operator]

    outcomes = observations_of(merged, now_ms=200, labels=lookup).route("canary").outcomes
    assert len(outcomes) == 16  # 2 replicas x 4 requests x 2 rows
    assert sum(o.prediction == o.label for o in outcomes) == 8


def test_one_route_tally_reads_as_the_gates_see_it() -> None:
    route = RouteTally(requests=2, errors=1, latencies=Reservoir(seen=2, items=(1.0, 4.0)))
    assert route.observations().latencies_ms == (1.0, 4.0) and route.observations().errors == 1
