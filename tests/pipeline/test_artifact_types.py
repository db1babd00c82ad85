"""Artifact handles: pending outputs, references, reading outside a step, custom types."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loopml.errors import InvalidInput, InvalidState
from loopml.pipeline import (
    ArtifactType,
    Dataset,
    Pipeline,
    PipelineRunner,
    Statistics,
    StepState,
    component,
    scratch_dir,
)
from loopml.pipeline.artifact_types import artifact_type_for


class Embeddings(ArtifactType):
    """A user-defined artifact type."""


@component
def register(*, path: str) -> Dataset:
    return Dataset.from_reference(path, properties={"source": "external"})


@component
def read_reference(data: Dataset) -> Statistics:
    return Statistics.from_properties({"text": data.local_path().read_text(), "ref": data.is_reference})


@component
def embed(data: Dataset) -> Embeddings:
    return Embeddings.from_properties({"dim": 3})


def test_reference_outputs_are_registered_in_place(runner: PipelineRunner, tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    source.write_text("a,b\n1,2\n")
    ref = register(path=str(source))
    result = runner.run(Pipeline("refs", steps=[read_reference(data=ref.output), embed(data=ref.output)]))
    assert result.is_ok, [s.error for s in result.steps]
    stats = runner.store.artifacts.get(result.step("read_reference").outputs["statistics"])
    assert json.loads(runner.blobs.read_bytes(stats.sha256 or "")) == {"text": "a,b\n1,2\n", "ref": True}
    dataset = runner.store.artifacts.get(result.step("register").outputs["dataset"])
    assert dataset.is_reference and dataset.properties["source"] == "external"
    assert runner.store.artifacts.get(result.step("embed").outputs["embeddings"]).type == "Embeddings"
    rerun = runner.run(Pipeline("refs", steps=[embed(data=ref.output)]))
    assert rerun.step("embed").state is StepState.CACHED


def test_custom_types_register_by_name() -> None:
    assert Embeddings.type_name == "Embeddings" and artifact_type_for("Embeddings") is Embeddings
    assert embed.outputs == {"embeddings": Embeddings}


def test_pending_and_stored_handles(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        Dataset.from_path(tmp_path / "nope")
    folder = scratch_dir("x")  # outside a step: a fresh temporary folder
    assert folder.is_dir() and not any(folder.iterdir())
    pending = Dataset.from_path(folder)
    assert pending.is_directory and not pending.is_stored and pending.local_path() == folder
    stored = Dataset(artifact_id="a" * 32, uri="sha256/aa/" + "a" * 62, sha256="a" * 64)
    with pytest.raises(InvalidState, match="only readable inside a running component"):
        stored.local_path()


def test_importing_pipeline_does_not_import_ray() -> None:
    code = "import loopml.pipeline, loopml.cli.pipeline, sys; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
