"""statistics per split; schema inferred from the train split, or a curated file reused."""

from __future__ import annotations

from pathlib import Path

from loopml.components import file_digest, ingest, schema, statistics
from loopml.data import FeatureType, read_schema, read_statistics, write_schema
from loopml.pipeline import StepState

from ._harness import Harness


def test_statistics_per_split_and_inferred_schema(harness: Harness, data_file: Path) -> None:
    examples = ingest(source=str(data_file), dataset_name="people", key="id")
    stats = statistics(examples=examples.output)
    result = harness.run(schema(statistics=stats.output))
    folder = harness.export(result, "statistics", "statistics")
    train, evals = read_statistics(folder / "train.json"), read_statistics(folder / "eval.json")
    assert train.num_examples + evals.num_examples == 800
    assert train.get_feature("color").type is FeatureType.STRING
    spec = read_schema(harness.export(result, "schema", "schema"))
    assert spec.get_feature("age").type is FeatureType.FLOAT
    assert harness.props(result, "schema", "schema")["origin"] == "inferred"


def test_curated_schema_is_reused_and_edits_rerun_the_step(
    harness: Harness, data_file: Path, tmp_path: Path
) -> None:
    examples = ingest(source=str(data_file), dataset_name="people", key="id")
    stats = statistics(examples=examples.output)
    inferred = harness.run(schema(statistics=stats.output))
    curated = tmp_path / "curated.yaml"
    spec = read_schema(harness.export(inferred, "schema", "schema"))
    write_schema(spec, curated)
    first = harness.run(
        schema(statistics=stats.output, curated=str(curated), curated_digest=file_digest(curated))
    )
    assert harness.props(first, "schema", "schema")["origin"] == "curated"
    curated.write_text(curated.read_text() + "\n# reviewed\n")
    second = harness.run(
        schema(statistics=stats.output, curated=str(curated), curated_digest=file_digest(curated))
    )
    assert second.step("schema").state is StepState.COMPLETE
    assert second.step("statistics").state is StepState.CACHED
