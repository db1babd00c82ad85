"""The retrain loop's values: spans, triggers, what each collaborator returns, and decisions.

Example:
    >>> from datetime import UTC, datetime
    >>> span = Span(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 2, 1, tzinfo=UTC))
    >>> span.days
    31.0
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loopml.errors import InvalidInput

__all__ = [
    "Candidate",
    "CandidateEvaluation",
    "Decision",
    "DecisionKind",
    "QualityVerdict",
    "RetrainRequest",
    "RetrainState",
    "Span",
    "Trigger",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Span:
    """The training window: ``[start, end)``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidInput(f"A span must end after it starts. Got {self.start} .. {self.end}.")

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86_400

    def to_document(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True, slots=True, kw_only=True)
class Trigger:
    """Why a retraining is due: which trigger (``drift``, ``performance``, ``schedule``, ``new_labels``,
    ``alerts``, ``retry``), a sentence, and the evidence."""

    kind: str
    reason: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_document(self) -> dict[str, Any]:
        return {"kind": self.kind, "reason": self.reason, "evidence": dict(self.evidence)}


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityVerdict:
    """The data-quality gate's answer on the new span."""

    passed: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrainRequest:
    """What a :class:`~loopml.monitor.retrain.actions.Retrainer` is asked to do."""

    deployment: str
    span: Span
    champion: str | None
    attempt: int
    retrain_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """What a retraining produced.

    Attributes:
        model_uri: The registered candidate (``models:/NAME/VERSION``); None when the pipeline did
            not produce one (``error`` says why).
        error: Why the pipeline failed (None when it ran through).
        refused: Why the pipeline's own gates refused the new model (it ran, but pushed nothing).
        pipeline_run: The pipeline run's id (lineage).
        details: Anything else worth recording (steps, statistics, validation).
    """

    model_uri: str | None = None
    error: str | None = None
    refused: str | None = None
    pipeline_run: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateEvaluation:
    """The candidate against the champion on recent labelled data: blessed or not, why, and the figures."""

    blessed: bool
    reasons: tuple[str, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)


class RetrainState(enum.StrEnum):
    """Where a stored retraining stands."""

    RUNNING = "running"
    BLOCKED = "blocked"  # the data-quality gate refused the span
    FAILED = "failed"  # the pipeline failed (retried while attempts remain)
    REJECTED = "rejected"  # no candidate, or not better than the champion
    CANARY = "canary"  # the candidate is being rolled out
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    SUPERSEDED = "superseded"  # someone else changed the canary


FINISHED = frozenset(
    {
        RetrainState.BLOCKED,
        RetrainState.FAILED,
        RetrainState.REJECTED,
        RetrainState.PROMOTED,
        RetrainState.ROLLED_BACK,
        RetrainState.SUPERSEDED,
    }
)


class DecisionKind(enum.StrEnum):
    """What one step of the loop decided for a deployment."""

    NOTHING = "nothing"  # no trigger
    HELD = "held"  # a trigger, held back by a guard
    WAITING = "waiting"  # a canary of an earlier retraining is still rolling out
    RETRAIN = "retrain"  # dry run: would retrain
    BLOCKED = "blocked"
    FAILED = "failed"
    REJECTED = "rejected"
    CANARY = "canary"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """One decision of the loop, with its reason and what it links to."""

    deployment: str
    kind: DecisionKind
    reason: str
    at: datetime
    triggers: tuple[Trigger, ...] = ()
    retrain_id: str | None = None
    span: Span | None = None
    candidate: str | None = None
    dry_run: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        """The JSON view (CLI ``--json``, API)."""
        return {
            "deployment": self.deployment,
            "decision": self.kind.value,
            "reason": self.reason,
            "at": self.at.isoformat(),
            "triggers": [t.to_document() for t in self.triggers],
            "retrain_id": self.retrain_id,
            "span": None if self.span is None else self.span.to_document(),
            "candidate": self.candidate,
            "dry_run": self.dry_run,
            "details": dict(self.details),
        }
