"""The census employment pipeline: predict whether a Massachusetts resident is employed (ACS PUMS 2015).

ingest (2015 span, hash split by ``id``) → statistics → schema (curated file if present) →
validate → transform (fitted on train only) → train two candidates (logistic regression,
gradient boosting) → evaluate each, sliced by SEX, RAC1P and their cross, gated by thresholds and
against the champion → select the better blessed one → infra_validate → push.

Run it with ``loopml demo``, or with ``loopml pipeline run src/loopml/examples/census/pipeline.py`` from a
source checkout (any path to this file works: ``python -c "import loopml.examples.census.pipeline as p;
print(p.__file__)"`` prints the installed one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loopml.components import (
    evaluate,
    file_digest,
    infra_validate,
    ingest,
    push,
    schema,
    select,
    statistics,
    train,
    transform,
    validate,
)
from loopml.config import load_settings
from loopml.pipeline import Parameter, Pipeline

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "year=2015.parquet"
CURATED_SCHEMA = HERE / "schema.yaml"
MODEL_NAME = "census-employment"
LABEL = "employed"

TRAIN_ROWS = 20_000
"""The train split is subsampled (stratified by the label) to keep a cold run short on 2 cores."""

CATEGORICAL = [
    "MAR",
    "RELP",
    "DIS",
    "ESP",
    "CIT",
    "MIG",
    "MIL",
    "ANC",
    "NATIVITY",
    "DEAR",
    "DEYE",
    "DREM",
    "SEX",
    "RAC1P",
]
SLICES = ["SEX", "RAC1P", "SEX * RAC1P"]

THRESHOLDS: list[dict[str, Any]] = [
    # absolute floors, overall and on every sex and race slice
    {"metric": "roc_auc", "lower": 0.80, "slices": ["overall", "SEX", "RAC1P"]},
    {"metric": "accuracy", "lower": 0.70, "slices": ["overall", "SEX"]},
    # no worse than the champion by more than 0.01 AUC, overall and per sex
    {"metric": "roc_auc", "change_tolerance": 0.01, "slices": ["overall", "SEX"]},
]

INTENDED_USE = {
    "primary use": "Illustrate a full loopml pipeline on real census data: predict employment status "
    "of Massachusetts residents from survey answers (ACS PUMS 2015).",
    "users": "Engineers and analysts learning loopml; auditors of slice performance.",
    "out of scope": "Decisions about individuals (hiring, credit, benefits); populations outside "
    "Massachusetts; years after 2015 without re-validation.",
    "fairness": "Audited by SEX and RAC1P slices and their cross; small race groups are reported "
    "but have too few examples to evaluate.",
}


CANDIDATES: dict[str, tuple[str, dict[str, Any]]] = {
    "logreg": ("loopml.components.trainers:logistic_regression", {"C": 1.0, "solver": "newton-cholesky"}),
    "gbm": ("loopml.components.trainers:hist_gradient_boosting", {"max_iter": 150, "learning_rate": 0.1}),
}
"""The two candidates: step suffix -> (trainer ``module:function``, hyperparameters)."""


def pipeline(
    *,
    home: str | Path | None = None,
    train_rows: int = TRAIN_ROWS,
    candidates: dict[str, tuple[str, dict[str, Any]]] | None = None,
    source: Path = DATA,
    dataset_name: str = "census-ma-2015",
    alias: str = "champion",
) -> Pipeline:
    """The census pipeline.

    Args:
        home: Holds the project signing key (default: the configured LOOPML_HOME).
        train_rows: Default of the ``train_rows`` parameter (stratified subsample of the train split).
        candidates: Two candidates to train instead of :data:`CANDIDATES` (same shape).
        source: The labelled rows to learn from (default: the 2015 span); a retraining passes the
            rows of its new span.
        dataset_name: The dataset ``source`` is registered as a version of.
        alias: The registry alias the push moves (a retraining pushes a ``challenger``: the canary,
            not the pipeline, decides whether it replaces the champion).
    """
    home_dir = Path(home) if home is not None else load_settings().home
    examples = ingest(
        source=str(source),
        source_digest=file_digest(source),
        dataset_name=dataset_name,
        split="hash",
        key="id",
        eval_percent=20,
        max_train_rows=Parameter(name="train_rows", type=int, default=train_rows),
        stratify=LABEL,
    )
    stats = statistics(examples=examples.output)
    curated = str(CURATED_SCHEMA) if CURATED_SCHEMA.is_file() else ""
    data_schema = schema(
        statistics=stats.output,
        curated=curated,
        curated_digest=file_digest(CURATED_SCHEMA) if curated else "",
    )
    checked = validate(statistics=stats.output, schema=data_schema.output)
    prep = transform(
        examples=examples.output,
        schema=data_schema.output,
        anomalies=checked.output,
        label=LABEL,
        exclude=["id", "year"],
        categorical=CATEGORICAL,
        ordinal=["SCHL"],
        numeric=["AGEP"],
        bucketize={"AGEP": 8},
    )
    chosen = candidates or CANDIDATES
    if len(chosen) != 2:
        raise ValueError(f"The census pipeline compares exactly two candidates; got {sorted(chosen)}.")
    evaluated = {}
    for tag, (trainer, params) in chosen.items():
        model = train.step(
            f"train_{tag}",
            examples=examples.output,
            transform=prep.output,
            trainer=trainer,
            model_name=MODEL_NAME,
            hyperparams=params,
            experiment="census",
        )
        evaluated[tag] = (
            model,
            evaluate.step(
                f"evaluate_{tag}",
                model=model.output,
                examples=examples.output,
                slices=SLICES,
                thresholds=THRESHOLDS,
                intended_use=INTENDED_USE,
            ),
        )
    (lr_model, lr_eval), (gbm_model, gbm_eval) = evaluated.values()
    best = select(
        model=lr_model.output,
        blessing=lr_eval.outputs["blessing"],
        evaluation=lr_eval.outputs["evaluation"],
        other_model=gbm_model.output,
        other_blessing=gbm_eval.outputs["blessing"],
        other_evaluation=gbm_eval.outputs["evaluation"],
        metric="roc_auc",
    )
    served = infra_validate(model=best.outputs["model"], examples=examples.output)
    pushed = push(
        model=best.outputs["model"],
        blessing=best.outputs["blessing"],
        infra_blessing=served.output,
        home=str(home_dir.expanduser().absolute()),
        alias=alias,
    )
    return Pipeline(
        "census",
        steps=[pushed],
        description="Census employment: two candidates, sliced evaluation, push the better blessed one.",
    )
