"""MLflow's legacy model-version stages over loopml's registry.

A stage (``None``, ``Staging``, ``Production``, ``Archived``) is kept as the version tag
:data:`STAGE_TAG`, which the MLflow API shows as ``current_stage`` (never among the tags) and lets
only a stage transition change. A version archived in loopml is always in stage ``Archived``.
Stages are labels: ``models:/NAME@ALIAS`` and loopml's aliases are untouched by a transition.
"""

from __future__ import annotations

from loopml.errors import InvalidInput
from loopml.store.entities import ModelVersion, ModelVersionStatus

__all__ = ["ARCHIVED", "NONE", "PRODUCTION", "STAGES", "STAGE_TAG", "canonical_stage", "stage_of"]

#: Version tag holding the MLflow stage a transition set.
STAGE_TAG = "loopml.mlflow.stage"
NONE, STAGING, PRODUCTION, ARCHIVED = "None", "Staging", "Production", "Archived"
#: MLflow's stages, in its canonical spelling.
STAGES = (NONE, STAGING, PRODUCTION, ARCHIVED)
_BY_LOWER = {s.lower(): s for s in STAGES}


def canonical_stage(text: str) -> str:
    """MLflow's spelling of ``text`` (case-insensitive), e.g. ``production`` → ``Production``.

    Raises:
        InvalidInput: not one of MLflow's stages.
    """
    found = _BY_LOWER.get(text.strip().lower())
    if found is None:
        raise InvalidInput(f"Invalid model version stage {text!r:.60}; use one of {', '.join(STAGES)}.")
    return found


def stage_of(version: ModelVersion) -> str:
    """The version's MLflow stage (``Archived`` for one archived in loopml)."""
    if version.status is ModelVersionStatus.ARCHIVED:
        return ARCHIVED
    return _BY_LOWER.get(version.tags.get(STAGE_TAG, "").lower(), NONE)
