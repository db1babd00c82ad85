"""``transform``: fit preprocessing on the training split only; saved with skops for packaging."""

from __future__ import annotations

import json

from loopml.components._artifacts import TRANSFORM_FILE, TRANSFORM_SPEC
from loopml.components._preprocessing import build_transformer, plan_features
from loopml.components._splits import TRAIN, read_split
from loopml.data import read_schema
from loopml.pipeline import Anomalies, Dataset, Schema, Transform, component, scratch_dir
from loopml.registry.flavors.sklearn import save_skops

__all__ = ["transform"]


@component
def transform(
    examples: Dataset,
    schema: Schema,
    anomalies: Anomalies | None = None,
    *,
    label: str,
    exclude: list[str] | None = None,
    categorical: list[str] | None = None,
    numeric: list[str] | None = None,
    ordinal: list[str] | None = None,
    bucketize: dict[str, int] | None = None,
    max_categories: int | None = None,
) -> Transform:
    """Fit a scikit-learn ColumnTransformer on the TRAIN split (never on eval data).

    Numbers are imputed and standardised, strings/booleans and ``categorical`` columns get a
    vocabulary (one-hot; unseen values map to all zeros), ``ordinal`` columns integer codes,
    ``bucketize`` columns quantile buckets. The fitted transformer is packaged with the model
    by ``train``, so serving applies exactly the same preprocessing.

    Args:
        examples: Split examples.
        schema: The schema (column types decide the default preprocessing).
        anomalies: The validation result: wiring it makes the transform (and so training) wait
            for validation to pass, and records that in the lineage.
        label: The label column (not transformed).
        exclude: Columns that are not features (ids, the time column ...).
        categorical: Columns to one-hot encode whatever their type (coded integers).
        numeric: Columns to standardise whatever their type.
        ordinal: Columns to encode as ordered integer codes.
        bucketize: Column → number of quantile buckets (one-hot encoded).
        max_categories: Cap on each vocabulary (rarer values are grouped).

    Returns:
        A folder with ``transform.skops`` and ``transform.json`` (features, label, plan).
    """
    spec = read_schema(schema.local_path())
    plan = plan_features(
        spec,
        label=label,
        exclude=exclude or (),
        categorical=categorical or (),
        numeric=numeric or (),
        ordinal=ordinal or (),
        bucketize=bucketize,
    )
    train = read_split(examples, TRAIN, columns=list(plan.features))
    fitted = build_transformer(plan, max_categories=max_categories).fit(train)
    out = scratch_dir("transform")
    save_skops(fitted, out / TRANSFORM_FILE)
    facts = {
        "features": list(plan.features),
        "label": label,
        "plan": plan.to_dict(),
        "output_width": len(fitted.get_feature_names_out()),
        "fitted_on": TRAIN,
        "fitted_rows": len(train),
    }
    (out / TRANSFORM_SPEC).write_text(json.dumps(facts, indent=2, sort_keys=True))
    return Transform.from_path(out, properties=facts)
