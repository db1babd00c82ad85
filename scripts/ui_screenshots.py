"""Regenerate the README's screenshots of the web UI: ``python scripts/ui_screenshots.py``.

Fills a fresh SQLite store in a temporary folder with a small example (an experiment of runs
with metric histories, a dataset with statistics, a model with two evaluated versions, a
deployment in the middle of a canary rollout with two days of its prediction log monitored hour
by hour: labels, drift and alerts, simulated as in ``benchmarks/ui.py``), serves it without
authentication on 127.0.0.1, and saves one PNG per page into ``docs/screenshots/`` with Debian's
Chromium driven by Playwright (the dev extra). Nothing is downloaded.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
from playwright.sync_api import sync_playwright

from loopml.analysis import MetricThreshold, evaluate
from loopml.artifacts import BlobStore
from loopml.config import Settings
from loopml.data import DatasetVersions, compute_statistics, write_statistics
from loopml.deploy.gates import Analysis, GateResult, Verdict
from loopml.deploy.observations import Window
from loopml.deploy.records import Deployment
from loopml.deploy.rollout import Phase, RolloutStatus
from loopml.deploy.spec import Canary, DeploymentSpec
from loopml.server.background import serve_in_thread
from loopml.store.entities import EventType, Metric
from loopml.store.sql import open_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from ui_data import monitor_deployment  # the UI benchmark's simulated prediction log

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
MODEL = "churn"
COLUMNS = "metrics.val_auc,metrics.train_loss,params.learning_rate,params.max_depth"


def _runs(store: Any) -> tuple[str, list[str]]:
    exp = store.experiments.create("churn-gbm")
    ids = []
    for i in range(12):
        run = store.runs.create(exp.experiment_id, name=f"gbm-lr{(i % 4 + 1) * 0.05:.2f}-d{3 + i % 3}")
        lr, depth = (i % 4 + 1) * 0.05, 3 + i % 3
        points = [
            Metric(key=key, value=value, step=s, timestamp=s)
            for s in range(200)
            for key, value in (
                ("train_loss", 0.7 * np.exp(-lr * s / 4) + 0.05 * depth / 5),
                ("val_auc", 0.9 - 0.3 * np.exp(-lr * s / 5) - 0.01 * abs(depth - 4)),
            )
        ]
        store.runs.log_batch(
            run.run_id, metrics=points, params={"learning_rate": f"{lr:.2f}", "max_depth": str(depth)}
        )
        ids.append(run.run_id)
    return exp.experiment_id, ids


def _evaluation(store: Any, blobs: BlobStore, run_id: str, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["1", "2"], 3000)
    race = rng.choice(["1", "2", "6", "8"], 3000)
    y = rng.integers(0, 2, 3000)
    score = np.clip(y * (0.55 + 0.05 * seed) + rng.normal(0.2, 0.2, 3000), 0, 1)
    result = evaluate(
        y,
        task="binary",
        y_score=score,
        features=pd.DataFrame({"SEX": sex, "RAC1P": race}),
        slices=["SEX", "RAC1P", "SEX * RAC1P"],
        bootstrap=None,
        thresholds=[
            MetricThreshold(metric="roc_auc", lower=0.8),
            MetricThreshold(metric="recall", lower=0.75, slices=("SEX",)),
        ],
    )
    ref = blobs.put_bytes(result.to_json().encode())
    return store.artifacts.create(
        type="Evaluation",
        name=MODEL,
        uri=ref.uri,
        sha256=ref.sha256,
        size=ref.size,
        run_id=run_id,
        properties={"overall": {k: m.value for k, m in result.overall.metrics.items()}},
    ), result


def _model(store: Any, blobs: BlobStore, run_id: str) -> None:
    doc = "flavor: sklearn\nsignature:\n  inputs: [{name: AGEP, type: double}, {name: SEX, type: string}]\n"
    yaml_ref = blobs.put_bytes(doc.encode())
    index = {
        "format": "loopml-package-index/1",
        "files": {"model.yaml": {"sha256": yaml_ref.sha256, "size": len(doc)}},
    }
    index_ref = blobs.put_bytes(json.dumps(index).encode())
    for number in (1, 2):
        model = store.artifacts.create(
            type="Model", name=MODEL, uri=index_ref.uri, sha256=index_ref.sha256, size=len(doc), run_id=run_id
        )
        evaluation, result = _evaluation(store, blobs, run_id, seed=number)
        passed = result.blessing is not None and result.blessing.passed
        blessing = store.artifacts.create(
            type="Blessing", name=MODEL, uri="-", sha256=None, size=None, run_id=run_id,
            properties={"passed": passed, "reasons": result.blessing.reasons if result.blessing else []},
        )  # fmt: skip
        exe = store.lineage.create_execution(type="evaluate", name="evaluate", run_id=run_id)
        store.lineage.add_events(
            exe.execution_id,
            [(model.artifact_id, EventType.INPUT, "model"),
             (evaluation.artifact_id, EventType.OUTPUT, "evaluation"),
             (blessing.artifact_id, EventType.OUTPUT, "blessing")],
        )  # fmt: skip
        store.models.create_version(
            MODEL, manifest_sha256=index_ref.sha256, flavor="sklearn", scan_verdict="safe",
            artifact_id=model.artifact_id, blessing_artifact_id=blessing.artifact_id,
            blessing_passed=passed, run_id=run_id,
        )  # fmt: skip
    store.models.move_alias(MODEL, "champion", 1, actor="admin")


def _dataset(store: Any, blobs: BlobStore, work: Path) -> str:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"AGEP": rng.integers(17, 90, 2000), "SEX": rng.choice(["1", "2"], 2000),
         "WKHP": rng.normal(38, 10, 2000).round(1), "COW": rng.choice(["1", "2", "3", "6"], 2000)}
    )  # fmt: skip
    path = work / "census.csv"
    frame.to_csv(path, index=False)
    versions = DatasetVersions(store, blobs)
    version = versions.add("census", path)
    stats = write_statistics(compute_statistics([str(path)], max_workers=1), work / "stats.json")
    versions.record(version, {"statistics": ("Statistics", stats)}, execution_type="ComputeStatistics")
    return version.artifact_id


def _deployment(store: Any) -> None:
    spec = DeploymentSpec(
        name="churn-live",
        primary="models:/churn@champion",
        canary=Canary(target="models:/churn/2", weight=25),
    )
    now = int(time.time() * 1000)
    window = Window(start_ms=now - 300_000, end_ms=now)
    gates = tuple(
        GateResult(gate=g, verdict=Verdict.PASS, value=v, threshold=t, primary_n=4210, canary_n=1398,
                   window=window, p_value=p, detail=d)
        for g, v, t, p, d in (
            ("error_rate", 0.0004, 0.005, 0.41, "canary errors 0.14 % vs primary 0.10 %"),
            ("p99_latency", 0.8, 25.0, None, "p99 41.2 ms vs 40.4 ms"),
            ("prediction_shift", 0.03, 0.1, None, "L-infinity distance of predicted classes"),
        )
    )  # fmt: skip
    status = RolloutStatus(
        phase=Phase.PROGRESSING, step=1, weight=25.0, step_started_ms=now - 240_000, analyses=6
    )
    stored = store.deployments.create(spec.name, Deployment(spec=spec).to_document(), actor="admin")
    current = Deployment(spec=spec, rollout=status, last_analysis=Analysis(window=window, gates=gates))
    store.deployments.update(
        spec.name, current.to_document(),
        expected_revision=stored.revision, actor="rollout", action="analysis-advance",
        reason="step held 5 min, every gate passed", models=["churn/1", "churn/2"],
        details={"verdict": "pass", "decision": "advance"},
    )  # fmt: skip


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="loopml-shots-") as tmp:
        home = Path(tmp)
        settings = Settings(home=home)
        store = open_store(f"sqlite:///{home / 'store.db'}")
        blobs = BlobStore(settings.resolved_artifacts_url())
        experiment, runs = _runs(store)
        _model(store, blobs, runs[0])
        dataset = _dataset(store, blobs, home)
        _deployment(store)
        monitor_deployment(store, home / "predictions", "churn-live", hours=48, rows=400)
        evaluation = store.artifacts.list(type="Evaluation").items[-1].artifact_id
        pages = {
            "runs": f"/ui/experiments/{experiment}?cols={COLUMNS}",
            "run": f"/ui/runs/{runs[3]}",
            "compare": "/ui/compare?" + "&".join(f"run={r}" for r in runs[:8]),
            "model-card": f"/ui/models/{MODEL}/versions/2",
            "model-compare": f"/ui/models/{MODEL}/compare",
            "evaluation": f"/ui/evaluations/{evaluation}?spec=SEX+%C3%97+RAC1P",
            "dataset": "/ui/datasets/census/versions/1",
            "artifact-preview": f"/ui/artifacts/{dataset}",
            "deployment": "/ui/deployments/churn-live",
            "monitoring": "/ui/monitoring",
            "deployment-monitoring": "/ui/deployments/churn-live/monitoring#charts-h",  # the charts
        }
        with serve_in_thread(settings, auth_enabled=False) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
            for name, path in pages.items():
                page.goto(base + quote(path, safe="/?=&%+,.#"))
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(OUT / f"{name}.png"))
                print(f"wrote {OUT / f'{name}.png'}", file=sys.stderr)
            browser.close()
        store.close()


if __name__ == "__main__":
    main()
