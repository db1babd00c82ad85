"""The deployment service over a real store and registry: validation, history, audit, rollout, overrides."""

from __future__ import annotations

import numpy as np
import pytest

from loopml.deploy.observations import Observations, RouteObservations, Window
from loopml.deploy.policy import RolloutPolicy
from loopml.deploy.records import Alert
from loopml.deploy.rollout import Action, Phase
from loopml.deploy.service import DeploymentService
from loopml.deploy.spec import Canary, DeploymentSpec, Shadow
from loopml.errors import Conflict, InvalidInput, InvalidState, PolicyViolation
from tests.deploy.conftest import World

P = "models:/churn@champion"
FAST = RolloutPolicy(steps=(50, 100), hold_s=0, min_requests=0, interval_s=60)


def healthy(seed: int) -> Observations:
    rng = np.random.default_rng(seed)

    def route(n: int) -> RouteObservations:
        return RouteObservations(
            requests=n,
            errors=0,
            latencies_ms=tuple(10 + rng.lognormal(2, 0.3, n)),
            predictions=tuple(rng.beta(2, 5, n)),
        )

    return Observations(
        window=Window(start_ms=0, end_ms=60_000), routes={"primary": route(3000), "canary": route(3000)}
    )


def failing() -> Observations:
    obs = healthy(1)
    routes = dict(obs.routes)
    c = routes["canary"]
    routes["canary"] = RouteObservations(
        requests=c.requests, errors=300, latencies_ms=c.latencies_ms, predictions=c.predictions
    )
    return Observations(window=obs.window, routes=routes)


def service(world: World, alerts: list[Alert] | None = None) -> DeploymentService:
    s = world.services
    return DeploymentService(
        s.store.deployments, s.registry, audit=s.audit, on_alert=None if alerts is None else alerts.append
    )  # type: ignore[attr-defined]


def test_create_resolves_models_and_records_lineage(world: World) -> None:
    svc = service(world)
    d = svc.create(DeploymentSpec(name="churn", primary=P), actor="ann")
    assert (d.revision, d.created_by, d.spec.primary) == (1, "ann", P)
    [event] = svc.history("churn")
    assert (event.action, event.actor, event.models) == ("create", "ann", ("churn/1",))
    assert [e.action for e in world.services.audit.list(action="deployments.*")] == ["deployments.create"]
    with pytest.raises(Conflict):
        svc.create(DeploymentSpec(name="churn", primary=P), actor="bob")


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (DeploymentSpec(name="x", primary="models:/churn/9"), "`primary` names models:/churn/9"),
        (
            DeploymentSpec(name="x", primary=P, canary=Canary(target="models:/nope@a", weight=1)),
            "`canary.target`",
        ),
        (DeploymentSpec(name="x", primary="models:/churn@staging"), "no alias 'staging'"),
    ],
)
def test_missing_models_are_refused_and_nothing_is_stored(
    world: World, spec: DeploymentSpec, words: str
) -> None:
    svc = service(world)
    with pytest.raises(InvalidInput, match=words.replace("[", r"\[")):
        svc.create(spec, actor="ann")
    assert svc.list() == []


def test_a_tampered_package_is_unverifiable(world: World) -> None:
    svc = service(world)
    version = world.services.registry.resolve("models:/churn/2")
    root = world.home / "artifacts" / "sha256"
    victims = [p for p in root.rglob("*") if p.is_file() and p.name != version.manifest_sha256[2:]]
    assert victims
    for p in victims:
        p.chmod(0o644)
        p.write_bytes(b"tampered")
    with pytest.raises(InvalidInput, match="cannot be verified"):
        svc.create(DeploymentSpec(name="x", primary="models:/churn/2"), actor="ann")
    assert svc.list() == []


def test_apply_is_idempotent_and_shows_the_diff(world: World) -> None:
    svc = service(world)
    doc = {"name": "churn", "primary": P, "canary": {"target": "models:/churn/2", "weight": 5}}
    first = svc.apply(doc, actor="ann")
    assert first.created and "+ canary.weight: 5" in first.diff
    again = svc.apply(doc, actor="ann")
    assert (again.changed, again.diff, again.deployment.revision) == (False, (), 1)
    third = svc.apply({**doc, "canary": {"target": "models:/churn/2", "weight": 25}}, actor="bob")
    assert third.diff == ("~ canary.weight: 5 -> 25",) and third.deployment.revision == 2
    with pytest.raises(InvalidInput, match=r"canary\.wieght"):
        svc.apply({**doc, "canary": {"target": "models:/churn/2", "wieght": 25}}, actor="bob")
    assert svc.get("churn").revision == 2


def test_failed_gate_rolls_back_at_once_raises_an_alert_and_keeps_the_alias(world: World) -> None:
    alerts: list[Alert] = []
    svc = service(world, alerts)
    svc.create(DeploymentSpec(name="churn", primary=P), FAST, actor="ann")
    started = svc.start_canary("churn", "models:/churn/2", actor="ann")
    assert started.spec.canary == Canary(target="models:/churn/2", weight=50)
    decision = svc.analyze("churn", failing())
    assert decision.action is Action.ROLLBACK
    d = svc.get("churn")
    assert d.spec.canary is not None and d.spec.canary.weight == 0
    assert (
        d.rollout is not None
        and d.rollout.phase is Phase.ROLLED_BACK
        and "error_rate failed" in d.rollout.reason
    )
    assert d.last_analysis is not None and d.last_analysis.verdict.value == "fail"
    assert world.services.registry.resolve(P).version == 1
    assert len(alerts) == 1 and "error_rate" in alerts[0].message
    actions = [e.action for e in svc.history("churn")]
    assert actions == ["create", "canary", "analysis-rollback", "alert"]
    with pytest.raises(InvalidState, match="no canary rollout in progress"):
        svc.analyze("churn", healthy(2))


