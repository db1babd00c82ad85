"""select: the blessed candidate wins; between equals, the better metric; an unknown metric is named."""

from __future__ import annotations

from loopml.components import select
from loopml.pipeline import Pipeline, PipelineRunResult, StepState

from ._candidates import make_candidate
from ._harness import Harness


def _select(
    harness: Harness, *, a: tuple[bool, float], b: tuple[bool, float], metric: str = "roc_auc"
) -> PipelineRunResult:
    first = make_candidate.step("a", name="a", blessed=a[0], auc=a[1])
    second = make_candidate.step("b", name="b", blessed=b[0], auc=b[1])
    step = select(
        model=first.outputs["model"],
        blessing=first.outputs["blessing"],
        evaluation=first.outputs["evaluation"],
        other_model=second.outputs["model"],
        other_blessing=second.outputs["blessing"],
        other_evaluation=second.outputs["evaluation"],
        metric=metric,
    )
    return harness.runner.run(Pipeline("select", steps=[step]))


def test_blessed_beats_a_better_unblessed_one(harness: Harness) -> None:
    result = _select(harness, a=(True, 0.7), b=(False, 0.9))
    assert result.step("select").outputs["model"] == result.step("a").outputs["model"]


def test_better_metric_wins_among_blessed(harness: Harness) -> None:
    result = _select(harness, a=(True, 0.7), b=(True, 0.9))
    assert result.step("select").outputs["model"] == result.step("b").outputs["model"]
    assert result.step("select").outputs["blessing"] == result.step("b").outputs["blessing"]


def test_unknown_metric_is_named(harness: Harness) -> None:
    result = _select(harness, a=(True, 0.7), b=(True, 0.9), metric="auroc")
    step = result.step("select")
    assert step.state is StepState.FAILED and "auroc" in (step.error or "")
