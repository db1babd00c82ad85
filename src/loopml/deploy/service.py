"""The deployment service: create, change, analyse, promote and roll back deployments.

Every model a deployment names is resolved and verified in the registry before anything is
stored; every change is a compare-and-set on the stored revision with its history event (who,
what, why, which model versions) and an audit event. Gate analyses drive the rollout automaton;
manual ``promote`` and ``rollback`` always work and override it.
"""

from __future__ import annotations

import builtins
import dataclasses
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopml.deploy.documents import (
    diff_documents,
    read_document,
    shadow_report_to_document,
    shadow_reports_differ,
)
from loopml.deploy.gates import analyze_canary, compare_shadow
from loopml.deploy.observations import Observations
from loopml.deploy.policy import RolloutPolicy
from loopml.deploy.records import Alert, Deployment
from loopml.deploy.rollout import Action, Decision, Phase, RolloutStatus, decide, start_rollout
from loopml.deploy.spec import Canary, DeploymentSpec, Shadow
from loopml.errors import IntegrityError, InvalidInput, InvalidState, NotFound, PolicyViolation
from loopml.registry import ModelRegistry
from loopml.registry.uris import parse_model_uri
from loopml.security.audit import AuditLog
from loopml.store.entities import DeploymentEvent, ModelVersionStatus, StoredDeployment
from loopml.store.repositories import DeploymentRepository

