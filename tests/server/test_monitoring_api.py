"""``GET /api/v1/deployments/{name}/windows|monitoring|alerts|retrains``: monitoring queryable over HTTP."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx

from loopml.deploy.policy import RolloutPolicy
from loopml.deploy.spec import DeploymentSpec
from loopml.monitor.windows import MonitorConfig
from loopml.server.background import serve_in_thread
from tests.monitor.simulate import T0, log_hour
from tests.serving.deploy_world import make_world


def test_windows_status_alerts_and_retrainings_over_http(tmp_path: Path) -> None:
    for world in make_world(tmp_path):
        services = world.services
        services.deployments.create(
            DeploymentSpec(name="churn", primary="models:/churn@champion"), RolloutPolicy(), actor="ann"
        )
        for h in range(3):
            log_hour(world.home / "predictions", h, n=200, shift=2.0 if h >= 1 else 0.0)
        monitor = services.monitor()
        monitor.run(
            monitor.target("churn"), MonitorConfig(slice_columns=("city",)), now=T0 + dt.timedelta(days=1)
        )
        services.alerts().evaluate(monitor.windows(monitor.target("churn")))
        retrains = services.monitor_store.retrains
        run = retrains.create(
            deployment="churn", started_at=1, span_start=0, span_end=1, triggers=[{"kind": "drift"}],
            alert_ids=[], champion="models:/churn@champion",
        )  # fmt: skip
        retrains.add_step(run.retrain_id, kind="pipeline", outcome="failed", details={"error": "disk full"})
        settings = world.settings

    with serve_in_thread(settings) as url, httpx.Client(base_url=url + "/api/v1") as client:
        windows = client.get("/deployments/churn/windows", params={"window": "hour"}).json()["windows"]
        assert [w["start"][11:16] for w in windows] == ["00:00", "01:00", "02:00"]
        assert (
            windows[1]["metrics"]["drift_features"] >= 1
            and "slice.city=nice.drift.x" in windows[1]["metrics"]
        )
        assert len(client.get("/deployments/churn/windows", params={"limit": 1}).json()["windows"]) == 1

        status = client.get("/deployments/churn/monitoring").json()
        assert status["windows"] == 3 and status["latest"]["start"] == windows[-1]["start"]

        alerts = client.get("/deployments/churn/alerts", params={"open": "true"}).json()["alerts"]
        assert "baseline-drift" in [a["rule"] for a in alerts]

        [retrain] = client.get("/deployments/churn/retrains").json()["retrains"]
        assert retrain["retrain_id"] == run.retrain_id and retrain["state"] == "running"
        assert (
            retrain["steps"][0]["outcome"] == "failed"
            and retrain["steps"][0]["details"]["error"] == "disk full"
        )

        missing = client.get("/deployments/ghost/windows")
        assert missing.status_code == 404
        bad = client.get("/deployments/churn/windows", params={"window": "weekly"})
        assert bad.status_code == 422 and "query.window" in bad.text
