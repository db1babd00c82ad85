"""Feedback labels joined to the predictions each route made: the online-metric gate's outcomes.

The model server remembers, per route, a bounded sample of the requests it answered in the gate
window (request id, the rows' positions and their ``predict`` outputs: :class:`Answered`). At each
analysis the labels users posted through feedback for those request ids are looked up and joined
row by row: a row takes the label for its ``(request id, row)``, else the label for its whole
request (row -1). Whatever the label's own time, it counts in the window of the prediction it
labels, so a late label still reaches the analysis of its window (as long as that window is the
one being analysed). For a binary classifier each row also carries the raw probability of its
positive class (kept by the server even when the output policy hides it), so the AUC gate ranks
scores, not hard labels. Labels keyed by an input feature (``key_field``, the policy's
``gates.label_key_field``) join last, as in the monitor's label join: a row with neither label
takes the whole-key label (row -1) for its value of that feature.

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

import numpy as np
import pyarrow as pa

from loopml.deploy.observations import Outcome
from loopml.errors import InvalidInput
from loopml.store.entities import StoredLabel
from loopml.store.repositories import FeedbackRepository

__all__ = ["Answered", "LabelLookup", "feedback_labels", "join_outcomes", "key_strings", "route_outcomes"]

Value = float | str
StoredValue = str | float | int | bool

LabelLookup = Callable[[Sequence[str]], Iterable[StoredLabel]]
"""Labels for the given keys: request ids (``key_field`` empty), or values of one input feature."""


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
        keys: Each row's value of the label key feature, as a string (empty: no key feature).
    """

    request_id: str
    predictions: tuple[Value, ...]
    rows: tuple[int, ...] = ()
    scores: tuple[float, ...] = ()
    positive: Value | None = None
    keys: tuple[str, ...] = ()

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
        if self.keys and len(self.keys) != len(self.predictions):
            raise InvalidInput(
                f"`keys` must give one key per prediction: {len(self.keys)} keys, "
                f"{len(self.predictions)} predictions."
            )
        if self.scores and self.positive is None:
            raise InvalidInput("`scores` need `positive`: the class they are the probability of.")


def join_outcomes(answered: Iterable[Answered], labels: Iterable[StoredLabel]) -> tuple[Outcome, ...]:
    """The labelled rows of ``answered``: each row's prediction with its row label, its request
    label, or the label of its key feature's value (labels with a ``key_field``, whole-key only)."""
    by_key: dict[tuple[str, int], StoredValue] = {}
    by_feature: dict[str, StoredValue] = {}
    for lab in labels:
        if not lab.key_field:
            by_key[(lab.key, lab.row)] = lab.value
        elif lab.row == -1:
            by_feature[lab.key] = lab.value
    if not by_key and not by_feature:
        return ()
    found: list[Outcome] = []
    for request in answered:
        positions = request.rows or range(len(request.predictions))
        n = len(request.predictions)
        scores: Sequence[float | None] = request.scores or (None,) * n
        keys: Sequence[str | None] = request.keys or (None,) * n
        for row, prediction, score, key in zip(positions, request.predictions, scores, keys, strict=True):
            label = by_key.get((request.request_id, row))
            if label is None:
                label = by_key.get((request.request_id, -1))
            if label is None and key is not None:
                label = by_feature.get(key)
            if label is not None:
                positive = request.positive if score is not None else None
                outcome = Outcome(prediction=prediction, label=_plain(label), score=score, positive=positive)
                found.append(outcome)
    return tuple(found)


def _plain(label: str | float | int | bool) -> Value:
    """A label as an outcome holds it: a string, or a number (booleans and integers as floats)."""
    return label if isinstance(label, str) else float(label)


def route_outcomes(
    answered: Mapping[str, Sequence[Answered]],
    labels: LabelLookup,
    key_labels: LabelLookup | None = None,
) -> dict[str, tuple[Outcome, ...]]:
    """Per route, its answered requests joined with the labels ``labels`` finds by request id and
    ``key_labels`` by key feature value (one lookup of each for all routes)."""
    ids = sorted({a.request_id for requests in answered.values() for a in requests})
    if not ids:
        return {}
    found = list(labels(ids))
    keys = sorted({k for requests in answered.values() for a in requests for k in a.keys})
    if key_labels is not None and keys:
        found.extend(key_labels(keys))
    return {route: join_outcomes(requests, found) for route, requests in answered.items()}


def feedback_labels(repository: FeedbackRepository, model: str, *, key_field: str = "") -> LabelLookup:
    """A lookup of the labels posted for ``model`` (a deployment's name) by request id, or with
    ``key_field`` by the values of that input feature."""

    def lookup(keys: Sequence[str]) -> list[StoredLabel]:
        return repository.find(model, key_field=key_field, keys=keys)

    return lookup


def key_strings(values: Sequence[object] | np.ndarray) -> tuple[str, ...]:
    """Input feature values as the keys feedback labels name (Arrow's string form, as the
    monitor's label join compares them: ``42``, ``3.5``, ``"c-7"``); a missing value as ``""``."""
    return tuple(v if v is not None else "" for v in pa.array(values).cast(pa.string()).to_pylist())
