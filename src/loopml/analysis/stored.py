"""Evaluations kept in the store: read the :class:`EvaluationResult` an Evaluation artifact holds."""

from __future__ import annotations

import json
from typing import Protocol

from loopml.analysis.results import EvaluationResult
from loopml.artifacts import is_folder, read_manifest
from loopml.errors import InvalidInput
from loopml.store.entities import Artifact

__all__ = ["EVALUATION_FILE", "EVALUATION_TYPE", "MAX_EVALUATION_BYTES", "load_evaluation"]

EVALUATION_TYPE = "Evaluation"
EVALUATION_FILE = "evaluation.json"
#: Largest evaluation document read (a result of thousands of slices stays far below it).
MAX_EVALUATION_BYTES = 64 * 1024 * 1024


class _Readable(Protocol):
    def read_bytes(self, sha256: str, *, label: str | None = None, size: int | None = None) -> bytes: ...


def load_evaluation(blobs: _Readable, artifact: Artifact) -> EvaluationResult:
    """The evaluation an Evaluation artifact holds: its ``evaluation.json`` (a folder) or the file itself.

    Every byte is read verified against its hash.

    Raises:
        InvalidInput: the artifact is not an Evaluation, is a reference, holds no ``evaluation.json``,
            is too large, or is not an evaluation result.
        NotFound: a blob is missing.
        IntegrityError: a blob does not match its hash.

    Example:
        >>> from loopml.store.entities import Artifact
        >>> art = Artifact(artifact_id="a" * 32, type="Dataset", name="d", uri="x", sha256=None,
        ...                size=None, created_at=0)
        >>> load_evaluation(None, art)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        loopml.errors.InvalidInput: Artifact aaaa... is a Dataset, not an Evaluation; ...
    """
    label = f"{artifact.type} {artifact.name}"
    if artifact.type != EVALUATION_TYPE:
        raise InvalidInput(
            f"Artifact {artifact.artifact_id} is a {artifact.type}, not an {EVALUATION_TYPE}; "
            f"give an {EVALUATION_TYPE} artifact id (`loopml artifacts list --type {EVALUATION_TYPE}`)."
        )
    if artifact.sha256 is None:
        raise InvalidInput(
            f"Artifact {artifact.artifact_id} is a reference to {artifact.uri}; read it there."
        )
    if (artifact.size or 0) > MAX_EVALUATION_BYTES and not is_folder(artifact.properties):
        raise InvalidInput(f"Artifact {artifact.artifact_id} is over {MAX_EVALUATION_BYTES} bytes.")
    data = blobs.read_bytes(artifact.sha256, label=label)
    if is_folder(artifact.properties):
        members = {m.path: m for m in read_manifest(data, label=label)}
        member = members.get(EVALUATION_FILE)
        if member is None:
            raise InvalidInput(f"Artifact {artifact.artifact_id} holds no {EVALUATION_FILE}.")
        if (member.size or 0) > MAX_EVALUATION_BYTES:
            raise InvalidInput(f"{label}/{EVALUATION_FILE} is over {MAX_EVALUATION_BYTES} bytes.")
        data = blobs.read_bytes(member.sha256, label=f"{label}/{EVALUATION_FILE}", size=member.size)
    try:
        loaded = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidInput(f"Artifact {artifact.artifact_id} is not evaluation JSON: {err}.") from err
    if not isinstance(loaded, dict):
        raise InvalidInput(f"Artifact {artifact.artifact_id} does not hold an evaluation (a JSON object).")
    return EvaluationResult.from_dict(loaded)