def test_healthy_canary_is_promoted_through_the_promotion_policy(world: World) -> None:
    svc = service(world)
    svc.create(DeploymentSpec(name="churn", primary=P), FAST, actor="ann")
    svc.start_canary("churn", "models:/churn/2", actor="ann")
    assert svc.analyze("churn", healthy(3)).action is Action.PROMOTE
    assert world.services.registry.resolve(P).version == 2
    d = svc.get("churn")
    assert d.spec.canary is None and d.rollout is not None and d.rollout.phase is Phase.PROMOTED
    promote = svc.history("churn")[-1]
    assert (promote.action, promote.details["promoted"], promote.models) == (
        "promote",
        "churn/2",
        ("churn/2",),
    )


def test_unblessed_canary_is_refused_at_promotion_and_rolled_back(world: World) -> None:
    alerts: list[Alert] = []
    svc = service(world, alerts)
    svc.create(DeploymentSpec(name="churn", primary=P), FAST, actor="ann")
    svc.start_canary("churn", "models:/churn/3", actor="ann")
    decision = svc.analyze("churn", healthy(4))
    assert decision.action is Action.ROLLBACK and "promotion refused" in decision.reason
    assert world.services.registry.resolve(P).version == 1
    assert svc.get("churn").spec.canary == Canary(target="models:/churn/3", weight=0)
    assert alerts


def test_manual_overrides(world: World) -> None:
    svc = service(world)
    svc.create(DeploymentSpec(name="churn", primary=P), FAST, actor="ann")
    svc.start_canary("churn", "models:/churn/3", actor="ann")
    manual = svc.set_traffic("churn", weight=30, actor="ann", reason="by hand")
    assert manual.rollout is None and manual.spec.canary is not None and manual.spec.canary.weight == 30
    back = svc.rollback("churn", actor="bob", reason="looks odd")
    assert back.spec.canary is not None and back.spec.canary.weight == 0 and back.rollout is not None
    with pytest.raises(PolicyViolation):
        svc.promote("churn", actor="bob")  # v3 is not blessed: the policy refuses, alias unmoved
    assert world.services.registry.resolve(P).version == 1
    svc.start_canary("churn", "models:/churn/2", actor="ann")
    svc.promote("churn", actor="bob", reason="ship it")
    assert world.services.registry.resolve(P).version == 2
    shadowed = svc.set_shadow("churn", "next", target="models:/churn/3", mirror_percent=10, actor="ann")
    assert [(s.name, s.mirror_percent) for s in shadowed.spec.shadows] == [("next", 10.0)]
    assert svc.set_shadow("churn", "next", target=None, actor="ann").spec.shadows == ()
    audit = [e.action for e in world.services.audit.list(action="deployments.*", limit=100)]
    assert "deployments.rollback" in audit and "deployments.promote" in audit


def mirrored(agreeing: int, n: int, *, end_ms: int) -> Observations:
    pairs = tuple((1.0, 1.0 if i < agreeing else 0.0) for i in range(n))
    twin = RouteObservations(
        requests=n, latencies_ms=(5.0,) * n, predictions=tuple(b for _, b in pairs), mirrored=pairs
    )
    return Observations(window=Window(start_ms=end_ms - 60_000, end_ms=end_ms), routes={"twin": twin})


def test_shadow_reports_spend_a_revision_only_when_they_change(world: World) -> None:
    svc = service(world)
    spec = DeploymentSpec(name="churn", primary=P, shadows=(Shadow(name="twin", target="models:/churn/1"),))
    svc.create(spec, FAST, actor="ann")
    first = svc.report_shadows("churn", mirrored(990, 1000, end_ms=60_000))
    assert first.revision == 2 and first.shadow_reports[0]["gates"][0]["value"] == 0.99
    # the next windows say the same (agreement within 0.01 of the stored, same verdicts): nothing stored
    for i, agreeing in enumerate((994, 985, 990), start=2):
        same = svc.report_shadows("churn", mirrored(agreeing, 1000, end_ms=60_000 * i))
        assert same.revision == 2 and same.shadow_reports == first.shadow_reports
    # a value that moved by 0.01 or more, or a new verdict, is stored
    moved = svc.report_shadows("churn", mirrored(975, 1000, end_ms=300_000))
    assert moved.revision == 3 and moved.shadow_reports[0]["gates"][0]["value"] == 0.975
    failing = svc.report_shadows("churn", mirrored(900, 1000, end_ms=360_000))
    assert failing.revision == 4 and failing.shadow_reports[0]["gates"][0]["verdict"] == "fail"
    assert [e.action for e in svc.history("churn")].count("shadow-report") == 3
