"""``loopml server --monitor-every``: the platform server computes due windows and evaluates the alert
rules in the background, and a bad interval is refused before anything starts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.errors import InvalidInput
from loopml.monitor.alerts import AlertService
from loopml.server import ServerConfig
from loopml.server.background import serve_in_thread
from loopml.services import Services
from tests.monitor.simulate import log_hour


def test_the_server_monitors_in_the_background(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for h in range(4):
        log_hour(home / "predictions", h, n=200, shift=3.0 if h >= 2 else 0.0)
    settings = Settings(home=home)
    with serve_in_thread(settings, config=ServerConfig(monitor_interval_s=0.2, monitor_slices=("city",))):
        deadline = time.monotonic() + 120
        while True:
            with Services(settings) as services:
                service = services.monitor()
                windows = service.windows(service.target("churn", is_model=True), window="hour")
                alerts = AlertService(services.monitor_store.alerts).list("churn")
            if len(windows) == 4 and any(a.metric == "baseline_drift.x" for a in alerts):
                break
            assert time.monotonic() < deadline, f"{len(windows)} window(s), {len(alerts)} alert(s)"
            time.sleep(0.2)
    assert [w.start.hour for w in windows] == [0, 1, 2, 3]
    drift = next(a for a in alerts if a.metric == "baseline_drift.x")  # a shift that stays two windows
    assert drift.rule == "baseline-drift" and drift.is_open
    assert windows[2].metrics["slice.city=nice.drift_features"] >= 1  # sliced as configured


def test_a_bad_interval_is_refused() -> None:
    with pytest.raises(InvalidInput, match="monitor_interval_s"):
        ServerConfig(monitor_interval_s=0)
