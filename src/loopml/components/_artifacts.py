"""Reading the transform and model artifacts the standard components write."""

from __future__ import annotations

import json
from typing import Any

from loopml.errors import InvalidInput
from loopml.pipeline import Transform
from loopml.registry.flavors.sklearn import load_skops

__all__ = ["load_transform"]

TRANSFORM_FILE = "transform.skops"
TRANSFORM_SPEC = "transform.json"


def load_transform(artifact: Transform) -> tuple[Any, dict[str, Any]]:
    """The fitted transformer (loaded through the skops allowlist) and its facts (features, label).

    Raises:
        InvalidInput: the artifact was not written by the ``transform`` component.
    """
    folder = artifact.local_path()
    if not (folder / TRANSFORM_FILE).is_file():
        raise InvalidInput(
            f"Transform {artifact.artifact_id} holds no {TRANSFORM_FILE}; "
            "use the transform component's output."
        )
    facts = json.loads((folder / TRANSFORM_SPEC).read_text())
    return load_skops(folder / TRANSFORM_FILE), facts
