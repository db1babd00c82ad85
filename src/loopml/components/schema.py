"""``schema``: infer a schema from training statistics once, or reuse a curated schema file."""

from __future__ import annotations

from pathlib import Path

from loopml.components._splits import TRAIN
from loopml.data import infer_schema, read_schema, read_statistics, write_schema
from loopml.pipeline import Schema, Statistics, component, scratch_dir

__all__ = ["SCHEMA_FILE", "schema"]

SCHEMA_FILE = "schema.yaml"


@component
def schema(
    statistics: Statistics, *, curated: str = "", curated_digest: str = "", infer_ranges: bool = False
) -> Schema:
    """The schema examples are validated against.

    With ``curated`` naming an existing YAML file (edited by a person, e.g. a first inferred
    schema with domains tightened), that file is used as is; otherwise the schema is inferred
    from the training split's statistics.

    Args:
        statistics: Statistics per split (from ``statistics``).
        curated: Path of a curated schema YAML; ignored when empty or missing.
        curated_digest: :func:`loopml.components.file_digest` of ``curated``, so edits rerun the step.
        infer_ranges: When inferring, also require values within the observed ranges.

    Returns:
        ``schema.yaml``; property ``origin`` is ``curated`` or ``inferred``.
    """
    out = scratch_dir("schema") / SCHEMA_FILE
    if curated and Path(curated).is_file():
        write_schema(read_schema(curated), out)
        origin = "curated"
    else:
        stats = read_statistics(statistics.local_path() / f"{TRAIN}.json")
        write_schema(infer_schema(stats, infer_ranges=infer_ranges), out)
        origin = "inferred"
    return Schema.from_path(
        out, properties={"origin": origin, "curated": curated if origin == "curated" else ""}
    )
