"""Model evaluation: sliced metrics with bootstrap intervals, thresholds against a baseline, blessing,
fairness gaps, HTML/JSON reports and model cards.

Works on in-memory labels, predictions and a feature frame; depends only on numpy, pandas and
scikit-learn.

Example:
    >>> import pandas as pd
    >>> from loopml.analysis import MetricThreshold, evaluate
    >>> features = pd.DataFrame({"SEX": [1, 2] * 40})
    >>> result = evaluate(
    ...     [0, 1, 1, 0] * 20, y_pred=[0, 1, 1, 1] * 20, task="binary", features=features,
    ...     slices=["SEX"], bootstrap=None,
    ...     thresholds=[MetricThreshold(metric="accuracy", lower=0.9, slices=("SEX",))])
    >>> result.blessing.passed, result.blessing.reasons
    (False, ['accuracy on slice SEX=2 is 0.5 < lower bound 0.9'])
"""

from loopml.analysis._outcomes import TaskKind
from loopml.analysis.blessing import Blessing, CheckKind, CheckOutcome
from loopml.analysis.bootstrap import BootstrapConfig, ConfidenceInterval, bootstrap_intervals
from loopml.analysis.evaluate import DEFAULT_MIN_SLICE_SIZE, Predictions, evaluate
from loopml.analysis.fairness import (
    FairnessGap,
    disparate_impact,
    equal_opportunity_difference,
    fairness_gap,
    fairness_gaps,
)
from loopml.analysis.metrics import Direction, MetricSpec, get_metric, metric_names
from loopml.analysis.model_card import ModelCard
from loopml.analysis.report import render_html, write_html, write_json
from loopml.analysis.results import Curve, Curves, EvaluationResult, MetricValue, SliceResult
from loopml.analysis.slicing import OVERALL, SliceSpec
from loopml.analysis.stored import load_evaluation
from loopml.analysis.thresholds import ALL_SLICES, ChangeMode, MetricThreshold, ReferencePerformance

__all__ = [
    "ALL_SLICES",
    "DEFAULT_MIN_SLICE_SIZE",
    "OVERALL",
    "Blessing",
    "BootstrapConfig",
    "ChangeMode",
    "CheckKind",
    "CheckOutcome",
    "ConfidenceInterval",
    "Curve",
    "Curves",
    "Direction",
    "EvaluationResult",
    "FairnessGap",
    "MetricSpec",
    "MetricThreshold",
    "MetricValue",
    "ModelCard",
    "Predictions",
    "ReferencePerformance",
    "SliceResult",
    "SliceSpec",
    "TaskKind",
    "bootstrap_intervals",
    "disparate_impact",
    "equal_opportunity_difference",
    "evaluate",
    "fairness_gap",
    "fairness_gaps",
    "get_metric",
    "load_evaluation",
    "metric_names",
    "render_html",
    "write_html",
    "write_json",
]
