"""The standard components wired on the generated data (shared by the component tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loopml.components import (
    evaluate,
    infra_validate,
    ingest,
    push,
    schema,
    statistics,
    train,
    transform,
    validate,
)
from loopml.pipeline import Step

LR = "loopml.components.trainers:logistic_regression"


def steps(
    source: Path,
    *,
    home: Path,
    trainer: str = LR,
    thresholds: list[dict[str, Any]] | None = None,
    slices: list[str] | None = None,
) -> dict[str, Step]:
    """ingest → statistics → schema → validate → transform → train → evaluate → infra_validate → push."""
    examples = ingest(source=str(source), dataset_name="people", key="id", eval_percent=25)
    stats = statistics(examples=examples.output)
    data_schema = schema(statistics=stats.output)
    checked = validate(statistics=stats.output, schema=data_schema.output)
    prep = transform(
        examples=examples.output,
        schema=data_schema.output,
        anomalies=checked.output,
        label="label",
        exclude=["id", "year"],
        categorical=["group"],
        bucketize={"age": 4},
    )
    model = train(examples=examples.output, transform=prep.output, trainer=trainer, model_name="people")
    ev = evaluate(
        model=model.output,
        examples=examples.output,
        slices=slices or ["group", "color"],
        thresholds=thresholds or [{"metric": "accuracy", "lower": 0.55}],
        bootstrap_samples=0,
    )
    infra = infra_validate(model=model.output, examples=examples.output, rows=20)
    pushed = push(
        model=model.output, blessing=ev.outputs["blessing"], infra_blessing=infra.output, home=str(home)
    )
    return {
        "ingest": examples,
        "statistics": stats,
        "schema": data_schema,
        "validate": checked,
        "transform": prep,
        "train": model,
        "evaluate": ev,
        "infra_validate": infra,
        "push": pushed,
    }
