"""Which version answered an HTTP request, for its span and the request counter.

The protocol adapters find the model a request addresses before answering it (``mark_model``),
but a deployment picks the version only when it routes the request (canary, A/B arm): an adapter
marks the answer too, with :func:`mark_answer`, and the guard reads :func:`answered_versions`.
A request refused before it was answered keeps the version found when it was addressed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from loopml.serving.results import InferenceResult

__all__ = ["answered_versions", "mark_answer"]

_VERSIONS = "loopml.versions"


def mark_answer(request: Request, result: InferenceResult) -> None:
    """Record the version(s) that answered ``request``."""
    request.scope[_VERSIONS] = result.versions


def answered_versions(scope: Mapping[str, Any]) -> tuple[str, ...]:
    """The version(s) that answered (each arm's for a request split by A/B arm), else the version
    the request addressed (empty when none was found)."""
    versions: tuple[str, ...] | None = scope.get(_VERSIONS)
    if versions:
        return versions
    return (str(scope.get("loopml.version", "")),)
