"""``loopml serve`` executing stored deployments: routing, live following, hot swap, shadows, rollouts."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from loopml.deploy.policy import GateThresholds, RolloutPolicy
from loopml.deploy.rollout import Phase
from loopml.deploy.routing import choose_route
from loopml.deploy.spec import (
    ABArm,
    ABSplit,
    Canary,
    DeploymentSpec,
    Ensemble,
    EnsembleMember,
    EnsembleMethod,
    Shadow,
)
from loopml.errors import InvalidInput, NotFound
from loopml.inference.atypical import AtypicalCheck, AtypicalPolicy
from loopml.serving.background import serve_in_thread
from loopml.serving.config import ServeConfig, ServedDeployment
from loopml.serving.guards import ModelGuards
from loopml.serving.server import build_app
from tests.serving.deploy_world import World, make_world, row, serve_deployments


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def create(world: World, spec: DeploymentSpec, policy: RolloutPolicy | None = None) -> None:
    world.services.deployments.create(spec, policy, actor="ann")


def infer(client: httpx.Client, seed: int = 0, **kwargs: object) -> httpx.Response:
    return client.post("/v2/models/churn/infer", json=row(seed), **kwargs)  # type: ignore[arg-type]


def version_of(client: httpx.Client, seed: int = 0, **kwargs: object) -> str:
    response = infer(client, seed, **kwargs)
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["model_name"] == "churn"
    return str(doc["model_version"])


def eventually(check: Callable[[], bool], *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except AssertionError:  # not yet (e.g. a request still answered by the old route)
            pass
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_primary_and_canary_share_the_traffic_by_weight(world: World) -> None:
    spec = DeploymentSpec(
        name="churn", primary="models:/churn@champion", canary=Canary(target="models:/churn/2", weight=30)
    )
    create(world, spec)
    with serve_deployments(world, "churn") as replica:
        client = replica.client
        seen = Counter(version_of(client, i, headers={}) for i in range(300))
        assert set(seen) == {"1", "2"}
        assert 0.2 < seen["2"] / 300 < 0.4
        # the same request id always takes the same route (the id is hashed)
        body = {**row(1), "id": "fixed-id"}
        versions = {
            client.post("/v2/models/churn/infer", json=body).json()["model_version"] for _ in range(10)
        }
        expected = choose_route(spec, key=None, request_id="fixed-id").target
        assert versions == {"1" if expected.endswith("@champion") else "2"}
        # the other protocols reach the deployment too
        tf = client.post("/v1/models/churn:predict", json={"instances": [{"a": 0.1, "b": 0.2, "c": 0.3}]})
        assert tf.status_code == 200, tf.text
        meta = client.get("/v2/models/churn").json()
        assert meta["name"] == "churn" and set(meta["versions"]) == {"1", "2"}
        # a deployment picks the version itself
        pinned = client.post("/v2/models/churn/versions/1/infer", json=row(0))
        assert pinned.status_code == 404 and "deployment" in pinned.json()["error"]


def test_ab_split_is_sticky_by_header_or_input_field(world: World) -> None:
    arms = (
        ABArm(name="a", target="models:/churn/1", weight=50),
        ABArm(name="b", target="models:/churn/2", weight=50),
    )
    spec = DeploymentSpec(name="churn", primary="models:/churn/1", ab=ABSplit(key="user", arms=arms))
    create(world, spec)
    with serve_deployments(world, "churn") as replica:
        client = replica.client
        by_user: dict[str, set[str]] = {}
        for i in range(200):
            user = f"user-{i % 20}"
            by_user.setdefault(user, set()).add(version_of(client, i, headers={"user": user}))
        assert all(len(v) == 1 for v in by_user.values())  # sticky
        assert {v for vs in by_user.values() for v in vs} == {"1", "2"}
        for user, versions in by_user.items():
            arm = choose_route(spec, key=user, request_id="-").route
            assert versions == {"1" if arm == "a" else "2"}
    # keyed by an input field instead of a header
    world.services.deployments.apply(
        {
            "name": "churn",
            "primary": "models:/churn/1",
            "ab": {
                "key": "a",
                "arms": [
                    {"name": "a", "target": "models:/churn/1", "weight": 50},
                    {"name": "b", "target": "models:/churn/2", "weight": 50},
                ],
            },
        },
        actor="ann",
    )
    with serve_deployments(world, "churn") as replica:
        body = row(7)
        answers = {
            replica.client.post("/v2/models/churn/infer", json=body).json()["model_version"] for _ in range(8)
        }
        assert len(answers) == 1


def test_replicas_follow_traffic_changes_without_restart(world: World) -> None:
    create(world, DeploymentSpec(name="churn", primary="models:/churn@champion"))
    svc = world.services.deployments
    with serve_deployments(world, "churn") as replica:
        assert version_of(replica.client) == "1"
        svc.start_canary("churn", "models:/churn/2", actor="ann")
        svc.set_traffic("churn", weight=100, actor="ann")
        eventually(lambda: all(version_of(replica.client, i) == "2" for i in range(20)))
        svc.rollback("churn", actor="ann")
        eventually(lambda: all(version_of(replica.client, i) == "1" for i in range(20)))


@pytest.mark.slow
def test_one_hundred_alias_moves_under_load_fail_no_request(world: World) -> None:
    create(world, DeploymentSpec(name="churn", primary="models:/churn@champion"))
    registry = world.services.registry
    with serve_deployments(world, "churn", poll_s=0.05) as replica:
        url = str(replica.client.base_url)
        stop = threading.Event()
        outcomes: Counter[int] = Counter()

        def load() -> None:
            with httpx.Client(base_url=url, timeout=30) as c:
                i = 0
                while not stop.is_set():
                    outcomes[infer(c, i).status_code] += 1
                    i += 1

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for move in range(100):
                version = 2 if move % 2 == 0 else 1
                registry.set_alias("churn", "champion", version, actor="ann")
                eventually(lambda v=str(version): version_of(replica.client) == v)
        finally:
            stop.set()
            for t in threads:
                t.join()
    assert set(outcomes) == {200}, outcomes
    assert outcomes[200] > 100


def test_a_model_that_fails_to_load_leaves_the_old_one_serving(world: World) -> None:
    create(world, DeploymentSpec(name="churn", primary="models:/churn@champion"))
    svc = world.services.deployments
    with serve_deployments(world, "churn") as replica:
        assert version_of(replica.client) == "1"
        world.services.registry.set_alias("churn", "champion", 4, actor="ann")
        eventually(lambda: any(e.action == "degraded" for e in svc.history("churn")))
        event = next(e for e in svc.history("churn") if e.action == "degraded")
        assert "churn/4" in event.models and "did not load" in (event.reason or "")
        assert all(version_of(replica.client, i) == "1" for i in range(20))
        world.services.registry.set_alias("churn", "champion", 2, actor="ann")
        eventually(lambda: version_of(replica.client) == "2")
        assert any(e.action == "recovered" for e in svc.history("churn"))
        metrics = replica.client.get("/metrics").text
        assert 'loopml_serving_deployment_swaps_total{deployment="churn",result="failed"}' in metrics


def test_shadows_are_compared_and_never_answer(world: World) -> None:
    spec = DeploymentSpec(
        name="churn",
        primary="models:/churn@champion",
        shadows=(
            Shadow(name="broken", target="models:/churn/3"),
            Shadow(name="twin", target="models:/churn/1"),
        ),
    )
    create(world, spec, RolloutPolicy(interval_s=0.3, gates=GateThresholds(min_samples=20)))
    svc = world.services.deployments
    with serve_deployments(world, "churn") as replica:
        answers: Counter[tuple[int, str]] = Counter()

        def twin_agrees() -> bool:
            for i in range(20):
                r = infer(replica.client, i)
                answers[(r.status_code, r.json().get("model_version", ""))] += 1
            reports = {r["shadow"]: r for r in svc.get("churn").shadow_reports}
            gates = reports.get("twin", {}).get("gates", [])
            agreement = next((g for g in gates if g["gate"] == "agreement"), None)
            return agreement is not None and agreement["verdict"] == "pass" and agreement["value"] == 1.0

        eventually(twin_agrees, timeout=30)
        assert list(answers) == [(200, "1")]  # a failing shadow never fails (or answers for) the primary
        metrics = replica.client.get("/metrics").text
        assert (
            'loopml_serving_shadow_requests_total{deployment="churn",shadow="broken",status="error"}'
            in metrics
        )


def test_ensemble_routes(world: World) -> None:
    members = (EnsembleMember(target="models:/churn/1"), EnsembleMember(target="models:/churn/2"))
    spec = DeploymentSpec(
        name="churn",
        primary="both",
        ensembles=(Ensemble(name="both", method=EnsembleMethod.MEAN, members=members),),
    )
    create(world, spec)
    create(world, DeploymentSpec(name="one", primary="models:/churn/1"))
    create(world, DeploymentSpec(name="two", primary="models:/churn/2"))

    def proba(client: httpx.Client, name: str) -> list[float]:
        doc = client.post(f"/v2/models/{name}/infer", json=row(5)).json()
        return next(o["data"] for o in doc["outputs"] if o["name"] == "predict_proba")

    with serve_deployments(world, "churn", "one", "two") as replica:
        both, one, two = (proba(replica.client, n) for n in ("churn", "one", "two"))
    assert both == pytest.approx([(x + y) / 2 for x, y in zip(one, two, strict=True)])
    assert one != pytest.approx(two)


def test_serving_drives_the_rollout_and_rolls_back_a_failing_canary(world: World) -> None:
    policy = RolloutPolicy(
        steps=(50, 100), hold_s=0, min_requests=10, interval_s=0.5, gates=GateThresholds(min_samples=20)
    )
    create(world, DeploymentSpec(name="churn", primary="models:/churn@champion"), policy)
    svc = world.services.deployments
    svc.start_canary("churn", "models:/churn/3", actor="ann")  # every request to v3 fails
    with serve_deployments(world, "churn") as replica:
        codes = Counter(infer(replica.client, i).status_code for i in range(120))
        assert codes[400] > 20  # the canary's failures reach its callers until the gates act
        eventually(
            lambda: (
                (svc.get("churn").rollout or None) is not None
                and svc.get("churn").rollout.phase is Phase.ROLLED_BACK
            )
        )  # type: ignore[union-attr]
        deployment = svc.get("churn")
        assert deployment.spec.canary is not None and deployment.spec.canary.weight == 0
        assert any(e.action == "analysis-rollback" and e.actor == "serving" for e in svc.history("churn"))
        eventually(lambda: any(e.action == "alert" for e in svc.history("churn")))  # raised just after
        eventually(lambda: all(version_of(replica.client, i) == "1" for i in range(20)))


def test_serving_a_missing_deployment_is_refused(world: World) -> None:
    config = ServeConfig(models=(), deployments=(ServedDeployment(name="nope"),), prediction_log=False)
    with pytest.raises(NotFound, match="deploy create"):
        build_app(config, world.settings)


def test_observations_record_each_route(world: World) -> None:
    spec = DeploymentSpec(
        name="churn", primary="models:/churn@champion", canary=Canary(target="models:/churn/2", weight=50)
    )
    create(world, spec)
    with serve_deployments(world, "churn") as replica:
        for i in range(40):
            version_of(replica.client, i)
        obs = replica.runtime.collector("churn").observations(now_ms=int(time.time() * 1000))
    primary, canary = obs.route("primary"), obs.route("canary")
    assert primary.requests + canary.requests == 40 and primary.requests > 5 and canary.requests > 5
    assert len(primary.latencies_ms) == primary.requests and primary.errors == 0
    assert set(primary.predictions) <= {0.0, 1.0}


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ({"deployments": ["9lives"]}, "deployments[].name"),
        ({"deployments": ["churn", "churn"]}, "more than once"),
        ({"deployments": [{"name": "churn", "weight": 5}]}, "unknown key(s) ['weight']"),
        ({"deployments": "churn"}, "must be a list"),
        ({"deployments": ["churn"], "poll_s": 0}, "poll_s"),
        ({"deployments": [{"name": "churn", "atypical": {"policy": "shout"}}]}, "policy"),
        ({}, "--deployment NAME"),
    ],
)
def test_bad_serve_configuration_is_refused(doc: dict[str, object], words: str) -> None:
    with pytest.raises(InvalidInput) as info:
        ServeConfig.from_mapping(doc)
    assert words in str(info.value)


def test_serve_yaml_reads_deployments_and_their_guards() -> None:
    config = ServeConfig.from_mapping(
        {"deployments": ["churn", {"name": "census", "atypical": {"policy": "flag"}}], "poll_s": 0.5}
    )
    assert [d.name for d in config.deployments] == ["churn", "census"]
    assert config.deployments[1].guards.atypical is not None and config.poll_s == 0.5


def test_atypical_flags_of_a_deployment_are_observed(world: World) -> None:
    create(world, DeploymentSpec(name="churn", primary="models:/churn@champion"))
    config = ServeConfig(
        models=(),
        deployments=(
            ServedDeployment(
                name="churn", guards=ModelGuards(atypical=AtypicalCheck(policy=AtypicalPolicy.FLAG))
            ),
        ),
        prediction_log=False,
    )
    app = build_app(config, world.settings)
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as client:
        far = {"inputs": [{"name": c, "shape": [1], "datatype": "FP64", "data": [1e6]} for c in "abc"]}
        assert client.post("/v2/models/churn/infer", json=far).status_code == 200
        assert client.post("/v2/models/churn/infer", json=row(1)).status_code == 200
        observed = app.state.plane.deployments.collector("churn").observations(now_ms=int(time.time() * 1000))
    assert observed.route("primary").requests == 2 and observed.route("primary").atypical_flags == 1
