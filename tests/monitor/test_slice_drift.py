"""Per-slice drift, Holm-corrected over a window's (slice, feature) pairs, and the default rule reading it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from loopml.monitor import prediction_table, write_prediction_table
from loopml.monitor.alerts import alert_timeline, default_rules
from loopml.monitor.records import WindowRecord
from loopml.monitor.service import MonitorService
from loopml.monitor.slice_drift import FAMILY_ALPHA, holm
from loopml.monitor.targets import Target
from loopml.monitor.windows import MonitorConfig
from loopml.store.sql import SqlStore, open_store
from tests.monitor.simulate import T0

SHOP = Target(deployment="shop", model="shop")
REGIONS = ("north", "south", "east", "west", "centre")
PLANS = ("free", "basic", "pro")


@pytest.fixture
def store() -> Iterator[SqlStore]:
    with open_store("sqlite://") as opened:
        yield opened


def _log_hour(root: Path, hour: int, *, seed: int, shift_region: str | None = None, n: int = 600) -> None:
    """``n`` requests with four numeric features and two slice columns (5 regions, 3 plans); with
    ``shift_region``, ``spend`` moves by two standard deviations for that region's rows only."""
    rng = np.random.default_rng(seed * 10_000 + hour)
    region = rng.choice(np.array(REGIONS, dtype=object), size=n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    plan = rng.choice(np.array(PLANS, dtype=object), size=n, p=[0.5, 0.3, 0.2])
    spend = rng.normal(50, 10, size=n)
    if shift_region is not None:
        spend = spend + np.where(region == shift_region, 20.0, 0.0)
    inputs = {
        "spend": spend,
        "age": rng.normal(40, 12, size=n),
        "visits": rng.poisson(3.0, size=n).astype(np.float64),
        "tenure": rng.exponential(2.0, size=n),
        "region": region,
        "plan": plan,
    }
    p1 = 1 / (1 + np.exp(-(inputs["spend"] - 50) / 10))
    start = np.datetime64((T0 + dt.timedelta(hours=hour)).replace(tzinfo=None), "ms")
    times = start + np.sort(rng.integers(0, 3_600_000, size=n)).astype("timedelta64[ms]")
    write_prediction_table(
        root,
        prediction_table(
            model="shop",
            version="1",
            request_ids=[f"s{seed}-h{hour}-r{i}" for i in range(n)],
            times=times,
            protocols=["v2"] * n,
            principals=[None] * n,
            latency_ms=[1.0] * n,
            sizes=[1] * n,
            inputs=inputs,
            outputs={"predict": (p1 > 0.5).astype(np.int64), "predict_proba": np.c_[1 - p1, p1]},
            flags=[()] * n,
        ),
    )


def _windows(store: SqlStore, root: Path) -> list[WindowRecord]:
    config = MonitorConfig(slice_columns=("region", "plan"))
    return MonitorService(store, log_root=root).run(SHOP, config, now=T0 + dt.timedelta(days=30))


def test_holm_adjusts_in_order_and_never_below_the_raw_p_values() -> None:
    raw = [0.01, 0.0001, 0.2, 0.02, 0.5]
    adjusted = holm(raw)
    assert adjusted == pytest.approx([0.04, 0.0005, 0.4, 0.06, 0.5])
    assert all(a >= r for a, r in zip(adjusted, raw, strict=True))
    assert holm([]) == [] and holm([0.9, 0.9]) == [1.0, 1.0]


@pytest.mark.slow
def test_stationary_sliced_windows_alarm_at_most_once_per_100(tmp_path: Path) -> None:
    """120 stationary hours in two runs of 60, sliced by region and plan: 8 slices of 6 features,
    96 comparisons a window, 48 of them against the previous window and 48 against the baseline.
    Uncorrected at the detector's own rate (0.002), about one window in six would alarm (1 - 0.998^96)."""
    records: list[WindowRecord] = []
    for seed in (1, 2):
        root = tmp_path / f"log{seed}"
        for h in range(60):
            _log_hour(root, h, seed=seed)
        with open_store("sqlite://") as fresh:
            records += _windows(fresh, root)
    assert len(records) == 120
    pairs = [r.metrics for r in records[1:60] + records[61:]]  # every window but each run's first
    assert all(len([k for k in m if k.endswith(".drift_pvalue.spend")]) == 8 for m in pairs)
    raw_alarms = sum(
        any(v < 0.002 for k, v in m.items() if "drift_pvalue." in k and "adjusted" not in k) for m in pairs
    )
    corrected = sum(m["slice_drift_features"] + m["slice_baseline_drift_features"] > 0 for m in pairs)
    assert corrected <= len(records) / 100 < raw_alarms  # the correction is what keeps the rate
    alerts = [e for e in alert_timeline(default_rules().rules, records) if e.rule == "slice-drift"]
    assert len(alerts) <= len(records) / 100


def test_a_shift_in_one_slice_is_flagged_there_only_and_the_default_rule_fires(
    store: SqlStore, tmp_path: Path
) -> None:
    """``spend`` moves for the west (a sixth of the traffic) from hour 4 on."""
    for h in range(7):
        _log_hour(tmp_path, h, seed=3, shift_region="west" if h >= 4 else None)
    records = _windows(store, tmp_path)
    for r in records[1:4]:
        assert r.metrics["slice_drift_features"] == 0 and r.metrics["slice_baseline_drift_features"] == 0
    for r in records[4:]:
        assert r.drifted_slices("baseline_drift") == {"region=west": 1.0}
        m = r.metrics
        raw = m["slice.region=west.baseline_drift_pvalue.spend"]
        adjusted = m["slice.region=west.baseline_drift_adjusted_pvalue.spend"]
        assert raw <= adjusted < FAMILY_ALPHA
        assert m["slice.region=south.baseline_drift_adjusted_pvalue.spend"] >= FAMILY_ALPHA
    assert records[4].drifted_slices("drift") == {"region=west": 1.0}  # the step, against the hour before
    assert records[5].drifted_slices("drift") == {}  # the same shifted data again
    episodes = [e for e in alert_timeline(default_rules().rules, records) if e.rule == "slice-drift"]
    assert [(e.metric, e.opened) for e in episodes] == [
        ("slice.region=west.baseline_drift_features", records[5].end)  # for: 2 windows
    ]
    assert episodes[0].evidence["windows"][0]["value"] == 1.0
