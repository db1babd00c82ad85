"""validate: clean data passes; ERROR anomalies fail the step unless fail_on_error=False."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from loopml.components import file_digest, ingest, schema, statistics, validate
from loopml.pipeline import StepState

from ._harness import Harness


def _curated_without_blue(harness: Harness, data_file: Path, tmp_path: Path) -> Path:
    """A curated schema whose colour domain lacks 'blue' (so the data has unexpected values)."""
    examples = ingest(source=str(data_file), dataset_name="people", key="id")
    result = harness.run(schema(statistics=statistics(examples=examples.output).output))
    text = harness.export(result, "schema", "schema").read_text()
    assert "domain: [blue, green, red]" in text
    curated = tmp_path / "curated.yaml"
    curated.write_text(text.replace("domain: [blue, green, red]", "domain: [green, red]"))
    return curated


def test_clean_data_passes(harness: Harness, data_file: Path) -> None:
    examples = ingest(source=str(data_file), dataset_name="people", key="id")
    stats = statistics(examples=examples.output)
    result = harness.run(validate(statistics=stats.output, schema=schema(statistics=stats.output).output))
    assert result.step("validate").state is StepState.COMPLETE
    assert harness.props(result, "validate", "anomalies")["errors"] == 0


def test_error_anomalies_fail_the_step_and_stop_downstream(
    harness: Harness, data_file: Path, tmp_path: Path
) -> None:
    curated = _curated_without_blue(harness, data_file, tmp_path)
    examples = ingest(source=str(data_file), dataset_name="people", key="id")
    stats = statistics(examples=examples.output)
    spec = schema(statistics=stats.output, curated=str(curated), curated_digest=file_digest(curated))
    result = harness.run(validate(statistics=stats.output, schema=spec.output))
    step = result.step("validate")
    assert step.state is StepState.FAILED
    assert "color" in (step.error or "") and "ERROR anomalies" in (step.error or "")
    lenient = harness.run(validate(statistics=stats.output, schema=spec.output, fail_on_error=False))
    assert lenient.step("validate").state is StepState.COMPLETE
    assert harness.props(lenient, "validate", "anomalies")["errors"] >= 1


def test_drift_against_previous_span_is_checked(harness: Harness, data_file: Path, tmp_path: Path) -> None:
    from ._harness import make_frame

    shifted = tmp_path / "later.parquet"
    make_frame(seed=1, shift=25.0).to_parquet(shifted, index=False)
    before = ingest.step("ingest_before", source=str(data_file), dataset_name="people", key="id")
    after = ingest.step("ingest_after", source=str(shifted), dataset_name="people", key="id")
    stats_before = statistics.step("stats_before", examples=before.output)
    stats_after = statistics.step("stats_after", examples=after.output)
    spec = schema(statistics=stats_before.output)
    result = harness.run(
        validate(
            statistics=stats_after.output,
            schema=spec.output,
            previous=stats_before.output,
            fail_on_error=False,
        )
    )
    report = pd.read_json(harness.export(result, "validate", "anomalies"), typ="series")
    kinds = {a["kind"] for a in report["splits"]["train"]["anomalies"]}
    assert any("DRIFT" in k or "COMPARATOR" in k for k in kinds), kinds
