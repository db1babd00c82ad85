"""``select``: pick the better of two evaluated candidates, preferring blessed ones."""

from __future__ import annotations

from typing import NamedTuple

from loopml.errors import InvalidInput
from loopml.pipeline import Blessing, Evaluation, Model, component

__all__ = ["SelectOutputs", "select"]


class SelectOutputs(NamedTuple):
    model: Model
    blessing: Blessing
    evaluation: Evaluation


def _rank(blessing: Blessing, evaluation: Evaluation, metric: str) -> tuple[bool, float]:
    overall = evaluation.properties.get("overall", {})
    if metric not in overall:
        raise InvalidInput(
            f"select: metric {metric!r} is not among the evaluated ones: {', '.join(sorted(overall))}."
        )
    value = overall[metric]
    return bool(blessing.properties.get("blessed")), float("-inf") if value is None else float(value)


@component
def select(
    model: Model,
    blessing: Blessing,
    evaluation: Evaluation,
    other_model: Model,
    other_blessing: Blessing,
    other_evaluation: Evaluation,
    *,
    metric: str = "roc_auc",
    higher_is_better: bool = True,
) -> SelectOutputs:
    """The blessed candidate with the better overall ``metric`` (ties keep the first).

    When neither is blessed the better one is returned with its failed blessing, so ``push``
    refuses it and says why.
    """
    first, second = _rank(blessing, evaluation, metric), _rank(other_blessing, other_evaluation, metric)
    sign = 1.0 if higher_is_better else -1.0
    take_other = (second[0], sign * second[1]) > (first[0], sign * first[1])
    if take_other:
        return SelectOutputs(model=other_model, blessing=other_blessing, evaluation=other_evaluation)
    return SelectOutputs(model=model, blessing=blessing, evaluation=evaluation)
