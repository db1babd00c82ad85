"""Module-level components shared by the pipeline tests (importable by pool and Ray workers)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import NamedTuple

from loopml.pipeline import (
    Dataset,
    Model,
    Parameter,
    Pipeline,
    Statistics,
    component,
    current_step,
    scratch_dir,
)


@component
def make_data(*, rows: int = 5, seed: int = 0) -> Dataset:
    """Write a small JSON-lines dataset."""
    out = scratch_dir("data") / "rows.jsonl"
    out.write_text("".join(json.dumps({"i": i, "seed": seed}) + "\n" for i in range(rows)))
    return Dataset.from_path(out, properties={"rows": rows})


@component
def count_rows(data: Dataset) -> Statistics:
    """Count the lines of a dataset."""
    lines = data.read_bytes().decode().splitlines()
    return Statistics.from_properties({"rows": len(lines)})


class FitOutputs(NamedTuple):
    model: Model
    stats: Statistics


@component
def fit(data: Dataset, stats: Statistics, *, epochs: int = 1) -> FitOutputs:
    """Write a model folder with two files; pass statistics through."""
    folder = scratch_dir("model")
    (folder / "weights.txt").write_text(f"epochs={epochs}")
    (folder / "sub").mkdir()
    (folder / "sub" / "meta.json").write_text(json.dumps(stats.read_json()))
    return FitOutputs(model=Model.from_path(folder, properties={"epochs": epochs}), stats=stats)


@component
def inspect_model(model: Model) -> Statistics:
    """Read a folder artifact back."""
    root = model.local_path()
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return Statistics.from_properties({"files": files, "weights": (root / "weights.txt").read_text()})


@component
def boom(data: Dataset) -> Model:
    """Always fails."""
    raise RuntimeError(f"boom on {data.properties['rows']} rows")


@component
def wrong_type(data: Dataset) -> Model:
    """Returns a Dataset where a Model is declared."""
    return Dataset.from_properties({"oops": True})  # type: ignore[return-value]


@component
def missing_output(data: Dataset) -> FitOutputs:
    """Returns only one of its two outputs."""
    return {"model": Model.from_properties({})}  # type: ignore[return-value]


@component(retries=3, backoff_s=0.01)
def flaky(*, counter: str, succeed_on: int = 3) -> Dataset:
    """Fails until it has been called ``succeed_on`` times (counted in a file)."""
    path = Path(counter)
    calls = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(calls))
    if calls < succeed_on:
        raise ConnectionError(f"transient failure {calls}")
    return Dataset.from_properties({"calls": calls})


@component
def where_am_i(*, tag: str, sleep_s: float = 0.0) -> Statistics:
    """Report the worker's process id."""
    time.sleep(sleep_s)
    return Statistics.from_properties({"pid": os.getpid(), "tag": tag})


def linear_pipeline(*, epochs: int = 1) -> Pipeline:
    """make_data -> count_rows -> fit -> inspect_model, epochs as a pipeline parameter."""
    data = make_data(rows=4)
    stats = count_rows(data=data.outputs["dataset"])
    model = fit(
        data=data.outputs["dataset"],
        stats=stats.output,
        epochs=Parameter(name="epochs", type=int, default=epochs),
    )
    check = inspect_model(model=model.outputs["model"])
    return Pipeline("linear", steps=[check])


@component
def introspect() -> Statistics:
    """Report what the step context says, reading the store from inside the component."""
    step = current_step()
    context = step.open_store().lineage.get_context(step.context_id)
    return Statistics.from_properties(
        {"execution_id": step.execution_id, "attempt": step.attempt, "run": context.name, "pid": os.getpid()},
        name="facts",
    )
