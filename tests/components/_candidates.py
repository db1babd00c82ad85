"""A component making a fake evaluated candidate (model, blessing, evaluation) for select tests."""

from __future__ import annotations

from typing import NamedTuple

from loopml.pipeline import Blessing, Evaluation, Model, component


class Candidate(NamedTuple):
    model: Model
    blessing: Blessing
    evaluation: Evaluation


@component
def make_candidate(*, name: str, blessed: bool, auc: float) -> Candidate:
    """Properties-only artifacts standing for a trained and evaluated model."""
    return Candidate(
        model=Model.from_properties({"name": name}),
        blessing=Blessing.from_properties({"blessed": blessed, "name": name}),
        evaluation=Evaluation.from_properties({"overall": {"roc_auc": auc}, "name": name}),
    )
