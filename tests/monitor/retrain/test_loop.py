"""The retrain loop over a real store, registry and deployment service: each step recorded and linked."""

from __future__ import annotations

from datetime import timedelta

from loopml.deploy.records import Deployment
from loopml.deploy.rollout import Action, Phase
from loopml.errors import Forbidden
from loopml.monitor.alerts import AlertStatus
from loopml.monitor.retrain import (
    FAILED_RULE,
    Candidate,
    DecisionKind,
    Guards,
    PerformanceTrigger,
    RetrainPolicy,
    RetrainState,
)
from tests.deploy.test_service import failing, healthy
from tests.monitor.alerts._windows import series
from tests.monitor.retrain.conftest import BETTER, CHAMPION, WORSE_ON_SLICE, LoopWorld, ScriptedRetrainer

DROP_AT = 10


def windows(n: int, *, drop_at: int | None = DROP_AT) -> list:
    return series(5, n, drop_at=drop_at, deployment="people")


def test_a_drop_retrains_evaluates_and_starts_a_canary_that_promotes(loop_world: LoopWorld) -> None:
    retrainer = ScriptedRetrainer(Candidate(model_uri=BETTER, pipeline_run="run-1"))
    loop = loop_world.loop(retrainer)
    records = windows(DROP_AT + 1)
    raised = loop_world.alerts.evaluate(records)  # the alert the drop raised (none yet: `for` is 2)
    assert [d.kind for d in loop.step("people", records[:DROP_AT])] == [DecisionKind.NOTHING]
    [decision] = loop.step("people", records, raised.open)
    assert decision.kind is DecisionKind.CANARY and decision.candidate == BETTER
    assert [t.kind for t in decision.triggers] == ["performance"]
    assert decision.span is not None and decision.span.end == records[-1].end
    assert decision.span.end - decision.span.start == timedelta(days=30)
    [request] = retrainer.requests
    assert (request.champion, request.attempt, request.span) == (CHAMPION, 1, decision.span)
    deployment = loop_world.deployments.get("people")
    assert deployment.spec.canary is not None and deployment.spec.canary.target == BETTER
    assert deployment.rollout is not None and deployment.rollout.phase is Phase.PROGRESSING
    # the record links trigger -> data quality -> pipeline run -> candidate -> evaluation -> canary
    repo = loop_world.services.store.retrains  # type: ignore[attr-defined]
    [run] = repo.list("people")
    assert (run.state, run.candidate, run.champion) == ("canary", BETTER, CHAMPION)
    steps = repo.steps(run.retrain_id)
    assert [(s.kind, s.outcome) for s in steps] == [
        ("trigger", "due"),
        ("data_quality", "passed"),
        ("pipeline", "succeeded"),
        ("candidate", "registered"),
        ("evaluation", "blessed"),
        ("canary", "started"),
    ]
    assert steps[2].details["pipeline_run"] == "run-1"
    assert steps[4].details["metrics"]["slices"]["g=1"]["count"] > 30
    assert steps[5].details["revision"] == deployment.revision
    # while the canary rolls out the loop waits; the rollout promotes; the loop records it
    assert [d.kind for d in loop.step("people", windows(DROP_AT + 2))] == [DecisionKind.WAITING]
    while loop_world.deployments.get("people").rollout.phase is Phase.PROGRESSING:  # type: ignore[union-attr]
        loop_world.deployments.analyze("people", healthy(3))
    follow = loop.step("people", windows(DROP_AT + 3))
    assert follow[0].kind is DecisionKind.PROMOTED
    assert repo.get(run.retrain_id).state == "promoted"
    assert loop_world.services.registry.resolve(CHAMPION).version == 3


def test_a_rolled_back_canary_is_recorded_and_the_champion_stays(loop_world: LoopWorld) -> None:
    loop = loop_world.loop(ScriptedRetrainer(Candidate(model_uri=BETTER)))
    [started] = loop.step("people", windows(DROP_AT + 1))
    assert started.kind is DecisionKind.CANARY
    decision = loop_world.deployments.analyze("people", failing())
    assert decision.action is Action.ROLLBACK
    [back, *_] = loop.step("people", windows(DROP_AT + 2))
    assert back.kind is DecisionKind.ROLLED_BACK and "rolled back" in back.reason
    assert loop_world.services.registry.resolve(CHAMPION).version == 1


