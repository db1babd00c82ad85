"""``loopml demo --json`` end to end in a fresh home: the whole lifecycle story, checked against the store.

Train on 2015, deploy and serve, replay 2016-2018 with late labels, monitor, and (the real years
drifting too little) the injected incident: an alert, a retraining linked to it, a canary that is
promoted or rolled back with its reason, and the production model's lineage.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loopml.config import Settings
from loopml.examples.census.lifecycle import DEPLOYMENT, WINDOW_ROWS, WINDOWS_PER_YEAR
from loopml.services import Services

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lifecycle") / "home"


def _demo(home: Path) -> dict[str, Any]:
    """The story as ``loopml demo --json`` prints it (run in its own process, as `make demo` does)."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", "from loopml.cli import main; main()", "--home", str(home), "demo", "--json"],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    printed: dict[str, Any] = json.loads(done.stdout)
    return printed


@pytest.fixture(scope="module")
def story(home: Path) -> dict[str, Any]:
    return _demo(home)


def _steps(story: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [s for s in story["steps"] if s["step"] == name]


def test_the_json_story_is_a_list_of_steps_with_facts(story: dict[str, Any], home: Path) -> None:
    assert story["home"] == str(home.absolute())
    for step in story["steps"]:
        assert set(step) == {"step", "summary", "facts"}
        assert isinstance(step["summary"], str) and step["summary"]
        assert isinstance(step["facts"], dict)
    names = [s["step"] for s in story["steps"]]
    assert names[:3] == ["train", "deploy", "serve"] and names[-1] == "final"
    assert {"replay", "monitor", "retrain"} <= set(names)
    train = story["steps"][0]["facts"]
    assert train["status"] == "COMPLETE" and train["pushed"] is True and train["version"] == 1


def test_windows_exist_for_every_replayed_year_with_late_labels(story: dict[str, Any]) -> None:
    replays = {s["facts"]["episode"]: s["facts"]["windows"] for s in _steps(story, "replay")}
    assert {"2016", "2017", "2018"} <= set(replays)
    for year in ("2016", "2017", "2018"):
        windows = replays[year]
        assert len(windows) == WINDOWS_PER_YEAR
        assert all(w["rows"] == WINDOW_ROWS and w["label_coverage"] == 0 for w in windows)  # no label yet
        assert all("estimated_accuracy" in w for w in windows)
    monitored = next(s for s in _steps(story, "monitor") if s["facts"]["episode"] == "2017")
    assert monitored["facts"]["labels"] == WINDOWS_PER_YEAR * WINDOW_ROWS
    assert all(w["label_coverage"] == 1 and 0.7 < w["accuracy"] < 0.95 for w in monitored["facts"]["windows"])


def test_an_alert_fires_and_the_retraining_it_leads_to_is_canaried(story: dict[str, Any]) -> None:
    _detected_retrained_canaried(story)


def _detected_retrained_canaried(story: dict[str, Any]) -> None:
    """An accuracy-drop alert, a retraining linked to it, a canary that ended with its reason."""
    alerts = _steps(story, "alert")
    assert alerts, "no alert fired"
    alert_ids = {a["facts"]["alert_id"] for a in alerts}
    assert any(a["facts"]["rule"] == "accuracy-drop" for a in alerts)
    decisions = [s["facts"] for s in _steps(story, "retrain")]
    canaried = [d for d in decisions if d["decision"] == "canary"]
    assert canaried, [d["reason"] for d in decisions]
    first = canaried[0]
    assert set(first["alert_ids"]) & alert_ids  # linked: alert -> retraining
    kinds = [s["kind"] for s in first["steps"]]
    assert (
        kinds[:3] == ["trigger", "data_quality", "pipeline"]
        and "evaluation" in kinds
        and kinds[-1] == "canary"
    )
    pipeline = next(s for s in first["steps"] if s["kind"] == "pipeline")
    assert pipeline["outcome"] == "succeeded" and pipeline["details"]["training_rows"] > 0
    ended = [d for d in decisions if d["decision"] in ("promoted", "rolled_back")]
    assert ended and ended[0]["retrain_id"] == first["retrain_id"] and ended[0]["reason"]
    canary = _steps(story, "canary")[0]["facts"]
    assert canary["phase"] in ("promoted", "rolled_back") and canary["reason"]
    assert {g["gate"] for g in canary["gates"]} >= {"error_rate", "p99_latency", "prediction_shift"}


def test_the_final_state_names_the_production_model_its_lineage_and_reports(
    story: dict[str, Any], home: Path
) -> None:
    final = _steps(story, "final")[0]["facts"]
    retrains = final["retrains"]
    promoted = [r for r in retrains if r["state"] == "promoted"]
    if promoted:
        assert f"models:/{DEPLOYMENT}/{final['version']}" == promoted[-1]["candidate"]
        assert any(d.startswith("census-ma-traffic") for d in final["lineage"]["datasets"])
    else:
        assert final["version"] == 1
        assert final["lineage"]["datasets"] == ["census-ma-2015 v1"]
        assert any(r["state"] == "rolled_back" and r["reason"] for r in retrains)
    assert final["lineage"]["runs"]
    report = Path(final["reports"]["monitoring"])
    assert report.is_file() and "<html" in report.read_text()[:500].lower()
    with Services(Settings(home=home)) as services:
        assert services.registry.resolve(f"models:/{DEPLOYMENT}@champion").version == final["version"]
        stored = services.monitor_store.retrains.list(DEPLOYMENT)  # type: ignore[attr-defined]
        assert {r.retrain_id for r in stored} == {r["retrain_id"] for r in retrains}
        history = [e.action for e in services.deployments.history(DEPLOYMENT)]
        assert "canary" in history


def test_a_rerun_in_the_same_home_tells_the_whole_story_again(story: dict[str, Any], home: Path) -> None:
    """Run last (the first story's state is checked above): the same home, a new episode."""
    again = _demo(home)
    names = [s["step"] for s in again["steps"]]
    assert names[:4] == ["train", "previous", "deploy", "serve"] and names[-1] == "final"
    assert "previous" not in [s["step"] for s in story["steps"]]
    first = _steps(story, "final")[0]["facts"]
    previous = _steps(again, "previous")[0]
    assert previous["facts"]["windows"] == first["windows"]
    earlier = {r["retrain_id"] for r in first["retrains"]}
    assert {r["retrain_id"] for r in previous["facts"]["retrains"]} == earlier
    assert previous["facts"]["champion_before"] == first["version"] and previous["facts"]["champion_now"] == 1
    assert "new episode" in previous["summary"]
    # detection -> retraining -> canary -> promotion or rollback, again, with its own alerts and windows
    _detected_retrained_canaried(again)
    first_alerts = {a["facts"]["alert_id"] for a in _steps(story, "alert")}
    assert first_alerts.isdisjoint(a["facts"]["alert_id"] for a in _steps(again, "alert"))
    monitored = [s for s in _steps(again, "monitor") if s["facts"]["episode"] == "incident"]
    assert monitored and "no new alert" not in monitored[0]["summary"]
    final = _steps(again, "final")[0]["facts"]
    with Services(Settings(home=home)) as services:
        monitor = services.monitor()
        stored = monitor.windows(monitor.target(DEPLOYMENT), window=f"requests:{WINDOW_ROWS}")
    assert final["windows"] >= 3 * WINDOWS_PER_YEAR
    assert len(stored) == first["windows"] + final["windows"]  # the story counts its own windows only
    assert final["retrains"] and earlier.isdisjoint(r["retrain_id"] for r in final["retrains"])
