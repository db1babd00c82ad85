"""A synthetic prediction log with known truth, for the monitoring tests."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loopml.monitor import prediction_table, write_prediction_table

T0 = dt.datetime(2026, 3, 1, 0, tzinfo=dt.UTC)


@dataclass
class Logged:
    """What was logged in one hour: request ids, true labels and predictions (one row per request)."""

    ids: list[str]
    truth: np.ndarray
    predicted: np.ndarray


def log_hour(
    root: Path,
    hour: int,
    *,
    n: int = 400,
    shift: float = 0.0,
    seed: int = 0,
    model: str = "churn",
    version: str = "1",
    regression: bool = False,
    files: int = 2,
    shift_city: str | None = None,
) -> Logged:
    """Log ``n`` one-row requests of a calibrated binary classifier (or a regressor) during ``hour``.

    ``x`` moves by ``shift`` on every row, or only on the rows of ``shift_city`` when it is given.
    """
    rng = np.random.default_rng(seed * 1000 + hour)
    x = rng.normal(loc=shift if shift_city is None else 0.0, size=n)
    city = rng.choice(np.array(["nice", "lyon", "paris"], dtype=object), size=n, p=[0.5, 0.3, 0.2])
    if shift_city is not None:
        x = x + np.where(city == shift_city, shift, 0.0)
    p1 = 1 / (1 + np.exp(-2 * x))
    truth = (rng.random(n) < p1).astype(np.int64)
    start = np.datetime64((T0 + dt.timedelta(hours=hour)).replace(tzinfo=None), "ms")
    times = start + np.sort(rng.integers(0, 3_600_000, size=n)).astype("timedelta64[ms]")
    ids = [f"h{hour}-r{i}" for i in range(n)]
    if regression:
        value = 3 * x + rng.normal(scale=0.1, size=n)
        outputs = {"predict": 3 * x}
        truth_out: np.ndarray = value
        predicted = 3 * x
    else:
        predicted = (p1 > 0.5).astype(np.int64)
        outputs = {"predict": predicted, "predict_proba": np.c_[1 - p1, p1]}
        truth_out = truth
    flags = [("out_of_range:x",) if abs(v) > 3 else () for v in x]
    bounds = np.linspace(0, n, files + 1).astype(int)
    for a, b in itertools.pairwise(bounds):
        write_prediction_table(
            root,
            prediction_table(
                model=model,
                version=version,
                request_ids=ids[a:b],
                times=times[a:b],
                protocols=["v2"] * (b - a),
                principals=[None] * (b - a),
                latency_ms=list(rng.gamma(2.0, 2.0, size=b - a)),
                sizes=[1] * (b - a),
                inputs={"x": x[a:b], "city": city[a:b]},
                outputs={k: v[a:b] for k, v in outputs.items()},
                flags=flags[a:b],
            ),
        )
    return Logged(ids=ids, truth=truth_out, predicted=predicted)
