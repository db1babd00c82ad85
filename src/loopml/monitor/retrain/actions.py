"""What the retrain loop acts through: protocols for retraining, evaluating, gating data, and deploying.

The loop knows only these; :class:`~loopml.monitor.retrain.pipeline.PipelineRetrainer`,
:class:`~loopml.monitor.retrain.evaluation.ChampionChallengerEvaluator` and the deployment service
(:class:`~loopml.deploy.service.DeploymentService`) are the real ones.
"""

from __future__ import annotations

from typing import Protocol

from loopml.deploy.records import Deployment
from loopml.monitor.retrain.records import (
    Candidate,
    CandidateEvaluation,
    QualityVerdict,
    RetrainRequest,
    Span,
)

__all__ = ["CandidateEvaluator", "DataQualityGate", "Deployments", "Retrainer"]


class Retrainer(Protocol):
    """Runs the model's pipeline on a new span; never raises for a pipeline failure (``Candidate.error``)."""

    def retrain(self, request: RetrainRequest) -> Candidate: ...


class CandidateEvaluator(Protocol):
    """Compares a candidate with the champion on recent labelled data and slices."""

    def evaluate(
        self, *, deployment: str, champion: str | None, candidate: str, span: Span
    ) -> CandidateEvaluation: ...


class DataQualityGate(Protocol):
    """Says whether the new span's data is fit to train on (validation anomalies, drift of the inputs ...)."""

    def __call__(self, *, deployment: str, span: Span) -> QualityVerdict: ...


class Deployments(Protocol):
    """The part of the deployment service the loop uses (the real one: ``DeploymentService``)."""

    def get(self, name: str) -> Deployment: ...

    def start_canary(
        self, name: str, target: str, *, actor: str | None, reason: str | None = None
    ) -> Deployment: ...
