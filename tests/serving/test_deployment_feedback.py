"""The online-metric gate in ``loopml serve``: feedback labels posted over HTTP judge the canary."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from loopml.deploy.gates import GateResult, Verdict
from loopml.deploy.outcomes import feedback_labels, key_strings
from loopml.deploy.policy import GateThresholds, OnlineMetric, RolloutPolicy
from loopml.deploy.rollout import Phase
from loopml.deploy.service import DeploymentService
from loopml.deploy.spec import DeploymentSpec
from loopml.inference.outputs import SCORES
from tests.serving.deploy_world import COLUMNS, World, make_world, row, serve_deployments

REQUESTS = 240


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def truth(seed: int) -> int:
    """The true class of ``row(seed)`` (the rule the healthy models were fitted on)."""
    a, b, _ = np.random.default_rng(seed).normal(size=3)
    return int(a - b > 0)


def start(
    world: World,
    canary: str,
    metric: OnlineMetric = OnlineMetric.ACCURACY,
    label_key_field: str | None = None,
) -> DeploymentService:
    # a long hold: an undecided analysis holds without counting, so the test decides when labels come
    gates = GateThresholds(
        min_samples=20,
        min_labels=40,
        metric=metric,
        max_metric_degradation=0.05,
        max_p99_increase_ms=1_000,
        max_prediction_drift=1.0,
        label_key_field=label_key_field,
    )
    policy = RolloutPolicy(steps=(50, 100), hold_s=3_600, min_requests=0, interval_s=0.3, gates=gates)
    svc = world.services.deployments
    svc.create(DeploymentSpec(name="churn", primary="models:/churn@champion"), policy, actor="ann")
    svc.start_canary("churn", canary, actor="ann")
    return svc


def online_gate(svc: DeploymentService) -> GateResult | None:
    analysis = svc.get("churn").last_analysis
    if analysis is None:
        return None
    return next((g for g in analysis.gates if g.gate == "online_metric"), None)


def wait_for(check: object, *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def answer_then_label(client: httpx.Client, svc: DeploymentService) -> None:
    """Send requests with ids, see the gate wait for labels, then post the true classes (late)."""
    for i in range(REQUESTS):
        r = client.post("/v2/models/churn/infer", json={**row(i), "id": f"q{i}"})
        assert r.status_code == 200, r.text
    wait_for(lambda: (g := online_gate(svc)) is not None and g.verdict is Verdict.NO_DATA and g.canary_n == 0)
    labels = [{"request_id": f"q{i}", "label": truth(i)} for i in range(REQUESTS)]
    posted = client.post("/v2/models/churn/feedback", json={"labels": labels})
    assert posted.status_code == 200, posted.text
    assert posted.json()["inserted"] == REQUESTS


def test_a_canary_worse_on_labels_is_rolled_back_by_the_online_metric(world: World) -> None:
    svc = start(world, "models:/churn/2")  # fitted on the flipped labels: wrong most of the time
    with serve_deployments(world, "churn") as replica:
        answer_then_label(replica.client, svc)
        wait_for(lambda: svc.get("churn").rollout.phase is Phase.ROLLED_BACK)  # type: ignore[union-attr]
    deployment = svc.get("churn")
    assert deployment.rollout is not None and deployment.spec.canary is not None
    assert deployment.spec.canary.weight == 0
    assert deployment.rollout.reason.startswith("online_metric failed: accuracy canary")
    gate = online_gate(svc)
    assert gate is not None and gate.verdict is Verdict.FAIL
    assert gate.primary_n >= 40 and gate.canary_n >= 40
    assert gate.primary_n + gate.canary_n == REQUESTS  # every labelled prediction, on the route that made it
    assert gate.value is not None and gate.value > 0.5  # the canary's accuracy loss
    event = next(e for e in svc.history("churn") if e.action == "analysis-rollback")
    assert event.actor == "serving" and "online_metric" in (event.reason or "")


def test_an_equal_canary_with_enough_labels_passes_the_online_metric(world: World) -> None:
    svc = start(world, "models:/churn/1")  # the champion itself, as a canary
    with serve_deployments(world, "churn") as replica:
        answer_then_label(replica.client, svc)
        wait_for(lambda: (g := online_gate(svc)) is not None and g.verdict is not Verdict.NO_DATA)
    gate = online_gate(svc)
    assert gate is not None and gate.verdict is Verdict.PASS, gate
    assert gate.primary_n + gate.canary_n == REQUESTS and min(gate.primary_n, gate.canary_n) >= 40
    deployment = svc.get("churn")
    assert deployment.rollout is not None and deployment.rollout.phase is Phase.PROGRESSING


def test_auc_ranks_the_routes_probabilities_which_the_answers_do_not_carry(world: World) -> None:
    svc = start(world, "models:/churn/1", OnlineMetric.AUC)  # the champion itself, as a canary
    with serve_deployments(world, "churn") as replica:
        answer = replica.client.post("/v2/models/churn/infer", json=row(0)).json()
        assert SCORES not in {o["name"] for o in answer["outputs"]}  # internal: never answered
        answer_then_label(replica.client, svc)
        wait_for(lambda: (g := online_gate(svc)) is not None and g.verdict is not Verdict.NO_DATA)
        observed = replica.runtime.collector("churn").observations(
            now_ms=int(time.time() * 1000),
            labels=feedback_labels(world.services.monitor_store.feedback, "churn"),
        )
    gate = online_gate(svc)
    assert gate is not None and gate.verdict is Verdict.PASS, gate
    assert "auc canary" in gate.detail
    outcomes = observed.route("primary").outcomes
    assert outcomes and all(o.score is not None and 0 < o.score < 1 for o in outcomes)
    assert len({o.score for o in outcomes}) > 2  # probabilities, not the hard 0/1 labels
    assert {o.positive for o in outcomes} == {1.0}


def test_labels_posted_by_an_input_feature_key_judge_the_canary(world: World) -> None:
    key_field = COLUMNS[2]  # an input feature standing in for a customer id
    svc = start(world, "models:/churn/2", label_key_field=key_field)  # the flipped model
    with serve_deployments(world, "churn") as replica:
        for i in range(REQUESTS):  # no request ids the labels could name
            assert replica.client.post("/v2/models/churn/infer", json=row(i)).status_code == 200
        wait_for(lambda: (g := online_gate(svc)) is not None and g.verdict is Verdict.NO_DATA)
        keys = key_strings(np.array([np.random.default_rng(i).normal(size=3)[2] for i in range(REQUESTS)]))
        labels = [{"key": k, "label": truth(i)} for i, k in enumerate(keys)]
        posted = replica.client.post(
            "/v2/models/churn/feedback", json={"key_field": key_field, "labels": labels}
        )
        assert posted.status_code == 200, posted.text
        wait_for(lambda: svc.get("churn").rollout.phase is Phase.ROLLED_BACK)  # type: ignore[union-attr]
    gate = online_gate(svc)
    assert gate is not None and gate.verdict is Verdict.FAIL
    assert gate.primary_n + gate.canary_n == REQUESTS  # every row found its label by its key
