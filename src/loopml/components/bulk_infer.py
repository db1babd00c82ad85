"""``bulk_infer``: score a dataset version with a pushed (blessed, signed) model (TFX BulkInferrer).

The model is loaded through the same verified path as ``loopml serve`` and ``loopml predict``
(the registry version push registered, or the pushed package with a required trusted signature)
and scored with :func:`loopml.inference.predict.predict`; the scored rows are recorded as a new
version of ``<model>-predictions`` (or ``output_name``) and returned as the step's ``Dataset``.
"""

from __future__ import annotations

from pathlib import Path

from loopml.components._champion import registry_for
from loopml.data.versions import DatasetVersions
from loopml.errors import InvalidInput, PolicyViolation
from loopml.inference.predict import predict
from loopml.pipeline import Dataset, PushedModel, component, current_step, scratch_dir
from loopml.registry import TrustStore

__all__ = ["bulk_infer"]


@component
def bulk_infer(
    pushed_model: PushedModel,
    *,
    dataset: str,
    home: str,
    output_name: str = "",
    batch_rows: int = 65_536,
    keep: list[str] | None = None,
) -> Dataset:
    """Score the dataset version ``dataset`` (``NAME@VERSION``) with ``pushed_model``.

    Args:
        pushed_model: The output of ``push``; a refused push (not blessed) fails this step.
        dataset: The dataset version to score.
        home: The loopml home holding ``trust/`` (the keys push signed with).
        output_name: Dataset name of the scored rows (default ``<model>-predictions``).
        batch_rows: Rows per record batch.
        keep: Input columns written beside the predictions (default: all).

    Returns:
        The scored rows (one file per input partition, ``_rejected/`` and ``_statistics/``).

    Raises:
        PolicyViolation: the model was not pushed (not blessed); nothing is scored.
        InvalidInput: the dataset does not fit the model's signature (column named).
    """
    if not pushed_model.properties.get("pushed", False):
        reason = pushed_model.properties.get("reason", "no reason recorded")
        raise PolicyViolation(f"bulk_infer scores blessed models only; this one was not pushed: {reason}.")
    step = current_step()
    store = step.open_store()
    trust = TrustStore(Path(home) / "trust")
    registry = registry_for(store, step.blobs, trust_store=trust)
    model_uri = str(pushed_model.properties.get("registry_version_uri") or "")
    if not model_uri or registry is None:
        model_uri = str(pushed_model.local_path())
    name = str(pushed_model.properties.get("model_name", "model"))
    versions = DatasetVersions(store, step.blobs)
    out = scratch_dir("bulk_infer") / "predictions"
    report = predict(
        model_uri,
        dataset,
        out=out,
        registry=registry,
        trust_store=trust,
        datasets=versions,
        batch_rows=batch_rows,
        keep=keep,
        max_workers=1,
    )
    if report.rows_scored == 0:
        raise InvalidInput(f"bulk_infer: every row of {dataset} was rejected; see {out / '_rejected'}.")
    added = versions.add(output_name or f"{name}-predictions", out)
    return Dataset.from_path(
        out,
        properties={
            "model_uri": model_uri,
            "input_dataset": dataset,
            "output_dataset": f"{added.name}@{added.version}",
            "output_artifact_id": added.artifact_id,
            "rows_in": report.rows_in,
            "rows_scored": report.rows_scored,
            "rows_rejected": report.rows_rejected,
            "rejection_reasons": report.reasons,
        },
    )
