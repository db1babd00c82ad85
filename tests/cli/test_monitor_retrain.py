"""``loopml monitor retrain``: the retrain policy read against the stored windows, a dry run saying
what would happen, a pipeline that fails keeping the champion and raising an alert."""

from __future__ import annotations

import json
from pathlib import Path

from loopml.deploy.policy import RolloutPolicy
from loopml.deploy.spec import DeploymentSpec
from tests.cli.conftest import Invoke
from tests.monitor.simulate import log_hour
from tests.serving.deploy_world import make_world

NOW = "2026-03-03T00:00:00+00:00"


def test_retrain_by_policy_on_the_stored_windows(invoke: Invoke, home: Path, tmp_path: Path) -> None:
    for world in make_world(tmp_path):  # churn@champion, signed and blessed
        world.services.deployments.create(
            DeploymentSpec(name="churn", primary="models:/churn@champion"), RolloutPolicy(), actor="ann"
        )
    for h in range(3):
        log_hour(home / "predictions", h, n=200, shift=2.0 if h == 2 else 0.0)
    assert invoke("monitor", "run", "churn", "--now", NOW).code == 0
    policy = tmp_path / "churn.yaml"
    policy.write_text(
        "triggers:\n  drift: {features: [x], above: 0.1, windows: 1}\nguards: {max_per_day: 1}\n"
    )

    dry = invoke(
        "monitor",
        "retrain",
        "churn",
        "--policy",
        str(policy),
        "--pipeline",
        "absent.py",
        "--dry-run",
        "--json",
    )
    assert dry.code == 0, dry.err
    decisions = json.loads(dry.out)["decisions"]
    assert [d["kind"] for d in decisions] == ["retrain"] and decisions[0]["dry_run"]
    assert "drift" in decisions[0]["reason"]

    failed = invoke(
        "monitor", "retrain", "churn", "--policy", str(policy), "--pipeline", "absent.py", "--json"
    )
    assert failed.code == 0, failed.err
    assert [d["kind"] for d in json.loads(failed.out)["decisions"]] == ["failed"]
    alerts = json.loads(invoke("monitor", "alerts", "churn", "--open", "--json").out)["items"]
    assert "retrain-failed" in [a["rule"] for a in alerts]  # the champion keeps serving; someone is told

    held = invoke("monitor", "retrain", "churn", "--policy", str(policy), "--pipeline", "absent.py", "--json")
    kinds = [d["kind"] for d in json.loads(held.out)["decisions"]]
    assert "retrain" not in kinds and "canary" not in kinds  # the per-day guard (and retry policy) hold it

    typo = tmp_path / "typo.yaml"
    typo.write_text("triggers:\n  drfit: {features: [x]}\n")
    bad = invoke("monitor", "retrain", "churn", "--policy", str(typo), "--pipeline", "absent.py")
    assert bad.code == 2 and "drfit" in bad.err


def test_monitor_run_retrains_the_deployments_with_a_policy(
    invoke: Invoke, home: Path, tmp_path: Path
) -> None:
    for world in make_world(tmp_path):
        world.services.deployments.create(
            DeploymentSpec(name="churn", primary="models:/churn@champion"), RolloutPolicy(), actor="ann"
        )
    for h in range(3):
        log_hour(home / "predictions", h, n=200, shift=2.0 if h == 2 else 0.0)
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "churn.yaml").write_text(
        "triggers:\n  drift: {features: [x], above: 0.1}\naction: {pipeline: absent.py}\n"
    )
    (policies / "ghost.yaml").write_text(
        "triggers:\n  schedule: {every: 1d}\naction: {pipeline: absent.py}\n"
    )

    ran = invoke("monitor", "run", "--now", NOW, "--retrain-policies", str(policies), "--json")
    assert ran.code == 0, ran.err
    retraining = json.loads(ran.out)["retraining"]
    [failed] = retraining["decisions"]["churn"]
    assert failed["kind"] == "failed" and "absent.py" in failed["reason"]  # the champion keeps serving
    assert "ghost" in retraining["errors"] and "ghost" not in retraining["decisions"]

    again = invoke("monitor", "run", "churn", "--now", NOW, "--retrain-policies", str(policies))
    assert again.code == 0, again.err
    assert "Retraining" in again.out and "held" in again.out  # the retry waits for its delay

    (policies / "churn.yaml").write_text("triggers:\n  drift: {features: [x]}\n")
    bare = invoke("monitor", "run", "--now", NOW, "--retrain-policies", str(policies))
    assert bare.code == 2 and "churn" in bare.err and "action" in bare.err
