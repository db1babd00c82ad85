"""The closed loop against known truth (seeded simulations; drift values from the calibrated detector).

- stationary windows: at most one false alert per 100 windows, and no retraining;
- a real performance drop (or a feature delivered in other units) retrains within 2 windows;
- never more retrainings than the guard allows, whatever fails;
- a candidate worse on any guarded slice is never promoted.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest

from loopml.data.compute import compute_statistics
from loopml.data.drift import (
    CATEGORICAL_EFFECT_FLOOR,
    NUMERIC_EFFECT_FLOOR,
    Comparator,
    ComparatorType,
    compare,
)
from loopml.data.statistics import DatasetStatistics
from loopml.deploy.rollout import Phase
from loopml.deploy.spec import DeploymentSpec
from loopml.monitor.alerts import alert_timeline, default_rules
from loopml.monitor.records import WindowRecord
from loopml.monitor.retrain import (
    Candidate,
    DecisionKind,
    DriftTrigger,
    Guards,
    PerformanceTrigger,
    RetrainPolicy,
    RetryPolicy,
    due_triggers,
)
from tests.deploy.test_service import healthy
from tests.monitor.alerts._windows import stationary, window
from tests.monitor.retrain.conftest import (
    BETTER,
    CHAMPION,
    FAST,
    WORSE_ON_SLICE,
    LoopWorld,
    ScriptedRetrainer,
)

ROWS = 2000
CALIBRATED = {
    "hours": Comparator(type=ComparatorType.CALIBRATED, threshold=NUMERIC_EFFECT_FLOOR),
    "region": Comparator(type=ComparatorType.CALIBRATED, threshold=CATEGORICAL_EFFECT_FLOOR),
}


def inputs(rng: np.random.Generator, *, units: float = 1.0) -> pa.Table:
    """A window's logged inputs: weekly hours (``units`` = 60 once an upstream change sends minutes)."""
    region = rng.choice(["north", "south", "east", "west"], ROWS, p=[0.4, 0.3, 0.2, 0.1])
    return pa.table({"hours": rng.normal(38, 9, ROWS) * units, "region": region})


def drift(current: DatasetStatistics, baseline: DatasetStatistics) -> dict[str, float]:
    """``drift.<feature>``: the calibrated detector's magnitude against the training statistics."""
    out = {}
    for name, comparator in CALIBRATED.items():
        cur, base = current.feature(name), baseline.feature(name)
        assert cur is not None and base is not None
        out[f"drift.{name}"] = compare(cur, base, comparator, comparison="drift").value
    return out


def simulate(
    seed: int,
    n: int,
    *,
    deployment: str = "people",
    drop_at: int | None = None,
    drop: float = 0.10,
    units_at: int | None = None,
) -> list[WindowRecord]:
    """``n`` hourly windows of a deployment whose accuracy drops by ``drop`` at ``drop_at`` and whose
    ``hours`` arrive in minutes from ``units_at`` (which also costs accuracy)."""
    rng = np.random.default_rng(seed)
    training = compute_statistics(inputs(rng), max_workers=1)
    records = []
    for i in range(n):
        changed = units_at is not None and i >= units_at
        dropped = (drop_at is not None and i >= drop_at) or changed
        metrics = stationary(rng, accuracy=0.88 - (drop if dropped else 0.0), rows=ROWS)
        current = compute_statistics(inputs(rng, units=60.0 if changed else 1.0), max_workers=1)
        metrics.update(drift(current, training))
        records.append(window(i, metrics, deployment=deployment))
    return records


WITH_DRIFT = RetrainPolicy(
    drift=DriftTrigger(features=("hours",), above=0.1),
    performance=PerformanceTrigger(tolerance=0.05, min_labels=200),
    guards=Guards(cooldown=timedelta(hours=6), max_per_day=2),
)


@pytest.mark.slow
def test_stationary_windows_give_at_most_one_false_alert_per_100_and_no_retraining() -> None:
    windows = alerts = triggers = 0
    for seed in range(10):
        records = simulate(seed, 100)
        windows += len(records)
        alerts += len(alert_timeline(default_rules().rules, records))
        for i in range(1, len(records) + 1):
            triggers += len(due_triggers(WITH_DRIFT, records[:i], last_retrain=None, open_alerts=()))
    assert windows == 1000
    assert alerts <= windows / 100
    assert triggers == 0


