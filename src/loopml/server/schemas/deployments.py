"""Wire types of ``/api/v1/deployments``: documents, traffic, canary, shadow and override requests."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from loopml.server.schemas.common import Name, Text, Wire

__all__ = ["CanaryStart", "DeploymentApply", "OverrideRequest", "ShadowSet", "TrafficSet"]

Percent = Annotated[float, Field(ge=0, le=100)]

_NAME: dict[str, Any] = {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_.-]{0,62}$"}
_TARGET: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "description": "A models:/NAME/VERSION or models:/NAME@ALIAS URI, or the name of an ensemble.",
}
_PERCENT: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 100}


def _object(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_GATES = _object(
    {
        "min_samples": {"type": "integer", "minimum": 1},
        "min_labels": {"type": "integer", "minimum": 1},
        "alpha": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "confidence": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "max_error_rate_increase": {"type": "number", "minimum": 0},
        "max_p99_increase_ms": {"type": "number", "minimum": 0},
        "max_prediction_drift": {"type": "number", "minimum": 0},
        "max_atypical_increase": {"type": "number", "minimum": 0},
        "metric": {"type": ["string", "null"], "enum": ["accuracy", "auc", "rmse", None]},
        "max_metric_degradation": {"type": "number", "minimum": 0},
        "min_shadow_agreement": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    }
)
#: The document's shape, as :func:`loopml.deploy.documents.read_document` reads it. What no schema
#: states (steps increasing to 100, A/B weights adding up to 100, unique names, no ensemble cycle,
#: targets that exist) is a 400 naming the field.
DOCUMENT_SCHEMA: dict[str, Any] = _object(
    {
        "name": _NAME,
        "primary": _TARGET,
        "canary": {"anyOf": [_object({"target": _TARGET, "weight": _PERCENT}, "target"), {"type": "null"}]},
        "shadows": {
            "type": "array",
            "items": _object(
                {"name": _NAME, "target": _TARGET, "mirror_percent": _PERCENT}, "name", "target"
            ),
        },
        "ab": {
            "anyOf": [
                _object(
                    {
                        "key": {"type": "string", "minLength": 1},
                        "arms": {
                            "type": "array",
                            "minItems": 2,
                            "items": _object(
                                {"name": _NAME, "target": _TARGET, "weight": _PERCENT},
                                "name",
                                "target",
                                "weight",
                            ),
                        },
                    },
                    "key",
                    "arms",
                ),
                {"type": "null"},
            ]
        },
        "ensembles": {
            "type": "array",
            "items": _object(
                {
                    "name": _NAME,
                    "method": {"type": "string", "enum": ["vote", "mean", "weighted"]},
                    "members": {
                        "type": "array",
                        "minItems": 2,
                        "items": _object(
                            {"target": _TARGET, "weight": {"type": "number", "exclusiveMinimum": 0}}, "target"
                        ),
                    },
                },
                "name",
                "method",
                "members",
            ),
        },
        "policy": _object(
            {
                "steps": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                },
                "hold_s": {"type": "number", "minimum": 0},
                "min_requests": {"type": "integer", "minimum": 0},
                "interval_s": {"type": "number", "exclusiveMinimum": 0},
                "max_undecided_intervals": {"type": "integer", "minimum": 0},
                "gates": _GATES,
            }
        ),
    },
    "name",
    "primary",
)


class DeploymentApply(Wire):
    """A deployment document (the YAML of ``loopml deploy apply`` as JSON)."""

    document: Annotated[dict[str, Any], WithJsonSchema(DOCUMENT_SCHEMA)]
    reason: Text | None = None
    dry_run: bool = False


class TrafficSet(Wire):
    weight: Percent
    reason: Text | None = None


class CanaryStart(Wire):
    target: Name
    reason: Text | None = None


class ShadowSet(Wire):
    target: Name
    mirror_percent: Percent = 100.0
    reason: Text | None = None


class OverrideRequest(Wire):
    reason: Text | None = None
