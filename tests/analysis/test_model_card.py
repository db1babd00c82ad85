from __future__ import annotations

from pathlib import Path

from loopml.analysis import MetricThreshold, ModelCard, Predictions, evaluate

from .conftest import BinaryData


def _card(binary: BinaryData) -> ModelCard:
    gate = [MetricThreshold(metric="recall", lower=0.65, slices=("SEX",))]
    ev = evaluate(
        binary.y_true, y_score=binary.bad_score, task="binary", features=binary.features,
        slices=["SEX", "RAC1P"], min_slice_size=50, baseline=Predictions(y_score=binary.good_score),
        thresholds=gate, bootstrap=None,
    )  # fmt: skip
    return ModelCard(
        model_name="employment",
        model_version="2",
        evaluation=ev,
        intended_use={"primary use": "audit demo", "out of scope": "decisions about people"},
        data_versions={"train": "ds-2015", "eval": "ds-2016"},
        lineage={"training run": "run-123", "evaluation": "art-456"},
        thresholds=tuple(gate),
        caveats=("Trained on one state only.",),
    )


def test_markdown_card_has_metrics_table_and_facts(binary: BinaryData) -> None:
    md = _card(binary).to_markdown()
    assert md.startswith("# Model card: employment v2")
    assert "| slice | count | accuracy | precision |" in md
    assert "| SEX=2 | " in md and "| RAC1P=6 | " in md
    assert "ds-2015" in md and "run-123" in md and "audit demo" in md
    assert "failed (not blessed)" in md and "recall on slice SEX=2 is" in md
    assert ">= 0.65" in md
    assert "Trained on one state only." in md
    assert "Slices below the minimum size of 50 were not evaluated: RAC1P=9" in md
    assert "## Fairness gaps" in md


def test_html_card_and_files(binary: BinaryData, tmp_path: Path) -> None:
    card = _card(binary)
    md_path, html_path = card.write(tmp_path / "card")
    html = html_path.read_text(encoding="utf-8")
    assert md_path.read_text(encoding="utf-8") == card.to_markdown()
    assert "<table>" in html and "SEX=2" in html and "http" not in html
    assert ModelCard.from_dict(card.to_dict()) == card
