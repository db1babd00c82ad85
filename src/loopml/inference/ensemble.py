"""Ensembles: one served model answering with several registered models combined.

A single model can be evaded by inputs crafted against it; several independently trained
models voting make that harder. Every member is loaded through the verified path
(:func:`~loopml.inference.loading.load_served_model`) and all must share one input signature
(same column names and types, in the same order). Combinations:

* ``vote``: the most frequent predicted label per row (ties go to the earliest member); labels only;
* ``mean``: the mean of the members' outputs (probabilities for classifiers with the same classes,
  values for regressors);
* ``weighted``: the same with ``weights`` (one non-negative number per member, not all zero).

In ``serve.yaml``::

    models:
      - name: census-ensemble
        ensemble:
          combine: weighted
          members: [models:/census-gbm@champion, models:/census-logreg@champion]
          weights: [0.7, 0.3]
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.inference.inputs import ModelInput
from loopml.inference.loading import ModelSource, load_served_model
from loopml.inference.model import Batching, ServedModel
from loopml.inference.outputs import PREDICT, PROBABILITIES, OutputPolicy
from loopml.registry import ModelRegistry, TrustStore

__all__ = ["Combine", "EnsembleModel", "EnsembleSource", "combine_members", "load_ensemble"]


class Combine(enum.StrEnum):
    """How an ensemble combines its members' answers."""

    VOTE = "vote"
    MEAN = "mean"
    WEIGHTED = "weighted"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EnsembleSource:
    """An ensemble to serve.

    Attributes:
        name: The name clients use.
        members: The member models (URIs or package folders), at least two.
        combine: ``vote``, ``mean`` or ``weighted``.
        weights: One per member (``weighted`` only).
        policy: The output obfuscation policy of the combined answer.
        batching: Micro-batching settings.
        log_sample_rate: Fraction of its requests written to the prediction log.
    """

    name: str
    members: tuple[str, ...]
    combine: Combine = Combine.VOTE
    weights: tuple[float, ...] = ()
    policy: OutputPolicy = dataclasses.field(default_factory=OutputPolicy)
    batching: Batching = dataclasses.field(default_factory=Batching)
    log_sample_rate: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise InvalidInput(f"An ensemble needs a name, non-empty and without '/'; got {self.name!r}.")
        if len(self.members) < 2 or not all(isinstance(m, str) and m for m in self.members):
            raise InvalidInput(
                f"Ensemble {self.name!r} needs at least two members (model URIs); got {list(self.members)!r}."
            )
        if self.combine is Combine.WEIGHTED:
            weights = self.weights
            valid = all(isinstance(w, int | float) and not isinstance(w, bool) and w >= 0 for w in weights)
            if len(weights) != len(self.members) or not valid or not sum(weights) > 0:
                raise InvalidInput(
                    f"Ensemble {self.name!r} combines 'weighted': give weights, one non-negative number per "
                    f"member ({len(self.members)}), not all zero; got {list(weights)!r}."
                )
        elif self.weights:
            raise InvalidInput(f"Ensemble {self.name!r}: weights are only used with combine: weighted.")

    @classmethod
    def from_mapping(
        cls,
        name: Any,
        data: Any,
        *,
        where: str,
        policy: OutputPolicy,
        batching: Batching,
        log_sample_rate: float,
    ) -> EnsembleSource:
        """Parse ``{combine, members, weights}``.

        Raises:
            InvalidInput: naming the bad key or value.
        """
        if not isinstance(data, Mapping) or set(data) - {"combine", "members", "weights"}:
            raise InvalidInput(f"{where} must be a mapping with keys combine, members, weights.")
        combine = data.get("combine", "vote")
        try:
            parsed = Combine(combine)
        except ValueError:
            raise InvalidInput(f"{where}.combine must be vote, mean or weighted; got {combine!r}.") from None
        members, weights = data.get("members") or [], data.get("weights") or []
        if not isinstance(members, list) or not isinstance(weights, list):
            raise InvalidInput(f"{where}.members and .weights must be lists.")
        return cls(
            name=name,
            members=tuple(members),
            combine=parsed,
            weights=tuple(weights),
            policy=policy,
            batching=batching,
            log_sample_rate=log_sample_rate,
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EnsembleModel(ServedModel):
    """A served model whose answer combines its members' (see the module docs).

    Attributes:
        members: The loaded members (their own output policies are not applied).
        combine: How answers are combined.
        weights: Normalised weights, one per member.
    """

    members: tuple[ServedModel, ...] = ()
    combine: Combine = Combine.VOTE
    weights: tuple[float, ...] = ()

    @property
    def flavor(self) -> str:
        """``ensemble``."""
        return "ensemble"

    @property
    def registered_versions(self) -> tuple[str, ...]:
        """Its members' registry versions (``NAME/VERSION``, each once, in member order)."""
        return tuple(dict.fromkeys(v for m in self.members for v in m.registered_versions))

    def predict(self, rows: ModelInput) -> dict[str, np.ndarray]:
        """The combined outputs for ``rows``.

        Raises:
            InvalidInput: a member refused the values.
        """
        answers = [m.predict(rows) for m in self.members]
        if self.combine is Combine.VOTE:
            labels = np.stack([np.asarray(a[PREDICT]) for a in answers], axis=1)
            return {PREDICT: np.asarray([_majority(row) for row in labels])}
        weights = np.asarray(self.weights)
        if self.has_probabilities:
            proba = np.tensordot(weights, np.stack([a[PROBABILITIES] for a in answers]), axes=1)
            assert self.classes is not None
            return {PREDICT: self.classes[np.argmax(proba, axis=1)], PROBABILITIES: proba}
        values = np.stack([np.asarray(a[PREDICT], dtype=np.float64) for a in answers])
        return {PREDICT: np.tensordot(weights, values, axes=1)}


def _majority(votes: np.ndarray) -> Any:
    _, first, counts = np.unique(votes, return_index=True, return_counts=True)
    best = counts.max()
    return votes[min(int(f) for f, c in zip(first, counts, strict=True) if c == best)]


def _same_signature(source: EnsembleSource, members: list[ServedModel]) -> None:
    first = members[0]
    expected = [(c.name, c.kind) for c in first.schema.columns]
    for uri, member in zip(source.members[1:], members[1:], strict=True):
        got = [(c.name, c.kind) for c in member.schema.columns]
        if got != expected:
            raise InvalidInput(
                f"Ensemble {source.name!r}: member {uri} takes inputs {[f'{n}:{k}' for n, k in got]} but "
                f"{source.members[0]} takes {[f'{n}:{k}' for n, k in expected]}; every member needs the same "
                "input signature."
            )


def load_ensemble(
    source: EnsembleSource, *, registry: ModelRegistry | None = None, trust_store: TrustStore | None = None
) -> EnsembleModel:
    """Load and verify every member, check their signatures match, and combine them.

    Raises:
        InvalidInput: members with different signatures, classes, or kinds for ``mean``/``weighted``.
        NotFound, IntegrityError, UnsafeArtifact, PolicyViolation: as for a single model.
    """
    members = [
        load_served_model(ModelSource(uri=uri), registry=registry, trust_store=trust_store)
        for uri in source.members
    ]
    return combine_members(source, members)


def combine_members(source: EnsembleSource, members: Sequence[ServedModel]) -> EnsembleModel:
    """Combine already loaded and verified ``members`` (one per ``source.members``, in order).

    Raises:
        InvalidInput: members with different signatures, classes, or kinds for ``mean``/``weighted``.
    """
    members = list(members)
    _same_signature(source, members)
    first = members[0]
    classifiers = [m.classes is not None for m in members]
    if (
        source.combine is not Combine.VOTE
        and any(classifiers)
        and not all(m.has_probabilities for m in members)
    ):
        raise InvalidInput(
            f"Ensemble {source.name!r} combines {source.combine.value!r}: every member must give class "
            "probabilities (or every member be a regressor); use combine: vote for labels."
        )
    has_probabilities = source.combine is not Combine.VOTE and all(m.has_probabilities for m in members)
    if has_probabilities:
        for uri, member in zip(source.members[1:], members[1:], strict=True):
            if (
                member.classes is None
                or first.classes is None
                or not np.array_equal(member.classes, first.classes)
            ):
                raise InvalidInput(
                    f"Ensemble {source.name!r}: member {uri} has classes different from {source.members[0]}; "
                    "probabilities can only be averaged over the same classes."
                )
    raw = source.weights if source.combine is Combine.WEIGHTED else (1.0,) * len(members)
    total = float(sum(raw))
    return EnsembleModel(
        name=source.name,
        version="1",
        source=f"ensemble:{source.combine.value}({', '.join(source.members)})",
        predictor=first.predictor,
        schema=first.schema,
        policy=source.policy,
        batching=source.batching,
        accepts_matrix=all(m.accepts_matrix for m in members),
        has_probabilities=has_probabilities,
        classes=first.classes if all(classifiers) else None,
        members=tuple(members),
        combine=source.combine,
        weights=tuple(float(w) / total for w in raw),
    )
