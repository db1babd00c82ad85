"""One analysis per window for all replicas: merged observations, the lease, a dead replica's share."""

from __future__ import annotations

import time

import pytest

from loopml.deploy.collector import ObservationCollector
from loopml.deploy.policy import GateThresholds, RolloutPolicy
from loopml.deploy.rollout import Action, Phase
from loopml.deploy.service import DeploymentService
from loopml.deploy.shared_analysis import SharedAnalysis, analysis_due, shadow_window, window_of
from loopml.deploy.spec import DeploymentSpec, Shadow
from loopml.errors import InvalidInput
from tests.deploy.conftest import World
from tests.deploy.test_service import service

#: Requests of each route on each replica; the gates need both replicas' (min_samples).
EACH = 30


def _start(world: World) -> tuple[DeploymentService, str, int]:
    svc = service(world)
    gates = GateThresholds(min_samples=2 * EACH, max_p99_increase_ms=1_000, max_prediction_drift=1.0)
    policy = RolloutPolicy(steps=(50, 100), hold_s=3_600, min_requests=0, interval_s=0.001, gates=gates)
    svc.create(DeploymentSpec(name="churn", primary="models:/churn@champion"), policy, actor="ann")
    deployment = svc.start_canary("churn", "models:/churn/2", actor="ann")
    window = window_of(deployment)
    assert window is not None and deployment.rollout is not None
    return svc, window, deployment.rollout.step_started_ms


def _traffic(start_ms: int, *, canary_fails: bool, seed: int) -> ObservationCollector:
    c = ObservationCollector(start_ms=start_ms, seed=seed)
    for i in range(EACH):
        c.record(
            "primary", error=False, latency_ms=5.0, predictions=(float(i % 2),), request_id=f"{seed}p{i}"
        )
        c.record(
            "canary", error=canary_fails, latency_ms=5.0, predictions=() if canary_fails else (float(i % 2),)
        )
    return c


def _now() -> int:
    return time.time_ns() // 1_000_000 + 1_000


def test_one_replica_decides_on_the_traffic_of_both_and_the_other_follows(world: World) -> None:
    svc, window, start = _start(world)
    board = world.services.store.observations  # type: ignore[attr-defined]
    a, b = SharedAnalysis(board, svc, replica="a"), SharedAnalysis(board, svc, replica="b")
    seen_a, seen_b = _traffic(start, canary_fails=True, seed=1), _traffic(start, canary_fails=True, seed=2)
    assert b.publish("churn", window, seen_b)
    assert not b.publish("churn", window, seen_b)  # nothing new: not published again
    decision = a.analyze("churn", window, seen_a, now_ms=_now())
    assert decision is not None and decision.action is Action.ROLLBACK
    stored = svc.get("churn")
    assert stored.last_analysis is not None
    error_gate = next(g for g in stored.last_analysis.gates if g.gate == "error_rate")
    assert (error_gate.primary_n, error_gate.canary_n) == (2 * EACH, 2 * EACH)
    # the other replica, due by its own (older) reading, finds the window decided: nothing more
    assert b.analyze("churn", window, seen_b, now_ms=_now()) is None
    assert [e.action for e in svc.history("churn")].count("analysis-rollback") == 1


def test_a_replica_alone_does_not_reach_the_minimum_sample(world: World) -> None:
    svc, window, start = _start(world)
    board = world.services.store.observations  # type: ignore[attr-defined]
    decision = SharedAnalysis(board, svc, replica="a").analyze(
        "churn", window, _traffic(start, canary_fails=True, seed=1), now_ms=_now()
    )
    assert decision is not None and decision.action is Action.HOLD  # no-data: half the traffic


def test_the_lease_holder_decides_and_a_dead_holders_lease_moves_on(world: World) -> None:
    svc, window, start = _start(world)
    board = world.services.store.observations  # type: ignore[attr-defined]
    dead = SharedAnalysis(board, svc, replica="dead", lease_s=0.2)
    dead.publish("churn", window, _traffic(start, canary_fails=True, seed=2))
    assert board.acquire("churn", "dead", ttl_s=0.2)  # it dies holding the lease, mid-analysis
    live = SharedAnalysis(board, svc, replica="live")
    seen = _traffic(start, canary_fails=True, seed=1)
    assert live.analyze("churn", window, seen, now_ms=_now()) is None  # held by another replica
    assert svc.get("churn").last_analysis is None
    time.sleep(0.3)  # the lease expires
    decision = live.analyze("churn", window, seen, now_ms=_now())
    assert decision is not None and decision.action is Action.ROLLBACK  # with the dead replica's share
    assert svc.get("churn").rollout.phase is Phase.ROLLED_BACK  # type: ignore[union-attr]


def test_an_analysis_of_a_window_that_moved_on_is_not_stored(world: World) -> None:
    svc, window, start = _start(world)
    board = world.services.store.observations  # type: ignore[attr-defined]
    svc.rollback("churn", actor="ann")
    shared = SharedAnalysis(board, svc, replica="a")
    assert shared.analyze("churn", window, _traffic(start, canary_fails=True, seed=1), now_ms=_now()) is None
    assert window_of(svc.get("churn")) is None and not analysis_due(svc.get("churn"), now_ms=_now())


def test_bad_timings_are_refused(world: World) -> None:
    with pytest.raises(InvalidInput, match="lease_s"):
        SharedAnalysis(world.services.store.observations, service(world), lease_s=0)  # type: ignore[attr-defined]


def test_shadow_windows_are_cut_alike_on_every_replica() -> None:
    assert shadow_window(12_345, interval_s=10) == ("shadows@10000", 10_000, 20_000)
    assert shadow_window(19_999, interval_s=10)[0] == shadow_window(10_000, interval_s=10)[0]
    assert shadow_window(20_000, interval_s=10)[1] == 20_000


def test_a_shadow_window_is_reported_once_on_every_replicas_copies(world: World) -> None:
    svc = service(world)
    spec = DeploymentSpec(
        name="churn",
        primary="models:/churn@champion",
        shadows=(Shadow(name="twin", target="models:/churn/2"),),
    )
    svc.create(spec, RolloutPolicy(gates=GateThresholds(min_samples=2 * EACH)), actor="ann")
    board = world.services.store.observations  # type: ignore[attr-defined]
    window, start, end = shadow_window(_now(), interval_s=60)
    replicas = [SharedAnalysis(board, svc, replica=r) for r in ("a", "b")]
    for seed, shared in enumerate(replicas):
        c = ObservationCollector(start_ms=start, seed=seed)
        for i in range(EACH):
            c.record("primary", error=False, latency_ms=1.0, predictions=(1.0,))
            c.record_mirror("twin", error=False, latency_ms=1.0, pairs=[(1.0, 1.0 if i % 3 else 0.0)])
        shared.publish("churn", window, c, force=True)
    assert replicas[1].report_shadows("churn", window, end_ms=end)
    assert not replicas[0].report_shadows("churn", window, end_ms=end)  # reported already
    (report,) = svc.get("churn").shadow_reports
    agreement = next(g for g in report["gates"] if g["gate"] == "agreement")
    assert agreement["primary_n"] == 2 * EACH and agreement["value"] == pytest.approx(2 / 3, abs=0.01)
    assert [e.action for e in svc.history("churn")].count("shadow-report") == 1