@pytest.mark.slow
def test_a_real_drop_retrains_within_two_windows(loop_world: LoopWorld) -> None:
    for seed in range(4):
        name = f"people-{seed}"
        loop_world.deployments.create(DeploymentSpec(name=name, primary=CHAMPION), FAST, actor="ann")
        loop = loop_world.loop(ScriptedRetrainer(Candidate(model_uri=BETTER)), WITH_DRIFT)
        incident = {"drop_at": 20} if seed % 2 == 0 else {"units_at": 20}
        records = simulate(100 + seed, 24, deployment=name, **incident)  # type: ignore[arg-type]
        acted = [
            i for i in range(24) if loop.step(name, records[: i + 1])[-1].kind is not DecisionKind.NOTHING
        ]
        assert acted and 20 <= acted[0] <= 21, (seed, incident, acted)
        assert loop.step(name, records)[0].kind is DecisionKind.WAITING  # its canary is rolling out
        runs = loop_world.services.store.retrains.list(name)  # type: ignore[attr-defined]
        kinds = {t["kind"] for t in runs[0].triggers}
        assert kinds == ({"performance"} if "drop_at" in incident else {"drift", "performance"}), kinds


@pytest.mark.slow
@pytest.mark.parametrize(
    ("max_per_day", "cooldown_h", "answers"), [(1, 0, "fail"), (2, 0, "mixed"), (3, 2, "refused")]
)
def test_never_more_retrainings_than_the_guard_allows(
    loop_world: LoopWorld, max_per_day: int, cooldown_h: int, answers: str
) -> None:
    scripted = {
        "fail": [Candidate(error="boom")],
        "refused": [Candidate(model_uri=WORSE_ON_SLICE)],
        "mixed": [Candidate(error="boom"), Candidate(model_uri=WORSE_ON_SLICE)] * 40,
    }[answers]
    policy = RetrainPolicy(
        performance=PerformanceTrigger(tolerance=0.05, min_labels=200),
        guards=Guards(cooldown=timedelta(hours=cooldown_h), max_per_day=max_per_day),
        retry=RetryPolicy(max_attempts=3, delay=timedelta(hours=1)),
    )
    loop = loop_world.loop(ScriptedRetrainer(*scripted), policy)
    rng = np.random.default_rng(max_per_day)
    records = [window(i, stationary(rng, accuracy=0.88 if i < 3 else 0.7)) for i in range(72)]
    records = [window(i, r.metrics, deployment="people") for i, r in enumerate(records)]
    for i in range(len(records)):
        loop.step("people", records[: i + 1])
    starts = [r.started_at for r in loop_world.services.store.retrains.list("people")]  # type: ignore[attr-defined]
    day = 86_400_000
    assert len(starts) >= 2 * max_per_day  # the guard was reached, more than once
    assert max(sum(t - day < u <= t for u in starts) for t in starts) == max_per_day
    assert all(b - a >= cooldown_h * 3_600_000 for a, b in itertools.pairwise(starts))
    assert loop_world.deployments.get("people").spec.canary is None  # nothing bad went out


@pytest.mark.slow
def test_a_candidate_worse_on_any_guarded_slice_is_never_promoted(loop_world: LoopWorld) -> None:
    policy = RetrainPolicy(
        performance=PerformanceTrigger(tolerance=0.05, min_labels=200),
        guards=Guards(cooldown=timedelta(0), max_per_day=24),
    )
    worse = loop_world.loop(ScriptedRetrainer(Candidate(model_uri=WORSE_ON_SLICE)), policy)
    rng = np.random.default_rng(5)
    records = [
        window(i, stationary(rng, accuracy=0.88 if i < 3 else 0.7), deployment="people") for i in range(15)
    ]
    for i in range(3, 15):  # each retraining is judged on another sample of recent labelled rows
        [decision] = worse.step("people", records[: i + 1])
        assert decision.kind is DecisionKind.REJECTED and "g=1" in decision.reason
    steps = loop_world.services.store.retrains.steps(  # type: ignore[attr-defined]
        loop_world.services.store.retrains.list("people")[0].retrain_id  # type: ignore[attr-defined]
    )
    slices = steps[-1].details["metrics"]["slices"]
    assert slices["overall"]["candidate"]["accuracy"] > slices["overall"]["champion"]["accuracy"]
    assert slices["g=1"]["candidate"]["accuracy"] < slices["g=1"]["champion"]["accuracy"]
    assert loop_world.services.registry.resolve(CHAMPION).version == 1
    assert all(e.action != "canary" for e in loop_world.deployments.history("people"))
    # the candidate better everywhere goes through the canary and is promoted
    better = loop_world.loop(ScriptedRetrainer(Candidate(model_uri=BETTER)), policy)
    assert better.step("people", records)[0].kind is DecisionKind.CANARY
    while loop_world.deployments.get("people").rollout.phase is Phase.PROGRESSING:  # type: ignore[union-attr]
        loop_world.deployments.analyze("people", healthy(1))
    assert loop_world.services.registry.resolve(CHAMPION).version == 3
