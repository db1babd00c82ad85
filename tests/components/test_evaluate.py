"""evaluate: sliced metrics, blessing reasons naming metric and slice, champion baseline, bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from loopml.analysis import EvaluationResult
from loopml.components import evaluate, ingest
from loopml.pipeline import StepState

from ._harness import Harness
from ._pipeline import steps


def test_slices_small_slice_reported_and_model_card(
    harness: Harness, data_file: Path, tmp_path: Path
) -> None:
    s = steps(data_file, home=tmp_path / "home", slices=["group", "color * group"])
    result = harness.run(s["evaluate"])
    assert result.is_ok, [x.error for x in result.steps]
    folder = harness.export(result, "evaluate", "evaluation")
    ev = EvaluationResult.load(folder / "evaluation.json")
    assert (folder / "report.html").is_file()
    small = ev.get_slice("group=4")
    assert not small.is_evaluated and "minimum slice size" in (small.note or "")
    card = (harness.export(result, "evaluate", "model_card") / "model_card.md").read_text()
    assert "group=1" in card


def test_failed_threshold_names_metric_and_slice(harness: Harness, data_file: Path, tmp_path: Path) -> None:
    s = steps(
        data_file,
        home=tmp_path / "home",
        thresholds=[{"metric": "accuracy", "lower": 0.99, "slices": ["group"]}],
    )
    result = harness.run(s["evaluate"])
    blessing = harness.props(result, "evaluate", "blessing")
    assert blessing["blessed"] is False
    assert any("accuracy" in r and "group=" in r for r in blessing["reasons"]), blessing["reasons"]


def test_unknown_metric_in_threshold_is_a_clear_error(
    harness: Harness, data_file: Path, tmp_path: Path
) -> None:
    s = steps(data_file, home=tmp_path / "home", thresholds=[{"metric": "acuracy", "lower": 0.5}])
    result = harness.run(s["evaluate"])
    step = result.step("evaluate")
    assert step.state is StepState.FAILED and "acuracy" in (step.error or "")
    assert "accuracy" in (step.error or "")  # the valid names are listed


def test_missing_column_at_evaluation_names_it(harness: Harness, data_file: Path, tmp_path: Path) -> None:
    s = steps(data_file, home=tmp_path / "home")
    trained = harness.run(s["train"])
    assert trained.is_ok
    broken = tmp_path / "broken.parquet"
    pd.read_parquet(data_file).drop(columns=["color"]).to_parquet(broken, index=False)
    other = ingest.step("ingest_broken", source=str(broken), dataset_name="people-broken", key="id")
    result = harness.run(evaluate(model=s["train"].output, examples=other.output, slices=["group"]))
    step = result.step("evaluate")
    assert step.state is StepState.FAILED
    assert "'color' (a model input)" in (step.error or "")


def test_champion_is_the_baseline_after_a_push(harness: Harness, data_file: Path, tmp_path: Path) -> None:
    s = steps(
        data_file,
        home=tmp_path / "home",
        thresholds=[
            {"metric": "accuracy", "lower": 0.5},
            {"metric": "roc_auc", "change_tolerance": 0.0, "slices": ["overall"]},
        ],
    )
    first = harness.run(s["push"])
    assert first.is_ok and harness.props(first, "push", "pushed_model")["pushed"] is True
    again = harness.run(s["push"], no_cache=True)
    blessing = harness.props(again, "evaluate", "blessing")
    assert blessing["has_baseline"] is True
    pushed = harness.props(first, "push", "pushed_model")
    assert pushed["registry_uri"] == "models:/people@champion"
    assert blessing["champion"] == pushed["registry_version_uri"] == "models:/people/1"
