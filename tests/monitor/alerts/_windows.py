"""Synthetic window records with known truth (seeded), shared by the alert and retrain tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import numpy as np

from loopml.monitor.records import WindowRecord

T0 = datetime(2026, 3, 1, tzinfo=UTC)
FEATURES = ("age", "hours", "region", "income")


def window(
    i: int,
    metrics: Mapping[str, float],
    *,
    deployment: str = "churn",
    version: str = "1",
    hours: int = 1,
    complete: bool = True,
    rows: int = 2000,
) -> WindowRecord:
    """Window ``i`` (``hours`` long, starting at T0)."""
    return WindowRecord(
        deployment=deployment,
        model="churn",
        version=version,
        start=T0 + timedelta(hours=i * hours),
        end=T0 + timedelta(hours=(i + 1) * hours),
        complete=complete,
        rows=rows,
        metrics=dict(metrics),
    )


def stationary(
    rng: np.random.Generator, *, accuracy: float = 0.88, rows: int = 2000, labelled: int = 600
) -> dict[str, float]:
    """Metrics of a window drawn from an unchanged world: sampling noise only."""
    metrics = {f"drift.{f}": float(abs(rng.normal(0.0, 0.01))) for f in FEATURES}
    correct = rng.binomial(labelled, accuracy)
    metrics.update(
        accuracy=correct / labelled,
        estimated_accuracy=float(rng.binomial(rows, accuracy) / rows),
        error_rate=float(rng.binomial(rows, 0.002) / rows),
        atypical_rate=float(rng.binomial(rows, 0.01) / rows),
        labelled_rows=float(labelled),
        label_coverage=labelled / rows,
        latency_p99_ms=float(rng.normal(40, 3)),
    )
    return metrics


def series(
    seed: int,
    n: int,
    *,
    drop_at: int | None = None,
    drop: float = 0.15,
    drift_at: int | None = None,
    drift_feature: str = "hours",
    deployment: str = "churn",
    version: str = "1",
) -> list[WindowRecord]:
    """``n`` hourly windows: accuracy falls by ``drop`` at ``drop_at``, a feature drifts at ``drift_at``."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        dropped = drop_at is not None and i >= drop_at
        m = stationary(rng, accuracy=0.88 - (drop if dropped else 0.0))
        if drift_at is not None and i >= drift_at:
            m[f"drift.{drift_feature}"] = float(0.3 + abs(rng.normal(0, 0.02)))
        out.append(window(i, m, deployment=deployment, version=version))
    return out
