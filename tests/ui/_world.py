"""A small platform to look at: users of each role, an open and a restricted experiment, runs whose
names, params and tags carry markup, nested runs and long metric histories."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import yaml

from loopml.analysis import MetricThreshold, evaluate
from loopml.artifacts import BlobStore
from loopml.data import (
    DatasetVersions,
    compute_statistics,
    infer_schema,
    validate,
    write_anomalies,
    write_schema,
    write_statistics,
)
from loopml.deploy.gates import Analysis, GateResult, Verdict
from loopml.deploy.observations import Window
from loopml.deploy.records import Deployment
from loopml.deploy.rollout import Phase, RolloutStatus
from loopml.deploy.spec import Canary, DeploymentSpec, Shadow
from loopml.monitor.alerts import AlertService, Severity
from loopml.monitor.feedback import Feedback, FeedbackService
from loopml.monitor.service import MonitorService
from loopml.pipeline.runner import COMPONENT_EXECUTION_TYPE, PIPELINE_RUN_TYPE
from loopml.security.auth import AuthService, Resource, ResourceKind, Role
from loopml.server._model_files import _INDEX_FORMAT as INDEX_FORMAT
from loopml.store.entities import EventType, ExecutionState, Metric
from tests.monitor.simulate import T0, log_hour

#: Names that must render as text, never as markup or script.
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
XSS_NAME = "<img src=x onerror=window.__xss=3>"  # experiment and model names may not hold a slash
MODEL = f"churn {XSS_NAME}"
DATASET = "census"


@dataclass
class World:
    url: str
    store: Any
    home: Path
    tokens: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)


def populate(s: Any, blobs: BlobStore, workdir: Path | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Fill the store ``s``; returns (tokens by user, ids of the records by what they are)."""
    auth = AuthService(s)
    tokens = {}
    for name, role in (("root", Role.ADMIN), ("ed", Role.EDITOR), ("vi", Role.VIEWER)):
        auth.create_user(name, role=role)
        tokens[name] = auth.create_token(name)[1]
    ids: dict[str, str] = {}
    exp = s.experiments.create(f"open {XSS_NAME}")
    secret = s.experiments.create("secret")
    auth.grant("ed", Resource(kind=ResourceKind.EXPERIMENT, key=secret.experiment_id), "write")
    ids["experiment"], ids["secret"] = exp.experiment_id, secret.experiment_id
    parent = s.runs.create(exp.experiment_id, name=f"parent {XSS}".replace("/", "-"))
    s.runs.log_batch(
        parent.run_id,
        metrics=[Metric(key="loss", value=1.0 / (i + 1), step=i, timestamp=i) for i in range(2_000)],
        params={"lr": "0.1", "model": XSS},
        tags={"note": XSS},
    )
    s.runs.set_reproducibility(parent.run_id, {"git": {"commit": "abc", "dirty": False}, "note": XSS})
    child = s.runs.create(exp.experiment_id, name="child", parent_run_id=parent.run_id)
    s.runs.log_batch(
        child.run_id,
        metrics=[Metric(key="loss", value=2.0 / (i + 1), step=i, timestamp=i) for i in range(100)],
        params={"lr": "0.2", "model": XSS},
    )
    hidden = s.runs.create(secret.experiment_id, name="hidden-run")
    s.runs.log_batch(hidden.run_id, metrics=[Metric(key="loss", value=0.5, timestamp=0)], params={"lr": "9"})
    ids["parent"], ids["child"], ids["hidden"] = parent.run_id, child.run_id, hidden.run_id
    _model(s, blobs, parent.run_id, ids)
    _pipeline_run(s, ids)
    _deployment(s)
    if workdir is not None:
        _dataset(s, blobs, workdir, ids)
        _monitoring(s, workdir / "predictions")
    return tokens, ids


def _monitoring(s: Any, log_root: Path) -> None:
    """Eight hours of churn-live's prediction log (``x`` shifted in hours 3-4), labels for the first
    half, its hourly windows computed and the default alert rules evaluated over them, plus an
    alert raised by an event whose message carries markup."""
    for hour in range(8):
        # `loopml serve` logs and takes labels under the deployment's name, whatever model it loads.
        logged = log_hour(log_root, hour, shift=1.5 if hour in (3, 4) else 0.0, model="churn-live")
        if hour < 4:
            labels = [Feedback(key=i, label=int(t)) for i, t in zip(logged.ids, logged.truth, strict=True)]
            FeedbackService(s.feedback, log_root=log_root).add("churn-live", labels[: 100 * (hour + 1)])
    monitor = MonitorService(s, log_root=log_root, deployments=s.deployments)
    records = monitor.run(monitor.target("churn-live"), now=T0 + dt.timedelta(days=2))
    alerts = AlertService(s.alerts)
    alerts.evaluate(records)
    alerts.raise_alert(
        "churn-live", rule="retrain-failed", metric="retrain", severity=Severity.CRITICAL,
        at=T0 + dt.timedelta(hours=8), message=f"Retraining failed {XSS}", evidence={"error": XSS},
    )  # fmt: skip


