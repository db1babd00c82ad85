"""``loopml server --monitor-every --retrain-policies``: the platform server retrains in the background.

After each monitoring pass, a deployment with a retrain policy takes a step of the retrain loop on the
windows the pass stored: a drift trigger starts a retraining, recorded and linked to the open alerts;
a pipeline that fails keeps the champion serving, raises an alert, and is retried by the policy once
the monitoring time has moved past the retry delay; a guard never lets more runs through than it
allows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from loopml.deploy.policy import RolloutPolicy
from loopml.deploy.spec import DeploymentSpec
from loopml.errors import InvalidInput
from loopml.monitor.alerts import AlertService, AlertStatus
from loopml.monitor.retrain import RetrainState
from loopml.server import ServerConfig
from loopml.server.background import serve_in_thread
from loopml.services import Services
from loopml.store.entities import StoredRetrain
from tests.monitor.simulate import log_hour
from tests.serving.deploy_world import make_world

FAILING_PIPELINE = """
from loopml.pipeline import Dataset, Parameter, Pipeline, component


@component
def read_span(*, span_start: str = "", span_end: str = "") -> Dataset:
    raise RuntimeError(f"the upstream table for {span_start} .. {span_end} is not there")


pipeline = Pipeline(
    "churn-retrain",
    steps=[
        read_span(
            span_start=Parameter(name="span_start", type=str, default=""),
            span_end=Parameter(name="span_end", type=str, default=""),
        )
    ],
)
"""

POLICY = """
triggers:
  drift: {features: [x], above: 0.1, windows: 1}
guards: {cooldown: 30m, max_per_day: 2}
retry: {max_attempts: 2, delay: 1h}
action: {pipeline: retrain_pipeline.py, task: binary}
"""


def _wait_for(check: Callable[[], bool], what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _retrains(services: Services) -> list[StoredRetrain]:
    return services.monitor_store.retrains.list("churn")


def _finished(services: Services) -> int:
    return sum(r.state != RetrainState.RUNNING for r in _retrains(services))


def test_the_server_retrains_by_policy_and_a_failing_pipeline_is_retried(tmp_path: Path) -> None:
    for world in make_world(tmp_path):  # churn@champion, signed and blessed
        settings = world.settings
        world.services.deployments.create(
            DeploymentSpec(name="churn", primary="models:/churn@champion"), RolloutPolicy(), actor="ann"
        )
    home = settings.home
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "retrain_pipeline.py").write_text(FAILING_PIPELINE)
    (policies / "churn.yaml").write_text(POLICY)
    for h in range(4):  # the input x moves in the last hour: drift against the window before
        log_hour(home / "predictions", h, n=200, shift=2.0 if h == 3 else 0.0)

    config = ServerConfig(monitor_interval_s=0.2, retrain_policies=str(policies))
    with serve_in_thread(settings, config=config), Services(settings) as services:
        _wait_for(lambda: _finished(services) == 1, "the first retraining")
        first = _retrains(services)[0]
        time.sleep(1.0)  # several more passes: the retry is not due before the monitoring time moves on
        assert [r.retrain_id for r in _retrains(services)] == [first.retrain_id]

        for h in (4, 5):  # an hour and more of monitoring time later
            log_hour(home / "predictions", h, n=200, shift=2.0)
        _wait_for(lambda: _finished(services) == 2, "the retry")
        time.sleep(1.0)
        runs = _retrains(services)
        alerts = AlertService(services.monitor_store.alerts).list("churn", status=AlertStatus.OPEN)
        deployment = services.deployments.get("churn")
        steps = [(s.kind, s.outcome) for s in services.monitor_store.retrains.steps(first.retrain_id)]

    assert first.state == RetrainState.FAILED and first.attempt == 1
    assert "upstream table" in (first.reason or "") and "the champion keeps serving" in (first.reason or "")
    retry = runs[1]
    assert (retry.state, retry.attempt, retry.retry_of) == (RetrainState.FAILED, 2, first.retrain_id)
    assert "no attempts left" in (retry.reason or "")
    assert len(runs) == 2  # retries spent and the per-day guard: nothing more ran
    assert first.triggers[0]["kind"] == "drift"
    drift_alert = next(a for a in alerts if a.rule == "baseline-drift")  # the shift stayed two windows
    assert drift_alert.alert_id in retry.alert_ids  # the retraining is linked to the alerts open then
    failed = [a for a in alerts if a.rule == "retrain-failed"]
    assert len(failed) == 1 and failed[0].evidence["retrain_id"] in {first.retrain_id, retry.retrain_id}
    assert deployment.spec.primary == "models:/churn@champion" and deployment.spec.canary is None
    assert steps == [("trigger", "due"), ("data_quality", "passed"), ("pipeline", "failed")]


def test_retraining_needs_the_monitoring_passes() -> None:
    with pytest.raises(InvalidInput, match="monitor_interval_s"):
        ServerConfig(retrain_policies="policies")