def test_a_candidate_worse_on_a_guarded_slice_is_refused(loop_world: LoopWorld) -> None:
    loop = loop_world.loop(ScriptedRetrainer(Candidate(model_uri=WORSE_ON_SLICE)))
    [decision] = loop.step("people", windows(DROP_AT + 1))
    assert decision.kind is DecisionKind.REJECTED
    assert "g=1" in decision.reason and "accuracy" in decision.reason
    assert loop_world.deployments.get("people").spec.canary is None


def test_a_failing_pipeline_keeps_the_champion_raises_an_alert_and_is_retried(loop_world: LoopWorld) -> None:
    retrainer = ScriptedRetrainer(Candidate(error="step train: MemoryError"), Candidate(model_uri=BETTER))
    loop = loop_world.loop(retrainer)
    [failed] = loop.step("people", windows(DROP_AT + 1))
    assert failed.kind is DecisionKind.FAILED and "champion keeps serving" in failed.reason
    assert "retry in 1:00:00 (1 attempt(s) left)" in failed.reason
    [alert] = loop_world.alerts.list("people", status=AlertStatus.OPEN)
    assert (alert.rule, alert.severity.value) == (FAILED_RULE, "critical") and "MemoryError" in alert.message
    assert loop_world.deployments.get("people").spec.canary is None
    # the retry waits for its delay (windows are hourly), then runs as attempt 2 and succeeds
    records = windows(DROP_AT + 3)
    held = loop.step("people", records[: DROP_AT + 1])
    assert held[0].kind is DecisionKind.HELD and "retry 2" in held[0].reason
    [retried] = loop.step("people", records[: DROP_AT + 2])
    assert retried.kind is DecisionKind.CANARY and [t.kind for t in retried.triggers] == [
        "retry",
        "performance",
    ]
    assert [r.attempt for r in retrainer.requests] == [1, 2]
    runs = loop_world.services.store.retrains.list("people")  # type: ignore[attr-defined]
    assert [(r.state, r.attempt, r.retry_of) for r in runs] == [
        ("failed", 1, None),
        ("canary", 2, runs[0].retrain_id),
    ]
    assert loop_world.alerts.list("people", status=AlertStatus.OPEN) == []  # resolved by the success


def test_a_failing_retrainer_that_raises_counts_as_a_failed_pipeline(loop_world: LoopWorld) -> None:
    class Broken:
        def retrain(self, request: object) -> Candidate:
            raise OSError("disk full")

    loop = loop_world.loop(ScriptedRetrainer(Candidate()))
    loop._retrainer = Broken()  # type: ignore[assignment]
    [failed] = loop.step("people", windows(DROP_AT + 1))
    assert failed.kind is DecisionKind.FAILED and "OSError: disk full" in failed.reason


def test_dry_run_says_what_would_happen_and_changes_nothing(loop_world: LoopWorld) -> None:
    retrainer = ScriptedRetrainer(Candidate(model_uri=BETTER))
    loop = loop_world.loop(retrainer)
    [decision] = loop.step("people", windows(DROP_AT + 1), dry_run=True)
    assert decision.kind is DecisionKind.RETRAIN and decision.dry_run
    assert decision.reason.startswith("would retrain on ") and "accuracy" in decision.reason
    assert decision.view()["decision"] == "retrain"
    assert retrainer.requests == [] and loop_world.gate.spans == []
    assert loop_world.services.store.retrains.list("people") == []  # type: ignore[attr-defined]
    assert loop_world.deployments.get("people").spec.canary is None


