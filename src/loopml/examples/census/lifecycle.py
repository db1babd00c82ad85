"""The census model's whole lifecycle on the shipped data: serve, monitor, retrain, canary, promote.

What ``loopml demo`` tells after the census pipeline pushed the 2015 model:

1. **deploy**: the deployment ``census-employment`` serves ``models:/census-employment@champion``
   under a rollout policy (canary at 50 %, then promotion), through a real model server on a free
   loopback port (the serving app, in this process);
2. **replay** 2016, 2017 and 2018: people drawn from each year's survey (fixed seeds), one request
   each, with its request id; the answers are logged by the server; each ``WINDOW_ROWS`` requests
   are one monitoring window, computed at once (estimated accuracy only: no label yet);
3. **labels** come back later through the feedback endpoint; the monitoring pass recomputes the
   windows with them (realised accuracy, label coverage), reports drift, and evaluates the alert rules;
4. **retrain**: the retrain loop (policy: triggers, guards, data-quality gate) decides; a retraining
   runs the census pipeline on the newest labelled traffic, the candidate is judged against the
   champion on the held-out newest window, and a blessed one goes in as a canary, which the server's
   rollout promotes or rolls back while the replay goes on;
5. when the real years trigger no retraining, the story says so and replays one **incident**: a
   labour-market shock (most employed people under 30 lose their job) that only the labels show;
6. **final state**: the production version, its lineage, the retrainings, the report paths.

Each step is a :class:`StoryStep` (a sentence and its facts), handed to ``on_step`` as it happens.
Everything is seeded; the pipelines' steps are cached, so a re-run reuses them.

A re-run in the same home is a new episode: it first says what the home already holds (the earlier
replays' windows, alerts and retrainings, and the champion it moves back to the 2015 model), then
replays the same years with its own windows (the story reads only windows computed since it started)
and its own alerts: the replay compresses years into minutes, so its alert rules are the defaults
without their cooldown (:data:`REPLAY_RULES`), as its retrain guards count minutes, not hours; the
incident therefore alerts again instead of being held quiet by the alert the earlier run resolved.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from loopml.atomic_write import write_text_atomic
from loopml.config import Settings
from loopml.deploy.policy import GateThresholds, RolloutPolicy
from loopml.deploy.records import Deployment
from loopml.deploy.rollout import Phase
from loopml.deploy.spec import DeploymentSpec
from loopml.examples.census import pipeline as census
from loopml.examples.census.retraining import TrafficRetrainer, holdout_rows
from loopml.examples.census.traffic import Batch, TrafficClient, labour_shock, sample_year
from loopml.monitor.alerts import AlertRules, AlertStatus, default_rules
from loopml.monitor.log_window import read_window
from loopml.monitor.passes import monitoring_pass
from loopml.monitor.records import WindowRecord
from loopml.monitor.report import render_monitor_report
from loopml.monitor.retrain import (
    ChampionChallengerEvaluator,
    Decision,
    DecisionKind,
    DriftTrigger,
    Guards,
    PerformanceTrigger,
    RetrainLoop,
    RetrainPolicy,
    RetryPolicy,
)
from loopml.monitor.retrain.labelled import labelled_log_rows
from loopml.monitor.retrain.quality import WindowQualityGate
from loopml.monitor.windows import MonitorConfig, WindowSpec
from loopml.services import Services
from loopml.serving.background import serve_in_thread
from loopml.serving.config import ServeConfig, ServedDeployment
from loopml.serving.server import build_app
from loopml.store import Store
from loopml.tracking import NodeKind, walk

__all__ = ["DEPLOYMENT", "REPLAY_RULES", "Lifecycle", "StoryStep"]

DEPLOYMENT = census.MODEL_NAME
"""The deployment (named like its model: the server logs and takes feedback under this name)."""
CHAMPION = f"models:/{DEPLOYMENT}@champion"
YEARS = (2016, 2017, 2018)
WINDOW_ROWS = 500
WINDOWS_PER_YEAR = 2
INCIDENT_WINDOWS = 3
MAX_CANARY_WINDOWS = 6
MAX_CANARIES = 2
"""Canaries an episode follows at most (a rolled-back one may be retried once by the loop)."""
SEED = 2015
ACTOR = "demo"

ROLLOUT = RolloutPolicy(
    steps=(50.0, 100.0),
    hold_s=2.0,
    min_requests=200,
    interval_s=2.0,
    max_undecided_intervals=30,
    gates=GateThresholds(
        min_samples=200,
        # A retraining follows a change the champion no longer fits, so the candidate is expected
        # to answer somewhat differently; it was judged on labelled rows before its canary started.
        max_prediction_drift=0.15,
        # The replay keeps several requests in flight on a laptop: latencies are mostly queueing.
        max_p99_increase_ms=250.0,
    ),
)
POLICY = RetrainPolicy(
    drift=DriftTrigger(above=0.1, windows=2),
    performance=PerformanceTrigger(tolerance=0.05, min_labels=200, windows=2),
    # Years are replayed in seconds while guards count real time: a short cooldown, a roomy daily cap.
    guards=Guards(cooldown=dt.timedelta(minutes=1), max_per_day=10),
    span=dt.timedelta(hours=1),
    retry=RetryPolicy(max_attempts=1),
)
REPLAY_RULES = AlertRules(
    rules=tuple(dataclasses.replace(r, cooldown=dt.timedelta(0)) for r in default_rules().rules)
)
"""The default alert rules without a cooldown: a cooldown counts hours of real time, and the replay
passes years in minutes (a re-run in the same home replays the incident minutes after the earlier
run resolved its alert). Deduplication stays: one open alert per rule and metric."""
MONITORING = MonitorConfig(
    window=WindowSpec.parse(f"requests:{WINDOW_ROWS}"),
    settle=dt.timedelta(0),  # each window is computed once its rows are in the log
    label_horizon=dt.timedelta(hours=1),
)
_SHOWN_DRIFT = 3


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StoryStep:
    """One step of the story: a kind, a sentence, and the facts behind it (JSON-ready)."""

    name: str
    summary: str
    facts: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_document(self) -> dict[str, Any]:
        return {"step": self.name, "summary": self.summary, "facts": dict(self.facts)}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Episode:
    """A stretch of traffic: its rows (``windows`` windows of them) and more rows to drive a canary."""

    name: str
    title: str
    rows: pd.DataFrame
    spare: pd.DataFrame
    windows: int


def _year(year: int) -> pd.DataFrame:
    return pd.read_parquet(census.HERE / "data" / f"year={year}.parquet")


def episode_of_year(year: int) -> Episode:
    """The people of ``year`` replayed (and spare ones for a canary), drawn with a fixed seed."""
    n = WINDOWS_PER_YEAR * WINDOW_ROWS
    drawn = sample_year(_year(year), n + MAX_CANARY_WINDOWS * WINDOW_ROWS, seed=SEED + year)
    return Episode(name=str(year), title=f"{year}", rows=drawn[:n], spare=drawn[n:], windows=WINDOWS_PER_YEAR)


def incident() -> Episode:
    """2018 traffic after a labour-market shock: 90 % of the employed people under 35 lose their job."""
    n = INCIDENT_WINDOWS * WINDOW_ROWS
    drawn = sample_year(_year(2018), n + MAX_CANARY_WINDOWS * WINDOW_ROWS, seed=SEED + 9)
    shocked = labour_shock(drawn, under=35, share=0.9, seed=SEED + 10)
    return Episode(
        name="incident",
        title="injected incident (2018 after a shock: 90% of the employed people under 35 lose their job)",
        rows=shocked[:n],
        spare=shocked[n:],
        windows=INCIDENT_WINDOWS,
    )


def _window_facts(record: WindowRecord) -> dict[str, Any]:
    drift = sorted(
        ((k.removeprefix("drift."), v) for k, v in record.metrics.items() if k.startswith("drift.")),
        key=lambda kv: -kv[1],
    )
    keep = ("accuracy", "estimated_accuracy", "label_coverage", "error_rate")
    return {
        "start": record.start.isoformat(),
        "end": record.end.isoformat(),
        "rows": record.rows,
        "version": record.version,
        "complete": record.complete,
        **{k: round(record.metrics[k], 4) for k in keep if k in record.metrics},
        "top_drift": {k: round(v, 4) for k, v in drift[:_SHOWN_DRIFT]},
    }


def _ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "n/a"


class Lifecycle:
    """Runs the story on ``services`` (the configured store, registry and home).

    Args:
        services: The composition root (store, registry, deployments, monitoring, alerts).
        settings: Where the model server finds the same store.
        on_step: Told about every step as it happens.
    """

    def __init__(
        self, services: Services, settings: Settings, *, on_step: Callable[[StoryStep], None] | None = None
    ) -> None:
        self._services, self._settings = services, settings
        self._home = services.home
        self._on_step = on_step or (lambda _step: None)
        self.steps: list[StoryStep] = []
        self._monitor = services.monitor()
        self._alerts = services.alerts(rules=lambda _name: REPLAY_RULES)
        self._target = self._monitor.target(DEPLOYMENT)
        self._started = dt.datetime.now(dt.UTC)
        self._clock = time.monotonic()
        self._run = self._started.strftime("%Y%m%dT%H%M%S")
        rows = labelled_log_rows(
            self._monitor.log_root, services.monitor_store.feedback, model_of=lambda _d: DEPLOYMENT
        )
        self._loop = RetrainLoop(
            services.monitor_store.retrains,
            deployments=services.deployments,
            retrainer=TrafficRetrainer(
                store=services.store, blobs=services.blobs, home=self._home, rows=rows, windows=self.windows
            ),
            evaluator=ChampionChallengerEvaluator(
                services.registry,
                data=holdout_rows(rows, self.windows),
                label="label",
                slices=("SEX",),
            ),
            policies=lambda _name: POLICY,
            quality_gate=WindowQualityGate(lambda _d: self.windows()),
            alerts=self._alerts,
        )

    def _tell(self, name: str, summary: str, **facts: Any) -> None:
        facts["elapsed_s"] = round(time.monotonic() - self._clock, 1)
        step = StoryStep(name=name, summary=summary, facts=facts)
        self.steps.append(step)
        self._on_step(step)

    def windows(self) -> list[WindowRecord]:
        """The windows of this replay, oldest first."""
        every = self._monitor.windows(self._target, window=MONITORING.window.name)
        return [w for w in every if w.start >= self._started]

    # -- the story ------------------------------------------------------------------------------

    def run(self, trained_version: int) -> list[StoryStep]:
        """Deploy ``trained_version`` of the model, then replay the years (and maybe the incident)."""
        self._previous(trained_version)
        self._deploy(trained_version)
        config = ServeConfig(models=(), deployments=(ServedDeployment(name=DEPLOYMENT),), poll_s=0.25)
        app = build_app(config, self._settings)
        with serve_in_thread(app) as url, TrafficClient(url, DEPLOYMENT, features=self._features()) as client:
            self._tell("serve", f"model server up at {url}, serving deployment {DEPLOYMENT}", url=url)
            retrained = False
            for year in YEARS:
                retrained = self._episode(client, episode_of_year(year)) or retrained
            if not retrained:
                self._verdict()
                self._episode(client, incident())
        self._final()
        return self.steps

    def _verdict(self) -> None:
        """Say that (and how little) the real years moved, before the incident is replayed."""
        windows = self.windows()
        drifts = [
            (v, k.removeprefix("drift."))
            for w in windows
            for k, v in w.metrics.items()
            if k.startswith("drift.")
        ]
        value, feature = max(drifts, default=(0.0, "-"))
        accuracy = [w.metrics["accuracy"] for w in windows if "accuracy" in w.metrics] or [float("nan")]
        low, high = min(accuracy), max(accuracy)
        threshold = POLICY.drift.above if POLICY.drift is not None else float("nan")
        self._tell(
            "verdict",
            f"the real years drift too little to trigger anything (largest drift {value:.3f} on {feature}, "
            f"threshold {threshold:g}; accuracy {low:.3f} to {high:.3f}); replaying one injected incident",
            retrained=False,
            largest_drift={"feature": feature, "value": round(value, 4)},
            accuracy_range=[round(low, 4), round(high, 4)],
        )

    def _previous(self, trained_version: int) -> None:
        """Say what earlier replays left in this home (nothing said on a first run)."""
        earlier = [
            w
            for w in self._monitor.windows(self._target, window=MONITORING.window.name)
            if w.start < self._started
        ]
        if not earlier:
            return
        started = _ms(self._started)
        alerts = [a for a in self._alerts.list(DEPLOYMENT, limit=1_000) if _ms(a.opened_at) < started]
        retrains = [
            r for r in self._services.monitor_store.retrains.list(DEPLOYMENT) if r.started_at < started
        ]
        champion = self._services.registry.resolve(CHAMPION).version
        moved = (
            f"; the champion goes back from version {champion} to the 2015 model (version {trained_version})"
            if champion != trained_version
            else ""
        )
        self._tell(
            "previous",
            f"this home already holds earlier replays: {len(earlier)} windows "
            f"({earlier[0].start:%Y-%m-%d %H:%M} to {earlier[-1].end:%H:%M} UTC), {len(alerts)} alert(s), "
            f"{len(retrains)} retraining(s) ({', '.join(sorted({r.state for r in retrains})) or 'none'})"
            f"{moved}. "
            "This replay is a new episode: the windows, alerts and retrainings below are its own",
            windows=len(earlier),
            alerts=[_alert(a) for a in alerts[:20]],
            retrains=[
                {"retrain_id": r.retrain_id, "state": r.state, "candidate": r.candidate} for r in retrains
            ],
            champion_before=champion,
            champion_now=trained_version,
        )

    def _features(self) -> list[str]:
        """The survey answers the model takes (``id`` and ``year`` are bookkeeping, never sent)."""
        return [c for c in _year(YEARS[0]).columns if c not in ("id", "year", census.LABEL)]

    def _deploy(self, version: int) -> None:
        registry, deployments = self._services.registry, self._services.deployments
        if registry.resolve(CHAMPION).version != version:
            registry.set_alias(
                DEPLOYMENT,
                "champion",
                version,
                actor=ACTOR,
                reason="the lifecycle demo starts from the 2015 model",
            )
        spec = DeploymentSpec(name=DEPLOYMENT, primary=CHAMPION)
        document = Deployment(spec=spec, policy=ROLLOUT).to_document()["spec"]
        applied = deployments.apply(document, actor=ACTOR, reason="lifecycle demo")
        self._tell(
            "deploy",
            f"deployment {DEPLOYMENT} serves {CHAMPION} (version {version}, trained on 2015); "
            f"canaries go {' -> '.join(f'{w:g}%' for w in ROLLOUT.steps)}",
            deployment=DEPLOYMENT,
            primary=CHAMPION,
            version=version,
            revision=applied.deployment.revision,
            rollout_steps=list(ROLLOUT.steps),
        )

    def _send(self, client: TrafficClient, rows: pd.DataFrame, prefix: str) -> tuple[Batch, WindowRecord]:
        """Send ``rows`` and compute their window as soon as the server has logged them all."""
        batch = client.send(rows, prefix=f"{self._run}-{prefix}")
        deadline = time.monotonic() + 20
        root = self._monitor.log_root
        while time.monotonic() < deadline:
            if read_window(
                root, DEPLOYMENT, batch.start, batch.end, columns=["request_id", "time"]
            ).rows >= len(rows):
                break
            time.sleep(0.2)
        record = self._monitor.compute(self._target, MONITORING, start=batch.start, end=batch.end)
        return batch, record

    def _episode(self, client: TrafficClient, episode: Episode) -> bool:
        """Replay ``episode``; True when the retrain loop ran a retraining."""
        batches, records = [], []
        for k in range(episode.windows):
            rows = episode.rows.iloc[k * WINDOW_ROWS : (k + 1) * WINDOW_ROWS]
            batch, record = self._send(client, rows, f"{episode.name}-{k}")
            batches.append(batch)
            records.append(record)
        self._tell(
            "replay",
            f"{episode.title}: {sum(len(b.request_ids) for b in batches)} requests in "
            f"{len(records)} windows; estimated accuracy before labels "
            + ", ".join(_fmt(r.metrics.get("estimated_accuracy")) for r in records),
            episode=episode.name,
            windows=[_window_facts(r) for r in records],
        )
        decisions = self._labels_then_loop(client, batches, episode)
        ran = any(d.retrain_id is not None for d in decisions)
        spare = episode.spare
        for _ in range(MAX_CANARIES):
            if not any(d.kind is DecisionKind.CANARY for d in decisions):
                break
            decisions, spare = self._canary(client, episode, spare)
        return ran

    def _labels_then_loop(
        self, client: TrafficClient, batches: Sequence[Batch], episode: Episode
    ) -> list[Decision]:
        labelled = sum(client.send_labels(b) for b in batches)
        done = monitoring_pass(self._monitor, self._alerts, MONITORING, name=DEPLOYMENT)
        starts = {_ms(b.start) for b in batches}
        recomputed = sorted((r for r in self.windows() if _ms(r.start) in starts), key=lambda r: r.start)
        self._tell(
            "monitor",
            f"{episode.title}: {labelled} labels arrived late through feedback; accuracy "
            + ", ".join(_fmt(r.metrics.get("accuracy")) for r in recomputed)
            + _alert_news(done.evaluation.new, done.evaluation.open),
            episode=episode.name,
            labels=labelled,
            windows=[_window_facts(r) for r in recomputed],
            alerts_new=[_alert(a) for a in done.evaluation.new],
            alerts_resolved=[_alert(a) for a in done.evaluation.resolved],
            alerts_open=[_alert(a) for a in done.evaluation.open],
        )
        for alert in done.evaluation.new:
            self._tell(
                "alert", f"ALERT {alert.severity.value} {alert.rule}: {alert.message}", **_alert(alert)
            )
        open_alerts = self._alerts.list(DEPLOYMENT, status=AlertStatus.OPEN, limit=1_000)
        decisions = self._loop.step(DEPLOYMENT, self.windows(), open_alerts)
        for d in decisions:
            self._tell_decision(d)
        return decisions

    def _tell_decision(self, d: Decision) -> None:
        facts = d.view()
        if d.retrain_id is not None:
            steps = self._services.monitor_store.retrains.steps(d.retrain_id)
            facts["steps"] = [{"kind": s.kind, "outcome": s.outcome, "details": s.details} for s in steps]
            run = next(
                r
                for r in self._services.monitor_store.retrains.list(DEPLOYMENT)
                if r.retrain_id == d.retrain_id
            )
            facts["alert_ids"] = list(run.alert_ids)
        self._tell("retrain", f"retrain loop: {d.kind.value}: {d.reason}", **facts)

    def _canary(
        self, client: TrafficClient, episode: Episode, spare: pd.DataFrame
    ) -> tuple[list[Decision], pd.DataFrame]:
        """Keep the traffic flowing while the server's rollout judges the canary; record how it ended.

        Returns:
            The loop's decisions once the labels of that traffic are in, and the rows not sent yet.
        """
        deployments = self._services.deployments
        batches: list[Batch] = []
        target = deployments.get(DEPLOYMENT).spec.canary
        for k in range(len(spare) // WINDOW_ROWS):
            rows = spare.iloc[k * WINDOW_ROWS : (k + 1) * WINDOW_ROWS]
            batch, _ = self._send(client, rows, f"{episode.name}-canary-{len(spare)}-{k}")
            batches.append(batch)
            rollout = deployments.get(DEPLOYMENT).rollout
            if rollout is None or rollout.phase is not Phase.PROGRESSING:
                break
        current = deployments.get(DEPLOYMENT)
        analysis = current.last_analysis
        self._tell(
            "canary",
            f"canary of {target.target if target else '-'} after {sum(len(b.request_ids) for b in batches)} "
            "more requests: "
            + (
                "still rolling out"
                if current.rollout is None or current.rollout.phase is Phase.PROGRESSING
                else f"{current.rollout.phase.value}: {current.rollout.reason}"
            ),
            phase=None if current.rollout is None else current.rollout.phase.value,
            reason=None if current.rollout is None else current.rollout.reason,
            gates=[]
            if analysis is None
            else [{"gate": g.gate, "verdict": g.verdict.value, "detail": g.detail} for g in analysis.gates],
            candidate=None if target is None else target.target,
            served_accuracy=[round(b.accuracy, 4) for b in batches],
        )
        rest = spare.iloc[len(batches) * WINDOW_ROWS :]
        return self._labels_then_loop(client, batches, episode), rest

    def _final(self) -> None:
        registry, store = self._services.registry, self._services.store
        version = registry.resolve(CHAMPION)
        deployment = self._services.deployments.get(DEPLOYMENT)
        lineage = model_lineage(store, version.artifact_id)
        retrains = [
            {
                "retrain_id": r.retrain_id,
                "state": r.state,
                "candidate": r.candidate,
                "reason": r.reason,
                "alert_ids": list(r.alert_ids),
            }
            for r in self._services.monitor_store.retrains.list(DEPLOYMENT)
            if r.started_at >= int(self._started.timestamp() * 1000)
        ]
        report = self._home / "reports" / "census" / f"{DEPLOYMENT}-monitor.html"
        write_text_atomic(
            report, render_monitor_report(self.windows(), title=f"loopml monitoring: {DEPLOYMENT}")
        )
        self._tell(
            "final",
            f"in production: {DEPLOYMENT} version {version.version} ({CHAMPION}), trained on "
            f"{', '.join(lineage['datasets']) or 'unknown data'}",
            deployment=DEPLOYMENT,
            revision=deployment.revision,
            primary=deployment.spec.primary,
            version=version.version,
            model_artifact=version.artifact_id,
            lineage=lineage,
            retrains=retrains,
            windows=len(self.windows()),
            reports={"monitoring": str(report)},
        )


def _alert_news(new: Sequence[Any], still_open: Sequence[Any]) -> str:
    if new:
        return f"; {len(new)} alert(s) fired"
    if still_open:
        return f"; open alerts: {', '.join(sorted({a.rule for a in still_open}))}"
    return "; no new alert"


def _alert(alert: Any) -> dict[str, Any]:
    view: dict[str, Any] = alert.view()
    return {k: view.get(k) for k in ("alert_id", "rule", "metric", "severity", "status", "message")}


def model_lineage(store: Store, artifact_id: str | None) -> dict[str, Any]:
    """The dataset versions and training runs upstream of a model artifact."""
    if artifact_id is None:
        return {"datasets": [], "runs": []}
    graph = walk(store, artifact_id, direction="upstream", depth=20)
    sources = {e.source for e in graph.edges if e.role == "source"}  # what ingest read
    datasets = sorted({n.label for n in graph.nodes if n.id in sources and n.type == "Dataset"})
    runs = sorted({n.id for n in graph.nodes if n.kind is NodeKind.RUN})
    return {"datasets": datasets, "runs": runs}
