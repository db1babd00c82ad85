"""``evaluate``: sliced metrics of a packaged model on the eval split, gated against the champion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from loopml.analysis import BootstrapConfig, MetricThreshold, ModelCard, Predictions, SliceSpec, write_html
from loopml.analysis import evaluate as evaluate_predictions
from loopml.components._champion import load_champion
from loopml.components._splits import EVAL, read_split
from loopml.errors import InvalidInput
from loopml.pipeline import Blessing, Dataset, Evaluation, Model, component, current_step, scratch_dir
from loopml.pipeline import ModelCard as ModelCardArtifact
from loopml.registry import Predictor, load_model

__all__ = ["EvaluateOutputs", "evaluate", "score"]


class EvaluateOutputs(NamedTuple):
    evaluation: Evaluation
    blessing: Blessing
    model_card: ModelCardArtifact


def score(predictor: Predictor, frame: pd.DataFrame, *, task: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted labels and scores (P(positive) for binary, per-class for multiclass, None for regression)."""
    y_pred = np.asarray(predictor.predict(frame))
    if task == "regression":
        return y_pred, None
    proba = np.asarray(predictor.predict_proba(frame))
    return y_pred, (proba[:, 1] if task == "binary" else proba)


def _slice_columns(slices: Sequence[str]) -> list[str]:
    columns: list[str] = []
    for item in slices:
        columns.extend(SliceSpec.cross(*(p.strip() for p in item.replace("\u00d7", "*").split("*"))).features)
    return list(dict.fromkeys(columns))


def _check_columns(
    frame: pd.DataFrame, *, features: Sequence[str], label: str, slices: Sequence[str]
) -> None:
    needed = {
        label: "the label",
        **{f: "a model input" for f in features},
        **{c: "a slice column" for c in _slice_columns(slices)},
    }
    missing = [f"{name!r} ({why})" for name, why in needed.items() if name not in frame.columns]
    if missing:
        raise InvalidInput(
            f"evaluate: the eval data lacks column(s) {', '.join(missing)}; columns present: "
            f"{', '.join(map(str, frame.columns))}."
        )


def _thresholds(items: Sequence[dict[str, Any]]) -> list[MetricThreshold]:
    out = []
    for item in items:
        if "metric" not in item:
            raise InvalidInput(f"evaluate: each threshold needs a 'metric'. Got {item!r}.")
        out.append(MetricThreshold.from_dict(item))
    return out


def _baseline(model_name: str, frame: pd.DataFrame, task: str) -> tuple[Predictions | None, str]:
    step = current_step()
    champion = load_champion(step.open_store(), step.blobs, model_name, cache_dir=scratch_dir("champion"))
    if champion is None:
        return None, ""
    y_pred, y_score = score(champion.predictor, frame, task=task)
    return Predictions(y_pred=y_pred, y_score=y_score), champion.ref


@component
def evaluate(
    model: Model,
    examples: Dataset,
    *,
    slices: list[str] | None = None,
    thresholds: list[dict[str, Any]] | None = None,
    min_slice_size: int = 30,
    bootstrap_samples: int = 100,
    intended_use: dict[str, str] | None = None,
    fairness_metrics: list[str] | None = None,
    compare_with_champion: bool = True,
) -> EvaluateOutputs:
    """Evaluate ``model`` on the EVAL split with :func:`loopml.analysis.evaluate`.

    The model's package (with its transform) scores the raw eval rows. When a champion of the
    same model name exists (``models:/NAME@champion`` in the registry, else the last pushed
    package), its predictions on the same rows are the baseline change thresholds compare against.
    The champion is looked up when the step runs: a cached evaluation keeps the baseline it had.

    Args:
        model: A model package (from ``train``).
        examples: Split examples.
        slices: Slice specs: feature names (``"SEX"``) or crosses (``"SEX * RAC1P"``).
        thresholds: :class:`~loopml.analysis.MetricThreshold` fields as dicts.
        min_slice_size: Slices with fewer examples are reported without metrics.
        bootstrap_samples: Bootstrap replicates for confidence intervals (0 for none).
        intended_use: Intended-use fields of the model card.
        fairness_metrics: Metrics whose gaps across slices are reported.
        compare_with_champion: Use the champion's predictions as the baseline.

    Returns:
        ``evaluation.json`` + ``report.html``, the Blessing (verdict and reasons per metric and
        slice) and the model card (Markdown + HTML).

    Raises:
        InvalidInput: a missing column (named), an unknown metric in a threshold, a bad slice.
    """
    gates = _thresholds(thresholds or [])
    props = model.properties
    task, label = str(props.get("task", "binary")), str(props.get("label", ""))
    model_name = str(props.get("model_name", "model"))
    frame = read_split(examples, EVAL)
    _check_columns(frame, features=list(props.get("features", [])), label=label, slices=slices or [])
    y_pred, y_score = score(load_model(model.local_path()), frame, task=task)
    baseline, champion_id = (None, "")
    if compare_with_champion:
        baseline, champion_id = _baseline(model_name, frame, task)
    result = evaluate_predictions(
        frame[label].to_numpy(),
        task=task,
        y_pred=y_pred,
        y_score=y_score,
        features=frame,
        slices=slices or [],
        min_slice_size=min_slice_size,
        thresholds=gates,
        bootstrap=BootstrapConfig(n=bootstrap_samples) if bootstrap_samples >= 2 else None,
        baseline=baseline,
        fairness_metrics=fairness_metrics,
        properties={
            "model_artifact_id": model.artifact_id,
            "champion": champion_id,
            "trainer": props.get("trainer", ""),
            "dataset": examples.properties.get("dataset", ""),
        },
    )
    out = scratch_dir("evaluation")
    result.save(out / "evaluation.json")
    write_html(result, out / "report.html", title=f"{model_name}: {props.get('trainer', '')}")
    step = current_step()
    card = ModelCard(
        model_name=model_name,
        model_version=f"candidate {step.step_name}",
        evaluation=result,
        intended_use=dict(intended_use or {}),
        thresholds=tuple(gates),
        data_versions={
            "training": f"{examples.properties.get('dataset')}@{examples.properties.get('dataset_version')}"
        },
        lineage={
            "model_artifact": model.artifact_id or "",
            "examples_artifact": examples.artifact_id or "",
            "training_run": str(props.get("run_id", "")),
            "evaluation_execution": step.execution_id,
            "champion": champion_id or "none",
        },
    )
    card_dir = scratch_dir("model_card")
    card.write(card_dir)
    passed = result.blessing.passed if result.blessing is not None else True
    reasons = list(result.blessing.reasons) if result.blessing is not None else []
    overall = {name: m.value for name, m in result.overall.metrics.items()}
    verdict = {
        "blessed": passed,
        "passed": passed,
        "reasons": reasons,
        "model_artifact_id": model.artifact_id,
        "champion": champion_id,
        "has_baseline": baseline is not None,
    }
    return EvaluateOutputs(
        evaluation=Evaluation.from_path(
            out, properties={"overall": overall, "model_name": model_name, "blessed": passed}
        ),
        blessing=Blessing.from_properties(verdict),
        model_card=ModelCardArtifact.from_path(card_dir, properties={"model_name": model_name}),
    )
