"""The real retrainer: a loopml pipeline run on the moved span, its candidate canaried through the loop."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from loopml.components import evaluate, ingest, push, schema, statistics, train, transform, validate
from loopml.config import Settings
from loopml.deploy.spec import DeploymentSpec
from loopml.monitor.retrain import (
    ChampionChallengerEvaluator,
    DecisionKind,
    Guards,
    PerformanceTrigger,
    PipelineRetrainer,
    RetrainLoop,
    RetrainPolicy,
    RetrainRequest,
    RetryPolicy,
    Span,
    no_worse_on,
)
from loopml.pipeline import Parameter, Pipeline, run_pipeline
from loopml.services import Services
from tests.components._harness import make_frame
from tests.monitor.alerts._windows import T0, series
from tests.monitor.retrain.conftest import FAST, Gate

LR = "loopml.components.trainers:logistic_regression"


def span_pipeline(home: Path, *, alias: str) -> Pipeline:
    """ingest (the span's file) → statistics → schema → validate → transform → train → evaluate → push."""
    examples = ingest(source=Parameter(name="source", type=str, default=""), dataset_name="people",
                      key="id", eval_percent=25)  # fmt: skip
    stats = statistics(examples=examples.output)
    data_schema = schema(statistics=stats.output)
    checked = validate(statistics=stats.output, schema=data_schema.output)
    prep = transform(examples=examples.output, schema=data_schema.output, anomalies=checked.output,
                     label="label", exclude=["id", "year"], categorical=["group", "color"])  # fmt: skip
    model = train(examples=examples.output, transform=prep.output, trainer=LR, model_name="people")
    ev = evaluate(model=model.output, examples=examples.output, slices=["group"],
                  thresholds=[{"metric": "accuracy", "lower": 0.55}], bootstrap_samples=0)  # fmt: skip
    pushed = push(model=model.output, blessing=ev.outputs["blessing"], home=str(home), alias=alias)
    return Pipeline("people", steps=[pushed])


def span_file(folder: Path, span: Span) -> Path:
    """The rows logged in ``span`` with their labels (a new sample for each span)."""
    path = folder / f"span-{span.end:%Y%m%dT%H}.parquet"
    if not path.exists():
        make_frame(1200, seed=int(span.end.timestamp()) % 10_000).to_parquet(path, index=False)
    return path


@pytest.mark.slow
def test_the_pipeline_retrains_on_the_new_span_and_its_candidate_is_canaried(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    home = tmp_path / "home"
    with Services(Settings(home=home)) as services:
        first = Span(start=T0 - timedelta(days=30), end=T0)
        run_pipeline(span_pipeline(home, alias="champion"), store=services.store, blobs=services.blobs,
                     params={"source": str(span_file(data, first))})  # fmt: skip
        deployments = services.deployments
        deployments.create(
            DeploymentSpec(name="people", primary="models:/people@champion"), FAST, actor="ann"
        )

        def params(request: RetrainRequest) -> dict[str, Any]:
            return {"source": str(span_file(data, request.span)), "not_a_parameter": 1}

        retrainer = PipelineRetrainer(
            span_pipeline(home, alias="challenger"), store=services.store, blobs=services.blobs, params=params
        )
        evaluator = ChampionChallengerEvaluator(
            services.registry,
            data=lambda _name, span: make_frame(1500, seed=7).drop(columns=["id"]),
            label="label",
            slices=["group"],
            gates=no_worse_on("accuracy", ["group"], tolerance=0.05),
        )
        policy = RetrainPolicy(
            performance=PerformanceTrigger(tolerance=0.05, min_labels=200),
            guards=Guards(cooldown=timedelta(0), max_per_day=5),
            retry=RetryPolicy(max_attempts=1),
        )
        loop = RetrainLoop(services.store.retrains, deployments=deployments, retrainer=retrainer,  # type: ignore[attr-defined]
                           evaluator=evaluator, policies=lambda _: policy, quality_gate=Gate())  # fmt: skip
        records = series(9, 12, drop_at=10, deployment="people")
        [decision] = loop.step("people", records[:11])
        assert decision.kind is DecisionKind.CANARY, decision.reason
        assert decision.candidate == "models:/people/2"
        assert services.registry.resolve("models:/people@challenger").version == 2
        assert services.registry.resolve("models:/people@champion").version == 1  # the canary decides
        run = services.store.retrains.list("people")[0]  # type: ignore[attr-defined]
        pipeline_step = next(s for s in services.store.retrains.steps(run.retrain_id) if s.kind == "pipeline")  # type: ignore[attr-defined]
        assert pipeline_step.details["params"] == {"source": str(span_file(data, decision.span))}  # type: ignore[arg-type]
        assert pipeline_step.details["ignored_params"] == ["not_a_parameter"]
        assert {s["name"] for s in pipeline_step.details["steps"]} >= {"ingest", "train", "push"}
        assert pipeline_step.details["pipeline_run"]

        # a pipeline that fails (its span's data is gone) keeps the champion and says which step failed
        deployments.rollback("people", actor="ann")
        retrainer_broken = PipelineRetrainer(
            span_pipeline(home, alias="challenger"), store=services.store, blobs=services.blobs,
            params=lambda request: {"source": str(data / "missing.parquet")},
        )  # fmt: skip
        loop._retrainer = retrainer_broken
        loop._repo.update(run.retrain_id, state="rolled_back")
        [failed] = loop.step("people", records)
        assert failed.kind is DecisionKind.FAILED and "ingest" in failed.reason
        assert services.registry.resolve("models:/people@champion").version == 1
