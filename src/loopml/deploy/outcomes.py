"""Feedback labels joined to the predictions each route made: the online-metric gate's outcomes.

The model server remembers, per route, a bounded sample of the requests it answered in the gate
window (request id, the rows' positions and their ``predict`` outputs: :class:`Answered`). At each
analysis the labels users posted through feedback for those request ids are looked up and joined
row by row: a row takes the label for its ``(request id, row)``, else the label for its whole
request (row -1). Whatever the label's own time, it counts in the window of the prediction it
labels, so a late label still reaches the analysis of its window (as long as that window is the
one being analysed). For a binary classifier each row also carries the raw probability of its
positive class (kept by the server even when the output policy hides it), so the AUC gate ranks
scores, not hard labels. Labels keyed by an input feature (``key_field``) are not joined here: a route's
outcome needs the request it labels.

Example:
    >>> from loopml.store.entities import StoredLabel
    >>> answered = [Answered(request_id="r1", predictions=("yes", "no")),
    ...             Answered(request_id="r2", predictions=("no",))]
    >>> labels = [StoredLabel(model="churn", key="r1", row=-1, value="yes", observed_at=0),
    ...           StoredLabel(model="churn", key="r1", row=1, value="yes", observed_at=0)]
    >>> [(o.prediction, o.label) for o in join_outcomes(answered, labels)]
    [('yes', 'yes'), ('no', 'yes')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from loopml.deploy.observations import Outcome
from loopml.errors import InvalidInput
from loopml.store.entities import StoredLabel
from loopml.store.repositories import FeedbackRepository

__all__ = ["Answered", "LabelLookup", "feedback_labels", "join_outcomes", "route_outcomes"]

Value = float | str

LabelLookup = Callable[[Sequence[str]], Iterable[StoredLabel]]
"""Labels (by request id, ``key_field`` empty) for the given request ids."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Answered:
    """One answered request of a route, as the label join needs it.

    Attributes:
        request_id: The request's id (what feedback labels name).
        predictions: The ``predict`` output of each observed row.
        rows: The position of each of those rows in the request; empty: ``0, 1, ...``
            (a request split across routes answers only some of its rows on each).
        scores: A binary classifier's raw probability of its ``positive`` class for each of
            those rows (the AUC gate ranks by them); empty when the model gives none.
        positive: The class the scores are the probability of.
    """

    request_id: str
    predictions: tuple[Value, ...]
    rows: tuple[int, ...] = ()
    scores: tuple[float, ...] = ()
    positive: Value | None = None

    def __post_init__(self) -> None:
        if self.rows and len(self.rows) != len(self.predictions):
            raise InvalidInput(
                f"`rows` must give one position per prediction: {len(self.rows)} rows, "
                f"{len(self.predictions)} predictions."
            )
        if self.scores and len(self.scores) != len(self.predictions):
            raise InvalidInput(
                f"`scores` must give one score per prediction: {len(self.scores)} scores, "
                f"{len(self.predictions)} predictions."
            )
        if self.scores and self.positive is None:
            raise InvalidInput("`scores` need `positive`: the class they are the probability of.")


def join_outcomes(answered: Iterable[Answered], labels: Iterable[StoredLabel]) -> tuple[Outcome, ...]:
    """The labelled rows of ``answered``: each row's prediction with its row label or request label."""
    by_key = {(lab.key, lab.row): lab.value for lab in labels if not lab.key_field}
    if not by_key:
        return ()
    found: list[Outcome] = []
    for request in answered:
        positions = request.rows or range(len(request.predictions))
        scores: Sequence[float | None] = request.scores or (None,) * len(request.predictions)
        for row, prediction, score in zip(positions, request.predictions, scores, strict=True):
            label = by_key.get((request.request_id, row))
            if label is None:
                label = by_key.get((request.request_id, -1))
            if label is not None:
                positive = request.positive if score is not None else None
                outcome = Outcome(prediction=prediction, label=_plain(label), score=score, positive=positive)
                found.append(outcome)
    return tuple(found)


def _plain(label: str | float | int | bool) -> Value:
    """A label as an outcome holds it: a string, or a number (booleans and integers as floats)."""
    return label if isinstance(label, str) else float(label)


def route_outcomes(
    answered: Mapping[str, Sequence[Answered]], labels: LabelLookup
) -> dict[str, tuple[Outcome, ...]]:
    """Per route, its answered requests joined with the labels ``labels`` finds (one lookup for all)."""
    ids = sorted({a.request_id for requests in answered.values() for a in requests})
    if not ids:
        return {}
    found = list(labels(ids))
    return {route: join_outcomes(requests, found) for route, requests in answered.items()}


def feedback_labels(repository: FeedbackRepository, model: str) -> LabelLookup:
    """A lookup of the labels posted for ``model`` (a deployment's name) by request id."""

    def lookup(request_ids: Sequence[str]) -> list[StoredLabel]:
        return repository.find(model, key_field="", keys=request_ids)

    return lookup
