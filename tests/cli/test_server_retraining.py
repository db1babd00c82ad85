"""``loopml server --retrain-policies``: what the server could not do (or would do twice) is refused
before it starts, in one line."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Invoke


def test_retraining_options_are_checked_before_the_server_starts(invoke: Invoke, tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "churn.yaml").write_text("triggers:\n  schedule: {every: 7d}\n")

    alone = invoke("server", "--retrain-policies", str(policies))
    assert alone.code == 2 and "--monitor-every" in alone.err

    workers = invoke("server", "--monitor-every", "5m", "--workers", "2", "--retrain-policies", str(policies))
    assert workers.code == 2 and "one worker" in workers.err

    no_action = invoke("server", "--monitor-every", "5m", "--retrain-policies", str(policies))
    assert no_action.code == 2 and "churn" in no_action.err and "action" in no_action.err

    (policies / "churn.yaml").write_text("triggers:\n  schedule: {every: 7d}\naction: {pipelin: x.py}\n")
    typo = invoke("server", "--monitor-every", "5m", "--retrain-policies", str(policies))
    assert typo.code == 2 and "pipelin" in typo.err

    missing = invoke("server", "--monitor-every", "5m", "--retrain-policies", str(tmp_path / "absent"))
    assert missing.code == 2 and "absent" in missing.err
