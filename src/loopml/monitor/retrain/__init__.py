"""The closed loop: retrain policies, triggers and guards, the retrain loop, and its real actions."""

from loopml.monitor.retrain.actions import CandidateEvaluator, DataQualityGate, Deployments, Retrainer
from loopml.monitor.retrain.evaluation import ChampionChallengerEvaluator, no_worse_on
from loopml.monitor.retrain.loop import ACTOR, FAILED_RULE, RetrainLoop
from loopml.monitor.retrain.pipeline import PipelineRetrainer, span_params
from loopml.monitor.retrain.policy import (
    ALL_FEATURES,
    DriftTrigger,
    Guards,
    NewLabelsTrigger,
    PerformanceTrigger,
    RetrainAction,
    RetrainPolicy,
    RetryPolicy,
    ScheduleTrigger,
    load_policy,
    policies_in,
    read_policies,
    read_policy,
    runnable_policies,
)
from loopml.monitor.retrain.records import (
    Candidate,
    CandidateEvaluation,
    Decision,
    DecisionKind,
    QualityVerdict,
    RetrainRequest,
    RetrainState,
    Span,
    Trigger,
)
from loopml.monitor.retrain.triggers import due_triggers

__all__ = [
    "ACTOR",
    "ALL_FEATURES",
    "FAILED_RULE",
    "Candidate",
    "CandidateEvaluation",
    "CandidateEvaluator",
    "ChampionChallengerEvaluator",
    "DataQualityGate",
    "Decision",
    "DecisionKind",
    "Deployments",
    "DriftTrigger",
    "Guards",
    "NewLabelsTrigger",
    "PerformanceTrigger",
    "PipelineRetrainer",
    "QualityVerdict",
    "RetrainAction",
    "RetrainLoop",
    "RetrainPolicy",
    "RetrainRequest",
    "RetrainState",
    "Retrainer",
    "RetryPolicy",
    "ScheduleTrigger",
    "Span",
    "Trigger",
    "due_triggers",
    "load_policy",
    "no_worse_on",
    "policies_in",
    "read_policies",
    "read_policy",
    "runnable_policies",
    "span_params",
]