def test_the_data_quality_gate_blocks_a_retraining(loop_world: LoopWorld) -> None:
    loop_world.gate.passed = False
    retrainer = ScriptedRetrainer(Candidate(model_uri=BETTER))
    [blocked] = loop_world.loop(retrainer).step("people", windows(DROP_AT + 1))
    assert blocked.kind is DecisionKind.BLOCKED and "12% missing `x1`" in blocked.reason
    assert retrainer.requests == []
    [run] = loop_world.services.store.retrains.list("people")  # type: ignore[attr-defined]
    assert run.state == RetrainState.BLOCKED


def test_guards_hold_retraining_back(loop_world: LoopWorld) -> None:
    retrainer = ScriptedRetrainer(Candidate(model_uri=WORSE_ON_SLICE))  # refused each time: no canary waits
    policy = RetrainPolicy(
        performance=PerformanceTrigger(tolerance=0.05, min_labels=200),
        guards=Guards(cooldown=timedelta(hours=3), max_per_day=2),
    )
    loop = loop_world.loop(retrainer, policy)
    records = windows(40)
    decisions = [loop.step("people", records[: i + 1])[-1] for i in range(DROP_AT, 40)]
    kinds = [d.kind for d in decisions]
    assert kinds[:4] == [DecisionKind.REJECTED, DecisionKind.HELD, DecisionKind.HELD, DecisionKind.REJECTED]
    # at most two in any 24 hours, however long the drop lasts (30 hours here: four in all)
    starts = [r.started_at for r in loop_world.services.store.retrains.list("people")]  # type: ignore[attr-defined]
    assert len(starts) == 4 == kinds.count(DecisionKind.REJECTED)
    assert all(sum(t - 86_400_000 < u <= t for u in starts) <= 2 for t in starts)
    reasons = {d.reason.split(":")[0] for d in decisions if d.kind is DecisionKind.HELD}
    assert reasons == {"cooldown", "2 pipeline run(s) in the last 24 hours (at most 2)"}


def test_a_policy_that_needs_a_gate_holds_without_one(loop_world: LoopWorld) -> None:
    loop = loop_world.loop(ScriptedRetrainer(Candidate(model_uri=BETTER)))
    loop._gate = None
    [held] = loop.step("people", windows(DROP_AT + 1))
    assert held.kind is DecisionKind.HELD and "data-quality gate" in held.reason


def test_a_candidate_that_cannot_be_evaluated_fails_the_retraining(loop_world: LoopWorld) -> None:
    loop = loop_world.loop(ScriptedRetrainer(Candidate(model_uri="models:/people/99")))  # never registered
    [failed] = loop.step("people", windows(DROP_AT + 1))
    assert failed.kind is DecisionKind.FAILED and "could not be evaluated" in failed.reason
    assert "champion keeps serving" in failed.reason and "1 attempt(s) left" in failed.reason
    [alert] = loop_world.alerts.list("people", status=AlertStatus.OPEN)
    assert alert.rule == FAILED_RULE and "models:/people/99" in alert.message
    [run] = loop_world.services.store.retrains.list("people")  # type: ignore[attr-defined]
    steps = loop_world.services.store.retrains.steps(run.retrain_id)  # type: ignore[attr-defined]
    assert [(s.kind, s.outcome) for s in steps][-1] == ("evaluation", "failed")
    assert loop_world.deployments.get("people").spec.canary is None


def test_a_canary_the_deployment_refuses_rejects_the_candidate(loop_world: LoopWorld) -> None:
    class Refusing:
        def get(self, name: str) -> Deployment:
            return loop_world.deployments.get(name)

        def start_canary(
            self, name: str, target: str, *, actor: str | None, reason: str | None = None
        ) -> Deployment:
            raise Forbidden(f"{target} is not signed by a trusted key.")

    loop = loop_world.loop(ScriptedRetrainer(Candidate(model_uri=BETTER)))
    loop._deployments = Refusing()
    [rejected] = loop.step("people", windows(DROP_AT + 1))
    assert rejected.kind is DecisionKind.REJECTED and "refused the canary" in rejected.reason
    assert "not signed" in rejected.reason and rejected.candidate == BETTER
    [run] = loop_world.services.store.retrains.list("people")  # type: ignore[attr-defined]
    assert run.state == RetrainState.REJECTED
    assert loop_world.deployments.get("people").spec.canary is None
