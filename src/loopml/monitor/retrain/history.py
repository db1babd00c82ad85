"""The recorded retrainings of a deployment, with their steps, as JSON-ready documents (CLI, API)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from loopml.store.entities import RetrainStep, StoredRetrain
from loopml.store.repositories import RetrainRepository

__all__ = ["retrain_history"]


def _time(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _step(step: RetrainStep) -> dict[str, Any]:
    return {"at": _time(step.at), "kind": step.kind, "outcome": step.outcome, "details": dict(step.details)}


def _run(run: StoredRetrain, steps: list[RetrainStep]) -> dict[str, Any]:
    return {
        "retrain_id": run.retrain_id,
        "deployment": run.deployment,
        "state": run.state,
        "attempt": run.attempt,
        "retry_of": run.retry_of,
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "span": {"start": _time(run.span_start), "end": _time(run.span_end)},
        "triggers": [dict(t) for t in run.triggers],
        "alert_ids": list(run.alert_ids),
        "champion": run.champion,
        "candidate": run.candidate,
        "reason": run.reason,
        "steps": [_step(s) for s in steps],
    }


def retrain_history(
    retrains: RetrainRepository, deployment: str, *, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest ``limit`` retrainings of ``deployment``, oldest first, each with its recorded steps.

    Times are ISO 8601 (UTC); ``started_at`` is the monitoring time the retraining started at.
    """
    runs = retrains.list(deployment)[-limit:]
    return [_run(run, retrains.steps(run.retrain_id)) for run in runs]