def _dataset(s: Any, blobs: BlobStore, workdir: Path, ids: dict[str, str]) -> None:
    """Two versions of a dataset: statistics and schema of the first, the second validated against it."""
    versions = DatasetVersions(s, blobs)
    for n, rows in ((1, 40), (2, 60)):
        data = workdir / f"census-{n}.csv"
        lines = ["age,income,zeros,city"] + [
            f"{20 + i % 50},{1000 * (i % 7) if i % 9 else ''},0,{XSS_NAME if i % 3 else 'paris'}"
            for i in range(rows)
        ]
        data.write_text("\n".join(lines) + "\n")
        version = versions.add(DATASET, data)
        ids.setdefault("dataset_version", version.artifact_id)
        stats = compute_statistics([str(data)], max_workers=1)
        stats_path = write_statistics(stats, workdir / f"stats-{n}.json")
        versions.record(
            version, {"statistics": ("Statistics", stats_path)}, execution_type="ComputeStatistics"
        )
        if n == 1:
            schema = infer_schema(stats)
            schema_path = write_schema(schema, workdir / "schema.yaml")
            versions.record(version, {"schema": ("Schema", schema_path)}, execution_type="InferSchema")
        else:
            result = validate(stats, schema)
            out = write_anomalies(result, workdir / "anomalies.json")
            versions.record(version, {"anomalies": ("Anomalies", out)}, execution_type="ValidateStatistics")


def _pipeline_run(s: Any, ids: dict[str, str]) -> None:
    """A finished pipeline run as the runner records it: ingest ran, train was a cache hit."""
    ctx = s.lineage.create_context(
        type=PIPELINE_RUN_TYPE,
        name=f"nightly {XSS_NAME}",
        properties={
            "pipeline": "train",
            "steps": ["ingest", "train", "push"],
            "dependencies": {"train": ["ingest"], "push": ["train"]},
            "executor": "local",
        },
    )
    status = s.lineage.create_execution(type=PIPELINE_RUN_TYPE, name="train")
    ingest = s.lineage.create_execution(
        type=COMPONENT_EXECUTION_TYPE, name="ingest", properties={"duration_s": 1.5}
    )
    data = s.artifacts.create(type="Dataset", name="examples", uri="z", sha256=None, size=None)
    s.lineage.add_events(ingest.execution_id, [(data.artifact_id, EventType.OUTPUT, "examples")])
    s.lineage.finish_execution(ingest.execution_id, ExecutionState.COMPLETE)
    train = s.lineage.create_execution(
        type=COMPONENT_EXECUTION_TYPE, name="train", properties={"cached_from": ingest.execution_id}
    )
    s.lineage.finish_execution(train.execution_id, ExecutionState.CACHED)
    s.lineage.finish_execution(
        status.execution_id, ExecutionState.FAILED, error="push failed", properties={"status": "FAILED"}
    )
    s.lineage.attach(
        ctx.context_id,
        execution_ids=[status.execution_id, ingest.execution_id, train.execution_id],
        artifact_ids=[],
    )
    ids["pipeline_run"], ids["dataset_artifact"] = ctx.context_id, data.artifact_id


def _model(s: Any, blobs: BlobStore, run_id: str, ids: dict[str, str]) -> None:
    """Two versions whose package holds a model.yaml with a signature: v1 blessed (the champion), v2 not."""
    model_yaml = yaml.safe_dump(
        {"flavor": "sklearn", "signature": {"inputs": [{"name": XSS, "type": "double"}], "outputs": []}}
    ).encode()
    ref = blobs.put_bytes(model_yaml)
    index = {"format": INDEX_FORMAT, "files": {"model.yaml": {"sha256": ref.sha256, "size": len(model_yaml)}}}
    index_ref = blobs.put_bytes(json.dumps(index).encode())
    train_data = s.artifacts.create(type="Dataset", name="training-rows", uri="t", sha256=None, size=None)
    for number in (1, 2):
        model = s.artifacts.create(
            type="Model", name=MODEL, uri=index_ref.uri, sha256=index_ref.sha256, size=1, run_id=run_id
        )
        train = s.lineage.create_execution(type="train", name="train")
        s.lineage.add_events(
            train.execution_id,
            [
                (train_data.artifact_id, EventType.INPUT, "examples"),
                (model.artifact_id, EventType.OUTPUT, "model"),
            ],
        )
        exe = s.lineage.create_execution(type="evaluate", name="evaluate", run_id=run_id)
        evaluation = _evaluation(s, blobs, run_id, seed=number)
        passed = number == 1
        blessing = s.artifacts.create(
            type="Blessing",
            name=MODEL,
            uri="y",
            sha256=None,
            size=None,
            run_id=run_id,
            properties={"passed": passed, "reasons": [f"roc_auc 0.91 >= 0.8 {XSS}"]},
        )
        s.lineage.add_events(
            exe.execution_id,
            [
                (model.artifact_id, EventType.INPUT, "model"),
                (evaluation.artifact_id, EventType.OUTPUT, "evaluation"),
                (blessing.artifact_id, EventType.OUTPUT, "blessing"),
            ],
        )
        s.models.create_version(
            MODEL,
            manifest_sha256=index_ref.sha256,
            flavor="sklearn",
            scan_verdict="safe",
            artifact_id=model.artifact_id,
            blessing_artifact_id=blessing.artifact_id,
            blessing_passed=passed,
            run_id=run_id,
        )
        if number == 1:
            s.models.move_alias(MODEL, "champion", 1, actor="root")
            ids["model_artifact"], ids["evaluation"] = model.artifact_id, evaluation.artifact_id
    ids["train_data"] = train_data.artifact_id


