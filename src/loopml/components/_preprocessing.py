"""Build the scikit-learn ColumnTransformer a Transform artifact holds, from the schema and options."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline as SkPipeline
from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder, OrdinalEncoder, StandardScaler

from loopml.data import FeatureType
from loopml.data import Schema as DataSchema
from loopml.errors import InvalidInput

__all__ = ["FeaturePlan", "build_transformer", "plan_features"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeaturePlan:
    """Which feature is scaled, one-hot encoded (vocabulary), ordinal encoded or bucketized."""

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    ordinal: tuple[str, ...] = ()
    bucketize: Mapping[str, int] = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        """Every input column, in a stable order."""
        seen = dict.fromkeys((*self.numeric, *self.categorical, *self.ordinal, *self.bucketize))
        return tuple(seen)

    def to_dict(self) -> dict[str, object]:
        return {
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "ordinal": list(self.ordinal),
            "bucketize": dict(self.bucketize),
        }


def _check_known(names: Sequence[str], known: set[str], what: str) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInput(
            f"transform: {what} column(s) {unknown} are not in the schema; known: {', '.join(sorted(known))}."
        )


def plan_features(
    schema: DataSchema,
    *,
    label: str,
    exclude: Sequence[str] = (),
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    ordinal: Sequence[str] = (),
    bucketize: Mapping[str, int] | None = None,
) -> FeaturePlan:
    """Assign every schema feature (except the label and ``exclude``) to a preprocessing.

    Features not named explicitly follow their schema type: strings and booleans get a
    vocabulary (one-hot), numbers are standardised.

    Raises:
        InvalidInput: an option names a column the schema lacks, or the label is missing.
    """
    known = {f.name for f in schema.features}
    if label not in known:
        raise InvalidInput(
            f"transform: label {label!r} is not in the schema; known: {', '.join(sorted(known))}."
        )
    buckets = dict(bucketize or {})
    for what, names in (
        ("exclude", exclude),
        ("categorical", categorical),
        ("numeric", numeric),
        ("ordinal", ordinal),
        ("bucketize", list(buckets)),
    ):
        _check_known(list(names), known, what)
    for name, bins in buckets.items():
        if bins < 2:
            raise InvalidInput(f"transform: bucketize[{name!r}] must be at least 2 buckets. Got {bins}.")
    explicit = {*categorical, *numeric, *ordinal}
    num, cat = list(numeric), list(categorical)
    for f in schema.features:
        if f.name == label or f.name in exclude or f.name in explicit or f.name in buckets:
            continue
        (cat if f.type in (FeatureType.STRING, FeatureType.BOOL) else num).append(f.name)
    return FeaturePlan(numeric=tuple(num), categorical=tuple(cat), ordinal=tuple(ordinal), bucketize=buckets)


def build_transformer(plan: FeaturePlan, *, max_categories: int | None = None) -> ColumnTransformer:
    """An unfitted ColumnTransformer for ``plan`` (imputation first, dense output)."""
    parts: list[tuple[str, object, list[str]]] = []
    if plan.numeric:
        parts.append(
            (
                "numeric",
                SkPipeline(
                    [
                        ("impute", SimpleImputer(strategy="median")),
                        ("scale", StandardScaler()),
                    ]
                ),
                list(plan.numeric),
            )
        )
    if plan.categorical:
        parts.append(
            (
                "vocabulary",
                SkPipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        (
                            "onehot",
                            OneHotEncoder(
                                handle_unknown="ignore", sparse_output=False, max_categories=max_categories
                            ),
                        ),
                    ]
                ),
                list(plan.categorical),
            )
        )
    if plan.ordinal:
        parts.append(
            (
                "ordinal",
                SkPipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("encode", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)),
                    ]
                ),
                list(plan.ordinal),
            )
        )
    for name, bins in plan.bucketize.items():
        parts.append(
            (
                f"bucketize_{name}",
                SkPipeline(
                    [
                        ("impute", SimpleImputer(strategy="median")),
                        (
                            "buckets",
                            KBinsDiscretizer(
                                n_bins=bins,
                                encode="onehot-dense",
                                strategy="quantile",
                                quantile_method="averaged_inverted_cdf",
                            ),
                        ),
                    ]
                ),
                [name],
            )
        )
    if not parts:
        raise InvalidInput("transform: no feature columns left to transform; check label and exclude.")
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
