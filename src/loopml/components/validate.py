"""``validate``: check every split's statistics against the schema, and drift / skew when given."""

from __future__ import annotations

import json

from loopml.components._splits import EVAL, TRAIN
from loopml.data import Anomaly, Severity, read_schema, read_statistics
from loopml.data import validate as validate_statistics
from loopml.errors import InvalidInput
from loopml.pipeline import Anomalies, Schema, Statistics, component, scratch_dir

__all__ = ["validate"]

_SHOWN = 5


def _describe(split: str, anomalies: list[Anomaly]) -> str:
    shown = "; ".join(f"{a.feature or '(dataset)'}: {a.kind}: {a.description}" for a in anomalies[:_SHOWN])
    more = f" (+{len(anomalies) - _SHOWN} more)" if len(anomalies) > _SHOWN else ""
    return f"{split}: {shown}{more}"


@component
def validate(
    statistics: Statistics,
    schema: Schema,
    previous: Statistics | None = None,
    training: Statistics | None = None,
    *,
    fail_on_error: bool = True,
) -> Anomalies:
    """Validate each split against the schema with :func:`loopml.data.validate`.

    The eval split is also checked for skew against the train split of the same statistics;
    ``previous`` (the statistics of the previous span) adds drift checks of the train split,
    ``training`` (statistics the serving model was trained on) adds skew checks of it.

    Args:
        statistics: Statistics per split.
        schema: The schema.
        previous: Statistics of the previous span, for drift.
        training: Statistics of the training data, for skew.
        fail_on_error: Fail the step when any ERROR anomaly is found (nothing downstream runs).

    Returns:
        ``anomalies.json`` with one validation result per split; properties count errors and warnings.

    Raises:
        InvalidInput: ERROR anomalies were found and ``fail_on_error`` is set, listing them.
    """
    folder = statistics.local_path()
    spec = read_schema(schema.local_path())
    train_stats = read_statistics(folder / f"{TRAIN}.json")
    previous_train = read_statistics(previous.local_path() / f"{TRAIN}.json") if previous else None
    training_train = read_statistics(training.local_path() / f"{TRAIN}.json") if training else None
    results = {}
    errors: dict[str, list[Anomaly]] = {}
    for split in statistics.properties.get("splits", [TRAIN, EVAL]):
        stats = train_stats if split == TRAIN else read_statistics(folder / f"{split}.json")
        result = validate_statistics(
            stats,
            spec,
            previous=previous_train if split == TRAIN else None,
            training=training_train if split == TRAIN else train_stats,
        )
        results[split] = json.loads(result.to_json())
        found = [a for a in result.anomalies if a.severity is Severity.ERROR]
        if found:
            errors[split] = found
    out = scratch_dir("anomalies") / "anomalies.json"
    out.write_text(json.dumps({"format": "loopml.anomalies.splits", "splits": results}, indent=2))
    counts = {s: len(r["anomalies"]) for s, r in results.items()}
    if errors and fail_on_error:
        detail = " | ".join(_describe(s, a) for s, a in errors.items())
        raise InvalidInput(
            f"Data validation found ERROR anomalies: {detail}. Fix the data or the schema, or pass "
            "fail_on_error=False to continue anyway."
        )
    return Anomalies.from_path(
        out,
        properties={
            "anomalies": counts,
            "errors": sum(len(a) for a in errors.values()),
            "passed": not errors,
        },
    )