def _evaluation(s: Any, blobs: BlobStore, run_id: str, *, seed: int) -> Any:
    """A real evaluation sliced by a feature whose values carry markup; one threshold fails on a slice."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, 400)
    city = np.where(np.arange(400) % 2 == 0, XSS_NAME, "paris")
    # right on every "paris" row, a coin toss on the others
    score = np.where(city == "paris", y_true * 0.8 + 0.1, rng.random(400))
    result = evaluate(
        y_true,
        task="binary",
        y_score=score,
        features=pd.DataFrame({"city": city}),
        slices=["city"],
        bootstrap=None,
        thresholds=[
            MetricThreshold(metric="roc_auc", lower=0.5),
            MetricThreshold(metric="accuracy", lower=0.8, slices=("city",)),
        ],
        properties={"model_name": MODEL},
    )
    report = blobs.put_bytes(result.to_json().encode())
    notes = blobs.put_bytes(f"notes {XSS}\n".encode())
    manifest = {"files": {"evaluation.json": report.sha256, "notes.txt": notes.sha256}}
    ref = blobs.put_bytes(json.dumps(manifest).encode())
    return s.artifacts.create(
        type="Evaluation",
        name=MODEL,
        uri=ref.uri,
        sha256=ref.sha256,
        size=report.size + notes.size,
        run_id=run_id,
        properties={"overall": {"roc_auc": 0.91}, "loopml.layout": "directory"},
    )


def _deployment(s: Any) -> None:
    """A deployment whose canary is at its second step; its latest analysis failed a gate (an alert)."""
    spec = DeploymentSpec(
        name="churn-live",
        primary="models:/churn/1",
        canary=Canary(target="models:/churn/2", weight=25),
        shadows=(Shadow(name="next", target="models:/churn/3", mirror_percent=50),),
    )
    first = Deployment(spec=spec)
    stored = s.deployments.create(spec.name, first.to_document(), actor="root", models=["churn/1"])
    window = Window(start_ms=1_700_000_000_000, end_ms=1_700_000_060_000)
    gates = (
        GateResult(gate="error_rate", verdict=Verdict.PASS, value=0.001, threshold=0.01, primary_n=900,
                   canary_n=300, window=window, p_value=0.4, detail="errors as the primary"),
        GateResult(gate="p99_latency", verdict=Verdict.FAIL, value=0.2, threshold=0.05, primary_n=900,
                   canary_n=300, window=window, detail=f"canary p99 slower {XSS}"),
    )  # fmt: skip
    status = RolloutStatus(
        phase=Phase.PROGRESSING, step=1, weight=25.0, step_started_ms=window.start_ms, analyses=3
    )
    current = Deployment(spec=spec, rollout=status, last_analysis=Analysis(window=window, gates=gates))
    for action, verdict, reason in (
        ("analysis-advance", "pass", "step held"),
        ("analysis-hold", "inconclusive", ""),
    ):
        stored = s.deployments.update(
            spec.name, current.to_document(),
            expected_revision=stored.revision, actor="rollout", action=action, reason=reason,
            models=["churn/1", "churn/2"], details={"verdict": verdict, "decision": action.split("-")[1]},
        )  # fmt: skip
    s.deployments.record_event(
        spec.name, actor="rollout", action="alert", reason=f"Canary rolled back: p99 latency {XSS}",
        models=["churn/1", "churn/2"], details={"severity": "critical"},
    )  # fmt: skip


def login(client: httpx.Client, token: str, *, next_page: str = "/ui/experiments") -> httpx.Response:
    """Log ``client`` in through the form (its CSRF cookie and field included)."""
    form = client.get("/ui/login")
    csrf = csrf_in(form.text)
    return client.post("/ui/login", data={"token": token, "csrf": csrf, "next": next_page})


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)