__all__ = ["ApplyResult", "DeploymentService"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyResult:
    """What ``apply`` did: the deployment, the changed fields, and whether anything changed."""

    deployment: Deployment
    diff: tuple[str, ...]
    changed: bool
    created: bool


def _stamped(stored: StoredDeployment) -> Deployment:
    return Deployment.from_document(
        stored.document,
        revision=stored.revision,
        created_at=stored.created_at,
        created_by=stored.created_by,
        updated_at=stored.updated_at,
        updated_by=stored.updated_by,
    )


class DeploymentService:
    """Deployments over a store's deployment repository and the model registry.

    Args:
        deployments: Where records and history live.
        registry: Resolves and verifies model versions; moves aliases on promotion (policy enforced).
        audit: Where decisions are audited (None: history only).
        on_alert: Called with each alert raised (besides its history event).
        clock: Milliseconds since the epoch.
    """

    def __init__(
        self,
        deployments: DeploymentRepository,
        registry: ModelRegistry,
        *,
        audit: AuditLog | None = None,
        on_alert: Callable[[Alert], None] | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self._repo = deployments
        self._registry = registry
        self._audit = audit
        self._on_alert = on_alert
        self._clock = clock or (lambda: time.time_ns() // 1_000_000)

    # -- reading -------------------------------------------------------------------------------

    def get(self, name: str) -> Deployment:
        return _stamped(self._repo.get(name))

    def list(self) -> builtins.list[Deployment]:
        return [_stamped(s) for s in self._repo.list()]

    def history(self, name: str, *, limit: int | None = None) -> builtins.list[DeploymentEvent]:
        return self._repo.history(name, limit=limit)

    # -- validation ----------------------------------------------------------------------------

    def resolve_models(self, spec: DeploymentSpec) -> builtins.list[str]:
        """Resolve and verify every model of ``spec``; ``NAME/VERSION`` of each (lineage).

        Raises:
            InvalidInput: a model, version or alias is missing, archived, unsafe, or fails verification,
                naming the field.
        """
        resolved: builtins.list[str] = []
        fields = {t: f for f, t in reversed(spec.targets())}
        for uri in spec.model_uris():
            field = fields[uri]
            try:
                version = self._registry.resolve(uri)
            except NotFound as err:
                raise InvalidInput(f"`{field}` names {uri}, which does not exist: {err}") from err
            if version.status is ModelVersionStatus.ARCHIVED:
                raise InvalidInput(f"`{field}`: {uri} is archived; deploy a READY version.")
            if version.scan_verdict == "unsafe":
                raise InvalidInput(f"`{field}`: {uri} failed the model-file scan; it cannot be deployed.")
            label = f"{version.name}/{version.version}"
            if label not in resolved:
                self._verify(field, uri, version.name, version.version)
                resolved.append(label)
        return resolved

    def _verify(self, field: str, uri: str, name: str, version: int) -> None:
        with tempfile.TemporaryDirectory(prefix="loopml-deploy-") as tmp:
            try:
                self._registry.download(f"models:/{name}/{version}", Path(tmp) / "pkg")
            except IntegrityError as err:
                raise InvalidInput(f"`{field}`: {uri} cannot be verified: {err}") from err

    # -- changes -------------------------------------------------------------------------------

    def _record(
        self,
        before: Deployment,
        after: Deployment,
        *,
        actor: str | None,
        action: str,
        reason: str | None,
        details: Mapping[str, Any] | None = None,
    ) -> Deployment:
        models = self.resolve_models(after.spec) if after.spec != before.spec else self._lineage(after)
        stored = self._repo.update(
            after.name,
            after.to_document(),
            expected_revision=before.revision,
            actor=actor,
            action=action,
            reason=reason,
            models=models,
            details=details,
        )
        self._audited(actor, f"deployments.{action}", after.name, "ok", {"reason": reason, **(details or {})})
        return _stamped(stored)

    def _lineage(self, deployment: Deployment) -> builtins.list[str]:
        out = []
        for uri in deployment.spec.model_uris():
            try:
                v = self._registry.resolve(uri)
            except NotFound:
                continue
            out.append(f"{v.name}/{v.version}")
        return list(dict.fromkeys(out))

    def _audited(
        self, actor: str | None, action: str, name: str, result: str, details: Mapping[str, Any]
    ) -> None:
        if self._audit is not None:
            clean = {k: v for k, v in details.items() if v is not None}
            self._audit.record(
                actor=actor, action=action, target=f"deployment:{name}", result=result, details=clean
            )

    def create(
        self,
        spec: DeploymentSpec,
        policy: RolloutPolicy | None = None,
        *,
        actor: str | None,
        reason: str | None = None,
    ) -> Deployment:
        """Store a new deployment after resolving and verifying its models.

        Raises:
            InvalidInput: a model is missing or unverifiable (nothing is stored).
            Conflict: the name is taken.
        """
        models = self.resolve_models(spec)
        deployment = Deployment(spec=spec, policy=policy or RolloutPolicy())
        stored = self._repo.create(
            spec.name, deployment.to_document(), actor=actor, models=models, reason=reason
        )
        self._audited(actor, "deployments.create", spec.name, "ok", {"models": models})
        return _stamped(stored)

    def plan(
        self, document: object
    ) -> tuple[DeploymentSpec, RolloutPolicy, Deployment | None, builtins.list[str]]:
        """What ``apply`` would change: the parsed spec and policy, the current deployment and the diff."""
        spec, policy = read_document(document)
        stored = self._repo.find(spec.name)
        current = None if stored is None else _stamped(stored)
        new_doc = Deployment(spec=spec, policy=policy).to_document()["spec"]
        diff = diff_documents(None if current is None else current.to_document()["spec"], new_doc)
        return spec, policy, current, diff

    def apply(self, document: object, *, actor: str | None, reason: str | None = None) -> ApplyResult:
        """Create or update a deployment from a YAML / JSON document; a no-op when nothing differs.

        A changed canary target restarts the rollout at the first step.
        """
        spec, policy, current, diff = self.plan(document)
        if current is None:
            created = self.create(spec, policy, actor=actor, reason=reason)
            return ApplyResult(deployment=created, diff=tuple(diff), changed=True, created=True)
        if not diff:
            return ApplyResult(deployment=current, diff=(), changed=False, created=False)
        rollout = current.rollout
        old_target = current.spec.canary.target if current.spec.canary else None
        if spec.canary is None or spec.canary.target != old_target:
            rollout = None
        after = dataclasses.replace(current, spec=spec, policy=policy, rollout=rollout)
        saved = self._record(
            current, after, actor=actor, action="apply", reason=reason, details={"diff": diff}
        )
        return ApplyResult(deployment=saved, diff=tuple(diff), changed=True, created=False)

    def set_traffic(
        self, name: str, *, weight: float, actor: str | None, reason: str | None = None
    ) -> Deployment:
        """Set the canary's weight by hand (the automaton stops: manual control)."""
        current = self.get(name)
        if current.spec.canary is None:
            raise InvalidState(
                f"Deployment {name!r} has no canary; `loopml deploy canary {name} MODEL_URI` adds one."
            )
        spec = dataclasses.replace(
            current.spec, canary=Canary(target=current.spec.canary.target, weight=weight)
        )
        after = dataclasses.replace(current, spec=spec, rollout=None)
        return self._record(
            current, after, actor=actor, action="set-traffic", reason=reason, details={"weight": weight}
        )

    def start_canary(
        self, name: str, target: str, *, actor: str | None, reason: str | None = None
    ) -> Deployment:
        """Put ``target`` in as the canary at the policy's first step and start the automaton."""
        current = self.get(name)
        status = start_rollout(current.policy, now_ms=self._clock())
        spec = dataclasses.replace(current.spec, canary=Canary(target=target, weight=status.weight))
        after = dataclasses.replace(current, spec=spec, rollout=status, last_analysis=None)
        return self._record(
            current, after, actor=actor, action="canary", reason=reason, details={"target": target}
        )

    def set_shadow(
        self,
        name: str,
        shadow: str,
        *,
        target: str | None,
        mirror_percent: float = 100.0,
        actor: str | None,
        reason: str | None = None,
    ) -> Deployment:
        """Add or change a shadow (``target`` None removes it)."""
        current = self.get(name)
        others = tuple(s for s in current.spec.shadows if s.name != shadow)
        if target is None and len(others) == len(current.spec.shadows):
            raise NotFound(
                f"Deployment {name!r} has no shadow {shadow!r}; `loopml deploy show {name}` lists them."
            )
        added = () if target is None else (Shadow(name=shadow, target=target, mirror_percent=mirror_percent),)
        spec = dataclasses.replace(current.spec, shadows=others + added)
        details = {"shadow": shadow, "target": target, "mirror_percent": mirror_percent}
        return self._record(
            current,
            dataclasses.replace(current, spec=spec),
            actor=actor,
            action="shadow",
            reason=reason,
            details=details,
        )

    # -- the rollout ---------------------------------------------------------------------------

    def analyze(self, name: str, observations: Observations, *, actor: str = "rollout") -> Decision:
        """Run the gates on ``observations`` (the window since the step started) and act on the verdict.

        Raises:
            InvalidState: no rollout is progressing.
        """
        current = self.get(name)
        status = current.rollout
        if status is None or status.phase is not Phase.PROGRESSING or current.spec.canary is None:
            raise InvalidState(
                f"Deployment {name!r} has no canary rollout in progress; "
                f"`loopml deploy canary {name} MODEL_URI` starts one."
            )
        analysis = analyze_canary(observations, current.policy.gates)
        reports = tuple(
            shadow_report_to_document(compare_shadow(observations, s.name, current.policy.gates))
            for s in current.spec.shadows
        )
        decision = decide(
            status,
            current.policy,
            analysis,
            now_ms=self._clock(),
            canary_requests=observations.route("canary").requests,
        )
        after = dataclasses.replace(
            current, last_analysis=analysis, shadow_reports=reports, rollout=decision.status
        )
        details = {"verdict": analysis.verdict.value, "decision": decision.action.value}
        if decision.action is Action.PROMOTE:
            return self._promote(current, after, decision, actor=actor, reason=decision.reason)
        canary = Canary(target=current.spec.canary.target, weight=decision.status.weight)
        after = dataclasses.replace(after, spec=dataclasses.replace(current.spec, canary=canary))
        saved = self._record(
            current,
            after,
            actor=actor,
            action=f"analysis-{decision.action.value}",
            reason=decision.reason,
            details=details,
        )
        if decision.action is Action.ROLLBACK:
            self._alert(saved, decision.reason, analysis_doc=saved.to_document()["last_analysis"])
        return decision

    def report_shadows(self, name: str, observations: Observations, *, actor: str = "serving") -> Deployment:
        """Compare each shadow with the primary over ``observations`` and store the reports.

        Runs whether or not a canary is rolled out, so the evidence to promote a shadow builds up
        continuously; nothing is decided from it. The reports are stored (a new revision) only when
        they say something new (:func:`~loopml.deploy.documents.shadow_reports_differ`: a verdict
        changed, or a value moved by 0.01 or more); otherwise the stored ones stand and the
        deployment is returned unchanged.

        Raises:
            InvalidState: the deployment has no shadows.
        """
        current = self.get(name)
        if not current.spec.shadows:
            raise InvalidState(
                f"Deployment {name!r} has no shadows; `loopml deploy shadow {name} NAME MODEL_URI` adds one."
            )
        reports = tuple(
            shadow_report_to_document(compare_shadow(observations, s.name, current.policy.gates))
            for s in current.spec.shadows
        )
        if not shadow_reports_differ(current.shadow_reports, reports):
            return current
        after = dataclasses.replace(current, shadow_reports=reports)
        window = observations.window
        details = {"window": [window.start_ms, window.end_ms]}
        return self._record(current, after, actor=actor, action="shadow-report", reason=None, details=details)

    def _promote(
        self,
        current: Deployment,
        after: Deployment,
        decision: Decision,
        *,
        actor: str | None,
        reason: str | None,
    ) -> Decision:
        assert current.spec.canary is not None  # checked by the callers
        target, primary = current.spec.canary.target, current.spec.primary
        canary_version = self._registry.resolve(target)
        try:
            parsed = parse_model_uri(primary)
        except InvalidInput:
            parsed = None
        if parsed is not None and parsed.alias is not None and parsed.name == canary_version.name:
            try:
                self._registry.set_alias(
                    parsed.name, parsed.alias, canary_version.version, actor=actor or "rollout", reason=reason
                )
            except (PolicyViolation, IntegrityError) as err:
                why = f"promotion refused: {err}"
                refused = dataclasses.replace(
                    decision.status, phase=Phase.ROLLED_BACK, weight=0.0, reason=why
                )
                spec = dataclasses.replace(current.spec, canary=Canary(target=target, weight=0.0))
                saved = self._record(
                    current,
                    dataclasses.replace(after, spec=spec, rollout=refused),
                    actor=actor,
                    action="promotion-refused",
                    reason=why,
                )
                self._alert(saved, why)
                return Decision(action=Action.ROLLBACK, status=refused, reason=why)
            spec = dataclasses.replace(current.spec, canary=None)
        else:
            spec = dataclasses.replace(current.spec, primary=target, canary=None)
        self._record(
            current,
            dataclasses.replace(after, spec=spec),
            actor=actor,
            action="promote",
            reason=reason,
            details={"promoted": f"{canary_version.name}/{canary_version.version}"},
        )
        return decision

    def promote(self, name: str, *, actor: str | None, reason: str | None = None) -> Deployment:
        """Promote the canary now (manual override): move the primary's alias through the promotion policy.

        Raises:
            InvalidState: there is no canary.
            PolicyViolation: the promotion policy refuses the version (nothing changes).
        """
        current = self.get(name)
        if current.spec.canary is None:
            raise InvalidState(f"Deployment {name!r} has no canary to promote.")
        status = RolloutStatus(
            phase=Phase.PROMOTED,
            step=0,
            weight=100.0,
            step_started_ms=self._clock(),
            reason=f"manual: {reason or ''}",
        )
        decision = Decision(action=Action.PROMOTE, status=status, reason=reason or "manual promotion")
        after = dataclasses.replace(current, rollout=status)
        result = self._promote(current, after, decision, actor=actor, reason=reason or "manual promotion")
        if result.action is Action.ROLLBACK:
            raise PolicyViolation(result.reason)
        return self.get(name)

    def rollback(self, name: str, *, actor: str | None, reason: str | None = None) -> Deployment:
        """Send the canary's traffic back to the primary now (manual override); the alias is not moved."""
        current = self.get(name)
        if current.spec.canary is None:
            raise InvalidState(f"Deployment {name!r} has no canary to roll back.")
        why = reason or "manual rollback"
        base = current.rollout or start_rollout(current.policy, now_ms=self._clock())
        status = dataclasses.replace(base, phase=Phase.ROLLED_BACK, weight=0.0, reason=why)
        spec = dataclasses.replace(current.spec, canary=Canary(target=current.spec.canary.target, weight=0.0))
        after = dataclasses.replace(current, spec=spec, rollout=status)
        return self._record(current, after, actor=actor, action="rollback", reason=why)

    def mark_health(
        self,
        name: str,
        *,
        degraded: bool,
        reason: str,
        models: Sequence[str] = (),
        actor: str = "serving",
    ) -> DeploymentEvent:
        """Record that a replica could not load a model of ``name`` (``degraded``) or serves it again.

        The routes in effect are untouched: a replica that cannot load a new model keeps serving the
        old one. The event (``degraded`` or ``recovered``) lands in the history and the audit log.
        """
        action = "degraded" if degraded else "recovered"
        event = self._repo.record_event(
            name,
            actor=actor,
            action=action,
            reason=reason,
            models=list(models),
            details={"degraded": degraded},
        )
        self._audited(actor, f"deployments.{action}", name, "alert" if degraded else "ok", {"reason": reason})
        return event

    def _alert(self, deployment: Deployment, message: str, *, analysis_doc: Any = None) -> None:
        alert = Alert(
            deployment=deployment.name,
            severity="critical",
            message=f"Canary of {deployment.name!r} rolled back: {message}",
            at_ms=self._clock(),
            details={"analysis": analysis_doc} if analysis_doc is not None else {},
        )
        self._repo.record_event(
            deployment.name,
            actor="rollout",
            action="alert",
            reason=alert.message,
            models=self._lineage(deployment),
            details={"severity": alert.severity, **alert.details},
        )
        self._audited("rollout", "deployments.alert", deployment.name, "alert", {"message": alert.message})
        if self._on_alert is not None:
            self._on_alert(alert)
