"""The retrain loop: from a deployment's windows and alerts to a retraining, a candidate, and a canary.

One :meth:`RetrainLoop.step` (what ``monitor run`` does once per deployment):

1. follow the canary of an earlier retraining: still rolling out (wait), promoted, or rolled back;
2. retry a failed pipeline when its retry delay has passed and attempts remain;
3. otherwise check the policy's triggers on the newest window;
4. check the guards (cooldown, at most K pipeline runs in any 24 hours);
5. gate the new span's data quality; run the pipeline on it (the span moved forward);
6. evaluate the candidate against the champion on recent labelled data and slices;
7. if blessed, start a canary through the deployment service, whose rollout promotes or rolls back.

Every step is recorded on the retraining (``retrain_runs`` / ``retrain_steps``), linked to the alerts
that were open, the pipeline run, the candidate, the evaluation and the deployment's revision. A
pipeline failure (or a candidate that cannot be evaluated) keeps the champion serving, raises a
``retrain-failed`` alert and is retried by the policy; a canary the deployment refuses rejects the
candidate. Time is the monitoring time: the end of the newest window, so a replay is deterministic.
With ``dry_run`` nothing is run or recorded: the decisions say what would happen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from loopml.deploy.rollout import Phase
from loopml.errors import LoopmlError
from loopml.monitor.alerts.records import Alert, from_ms, to_ms
from loopml.monitor.alerts.rules import Severity
from loopml.monitor.alerts.service import AlertService
from loopml.monitor.records import WindowRecord
from loopml.monitor.retrain.actions import CandidateEvaluator, DataQualityGate, Deployments, Retrainer
from loopml.monitor.retrain.policy import RetrainPolicy
from loopml.monitor.retrain.records import (
    Candidate,
    Decision,
    DecisionKind,
    RetrainRequest,
    RetrainState,
    Span,
    Trigger,
)
from loopml.monitor.retrain.triggers import due_triggers
from loopml.store.entities import StoredRetrain
from loopml.store.repositories import RetrainRepository

__all__ = ["ACTOR", "FAILED_RULE", "RetrainLoop"]

ACTOR = "retrain"
FAILED_RULE = "retrain-failed"
_DAY = timedelta(days=1)


class RetrainLoop:
    """Retrains deployments' models by policy and hands good candidates to a guarded canary.

    Args:
        retrains: Where retrainings and their steps are recorded.
        deployments: Reads the champion and starts canaries (the deployment service).
        retrainer: Runs the model's pipeline on a span.
        evaluator: Compares candidate and champion.
        policies: Each deployment's retrain policy (default: :class:`RetrainPolicy` ()).
        quality_gate: Checks the new span's data; required when a policy's ``guards.data_quality``
            is on (without a gate such a policy holds every retraining, saying why).
        alerts: Where a failed pipeline raises its alert (None: recorded on the retraining only).
    """

    def __init__(
        self,
        retrains: RetrainRepository,
        *,
        deployments: Deployments,
        retrainer: Retrainer,
        evaluator: CandidateEvaluator,
        policies: Callable[[str], RetrainPolicy] | None = None,
        quality_gate: DataQualityGate | None = None,
        alerts: AlertService | None = None,
    ) -> None:
        self._repo = retrains
        self._deployments = deployments
        self._retrainer = retrainer
        self._evaluator = evaluator
        self._policies = policies or (lambda _name: RetrainPolicy())
        self._gate = quality_gate
        self._alerts = alerts

    def step(
        self,
        deployment: str,
        records: Sequence[WindowRecord],
        alerts: Sequence[Alert] = (),
        *,
        dry_run: bool = False,
    ) -> list[Decision]:
        """Decide (and, unless ``dry_run``, do) what is due for ``deployment`` now.

        Args:
            deployment: The deployment.
            records: Its window records (others' are ignored); the newest one's end is "now".
            alerts: Alerts open now (linked to a retraining they lead to; ``alerts`` triggers).
            dry_run: Say what would happen; run and record nothing.

        Returns:
            The decisions, in order (following a canary, then retraining).

        Raises:
            NotFound: no deployment is called ``deployment``.
        """
        self._deployments.get(deployment)  # a policy for a deployment that does not exist is an error
        windows = sorted((r for r in records if r.deployment == deployment), key=lambda r: (r.end, r.start))
        if not windows:
            return [
                Decision(
                    deployment=deployment,
                    kind=DecisionKind.NOTHING,
                    reason="no windows yet",
                    at=datetime.fromtimestamp(0).astimezone(),
                    dry_run=dry_run,
                )
            ]
        now = windows[-1].end
        policy = self._policies(deployment)
        history = self._repo.list(deployment)
        decisions = [self._follow(run, now, dry_run) for run in history if run.state == RetrainState.CANARY]
        if any(d.kind is DecisionKind.WAITING for d in decisions):
            return decisions
        linked = [a for a in alerts if a.deployment == deployment and a.is_open]
        decisions.append(self._retrain_if_due(deployment, windows, policy, history, linked, now, dry_run))
        return decisions

    # -- deciding -------------------------------------------------------------------------------

    def _retrain_if_due(
        self,
        deployment: str,
        windows: list[WindowRecord],
        policy: RetrainPolicy,
        history: list[StoredRetrain],
        alerts: list[Alert],
        now: datetime,
        dry_run: bool,
    ) -> Decision:
        def decision(kind: DecisionKind, reason: str, **more: Any) -> Decision:
            return Decision(deployment=deployment, kind=kind, reason=reason, at=now, dry_run=dry_run, **more)

        last = history[-1] if history else None
        retry_of = last if last is not None and _retryable(last, policy) else None
        if retry_of is not None:
            due = from_ms(retry_of.started_at) + policy.retry.delay
            if now < due:
                return decision(
                    DecisionKind.HELD, f"retry {retry_of.attempt + 1} of a failed retraining is due at {due}"
                )
            triggers = [
                Trigger(
                    kind="retry",
                    reason=f"attempt {retry_of.attempt + 1} of {policy.retry.max_attempts}",
                    evidence={"retry_of": retry_of.retrain_id},
                ),
                *(
                    Trigger(kind=t["kind"], reason=t["reason"], evidence=t.get("evidence", {}))
                    for t in retry_of.triggers
                    if t.get("kind") != "retry"
                ),
            ]
        else:
            started = None if last is None else (from_ms(last.started_at), from_ms(last.span_end))
            triggers = due_triggers(policy, windows, last_retrain=started, open_alerts=alerts)
        if not triggers:
            return decision(DecisionKind.NOTHING, "no trigger holds")
        held = self._guard(policy, history, now, is_retry=retry_of is not None)
        if held is not None:
            return decision(DecisionKind.HELD, held, triggers=tuple(triggers))
        span = Span(start=now - policy.span, end=now)
        because = "; ".join(t.reason for t in triggers)
        if dry_run:
            return decision(
                DecisionKind.RETRAIN,
                f"would retrain on {span.start:%Y-%m-%d %H:%M} .. {span.end:%Y-%m-%d %H:%M} "
                f"because {because}; "
                "then evaluate the candidate against the champion and, if blessed, start a canary",
                triggers=tuple(triggers),
                span=span,
            )
        run = self._repo.create(
            deployment=deployment,
            started_at=to_ms(now),
            span_start=to_ms(span.start),
            span_end=to_ms(span.end),
            triggers=[t.to_document() for t in triggers],
            alert_ids=[a.alert_id for a in alerts],
            champion=self._deployments.get(deployment).spec.primary,
            attempt=1 if retry_of is None else retry_of.attempt + 1,
            retry_of=None if retry_of is None else retry_of.retrain_id,
        )
        return self._run(run, policy, span, tuple(triggers), now)

    def _guard(
        self, policy: RetrainPolicy, history: list[StoredRetrain], now: datetime, *, is_retry: bool
    ) -> str | None:
        """Why a retraining is held back now (None: it may go)."""
        g = policy.guards
        if g.data_quality and self._gate is None:
            return "the policy requires a data-quality gate and none is configured"
        if history and not is_retry:
            since = now - from_ms(history[-1].started_at)
            if since < g.cooldown:
                return f"cooldown: the last retraining started {since} ago (cooldown {g.cooldown})"
        ran = [r for r in history if r.state != RetrainState.BLOCKED and from_ms(r.started_at) > now - _DAY]
        if len(ran) >= g.max_per_day:
            return f"{len(ran)} pipeline run(s) in the last 24 hours (at most {g.max_per_day})"
        return None

    # -- doing ----------------------------------------------------------------------------------

    def _run(
        self,
        run: StoredRetrain,
        policy: RetrainPolicy,
        span: Span,
        triggers: tuple[Trigger, ...],
        now: datetime,
    ) -> Decision:
        name, rid = run.deployment, run.retrain_id

        def finish(kind: DecisionKind, state: RetrainState, reason: str, **more: Any) -> Decision:
            self._repo.update(
                rid, state=state.value, reason=reason, finished_at=to_ms(now), candidate=more.get("candidate")
            )
            return Decision(
                deployment=name,
                kind=kind,
                reason=reason,
                at=now,
                triggers=triggers,
                retrain_id=rid,
                span=span,
                **more,
            )

        self._repo.add_step(
            rid,
            kind="trigger",
            outcome="due",
            details={"triggers": [t.to_document() for t in triggers], "alert_ids": list(run.alert_ids)},
        )
        if policy.guards.data_quality and self._gate is not None:
            verdict = self._gate(deployment=name, span=span)
            self._repo.add_step(
                rid,
                kind="data_quality",
                outcome="passed" if verdict.passed else "failed",
                details={"reasons": list(verdict.reasons)},
            )
            if not verdict.passed:
                return finish(
                    DecisionKind.BLOCKED,
                    RetrainState.BLOCKED,
                    "the new data failed the quality gate: " + "; ".join(verdict.reasons),
                )
        request = RetrainRequest(
            deployment=name, span=span, champion=run.champion, attempt=run.attempt, retrain_id=rid
        )
        try:
            candidate = self._retrainer.retrain(request)
        except Exception as err:  # a retrainer that raises is a failed pipeline too
            candidate = Candidate(error=f"{type(err).__name__}: {err}")
        details = {
            "pipeline_run": candidate.pipeline_run,
            "error": candidate.error,
            "refused": candidate.refused,
            "model_uri": candidate.model_uri,
            **dict(candidate.details),
        }
        if candidate.failed:
            self._repo.add_step(rid, kind="pipeline", outcome="failed", details=details)
            return self._failed(run, policy, span, triggers, now, candidate.error or "")
        self._repo.add_step(rid, kind="pipeline", outcome="succeeded", details=details)
        if self._alerts is not None:
            self._alerts.resolve_alert(name, rule=FAILED_RULE, metric="pipeline", at=now)
        if candidate.model_uri is None:
            return finish(
                DecisionKind.REJECTED,
                RetrainState.REJECTED,
                f"the pipeline produced no candidate: {candidate.refused or 'nothing pushed'}",
            )
        self._repo.add_step(
            rid, kind="candidate", outcome="registered", details={"model_uri": candidate.model_uri}
        )
        try:
            evaluation = self._evaluator.evaluate(
                deployment=name, champion=run.champion, candidate=candidate.model_uri, span=span
            )
        except Exception as err:  # a candidate that cannot be scored fails the retraining, retried by policy
            error = f"the candidate {candidate.model_uri} could not be evaluated: {type(err).__name__}: {err}"
            self._repo.add_step(rid, kind="evaluation", outcome="failed", details={"error": error})
            return self._failed(run, policy, span, triggers, now, error)
        self._repo.add_step(
            rid,
            kind="evaluation",
            outcome="blessed" if evaluation.blessed else "refused",
            details={"reasons": list(evaluation.reasons), "metrics": dict(evaluation.metrics)},
        )
        if not evaluation.blessed:
            return finish(
                DecisionKind.REJECTED,
                RetrainState.REJECTED,
                "the candidate is not better than the champion: " + "; ".join(evaluation.reasons),
                candidate=candidate.model_uri,
            )
        reason = f"retraining {rid}: " + "; ".join(t.reason for t in triggers)
        try:
            deployed = self._deployments.start_canary(name, candidate.model_uri, actor=ACTOR, reason=reason)
        except LoopmlError as err:  # the deployment's own checks (signature, blessing, policy) said no
            self._repo.add_step(
                rid,
                kind="canary",
                outcome="refused",
                details={"target": candidate.model_uri, "error": str(err)},
            )
            return finish(
                DecisionKind.REJECTED,
                RetrainState.REJECTED,
                f"the deployment refused the canary of {candidate.model_uri}: {err}",
                candidate=candidate.model_uri,
            )
        weight = None if deployed.spec.canary is None else deployed.spec.canary.weight
        self._repo.add_step(
            rid,
            kind="canary",
            outcome="started",
            details={"target": candidate.model_uri, "revision": deployed.revision, "weight": weight},
        )
        self._repo.update(rid, state=RetrainState.CANARY.value, candidate=candidate.model_uri, reason=reason)
        return Decision(
            deployment=name,
            kind=DecisionKind.CANARY,
            at=now,
            triggers=triggers,
            retrain_id=rid,
            span=span,
            candidate=candidate.model_uri,
            reason=f"canary of {candidate.model_uri} started at {weight}% (revision {deployed.revision})",
            details={"evaluation": dict(evaluation.metrics)},
        )

    def _failed(
        self,
        run: StoredRetrain,
        policy: RetrainPolicy,
        span: Span,
        triggers: tuple[Trigger, ...],
        now: datetime,
        error: str,
    ) -> Decision:
        left = policy.retry.max_attempts - run.attempt
        plan = f"retry in {policy.retry.delay} ({left} attempt(s) left)" if left > 0 else "no attempts left"
        reason = f"the pipeline failed (attempt {run.attempt}): {error}; the champion keeps serving; {plan}"
        self._repo.update(
            run.retrain_id, state=RetrainState.FAILED.value, reason=reason, finished_at=to_ms(now)
        )
        alert_id = None
        if self._alerts is not None:
            alert = self._alerts.raise_alert(
                run.deployment,
                rule=FAILED_RULE,
                metric="pipeline",
                severity=Severity.CRITICAL,
                at=now,
                message=f"{run.deployment}: retraining failed: {error}",
                evidence={"retrain_id": run.retrain_id, "attempt": run.attempt, "error": error},
            )
            alert_id = alert.alert_id
        return Decision(
            deployment=run.deployment,
            kind=DecisionKind.FAILED,
            reason=reason,
            at=now,
            triggers=triggers,
            retrain_id=run.retrain_id,
            span=span,
            details={"alert_id": alert_id, "attempts_left": left},
        )

    def _follow(self, run: StoredRetrain, now: datetime, dry_run: bool) -> Decision:
        """Where the canary of ``run`` stands; records the end of the rollout (unless ``dry_run``)."""
        current = self._deployments.get(run.deployment)
        canary, rollout = current.spec.canary, current.rollout
        if canary is not None and canary.target == run.candidate:
            if rollout is not None and rollout.phase is Phase.ROLLED_BACK:
                kind, state, why = (
                    DecisionKind.ROLLED_BACK,
                    RetrainState.ROLLED_BACK,
                    f"canary rolled back: {rollout.reason}",
                )
            else:
                return Decision(
                    deployment=run.deployment,
                    kind=DecisionKind.WAITING,
                    at=now,
                    retrain_id=run.retrain_id,
                    candidate=run.candidate,
                    dry_run=dry_run,
                    reason=f"canary of {run.candidate} at {canary.weight}% is rolling out",
                )
        elif canary is None and rollout is not None and rollout.phase is Phase.PROMOTED:
            kind, state, why = (
                DecisionKind.PROMOTED,
                RetrainState.PROMOTED,
                f"canary promoted: {rollout.reason}",
            )
        else:
            kind, state, why = (
                DecisionKind.SUPERSEDED,
                RetrainState.SUPERSEDED,
                "the deployment's canary was changed by hand",
            )
        if not dry_run:
            self._repo.add_step(
                run.retrain_id,
                kind="rollout",
                outcome=state.value,
                details={"revision": current.revision, "reason": why},
            )
            self._repo.update(run.retrain_id, state=state.value, reason=why, finished_at=to_ms(now))
        return Decision(
            deployment=run.deployment,
            kind=kind,
            reason=why,
            at=now,
            retrain_id=run.retrain_id,
            candidate=run.candidate,
            dry_run=dry_run,
        )


def _retryable(run: StoredRetrain, policy: RetrainPolicy) -> bool:
    return run.state == RetrainState.FAILED and run.attempt < policy.retry.max_attempts
