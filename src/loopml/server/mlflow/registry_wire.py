"""MLflow's registry shapes: loopml models and versions as MLflow messages, and its search grammar.

Registered-model search accepts ``name = / != / LIKE / ILIKE '...'`` and ``tags.<key> = '...'``
(``tag.`` too, and backquoted keys);
model-version search ``name``, ``run_id`` (``=`` or ``IN (...)``), ``version_number`` and
``tags.<key>``; clauses are joined with ``AND``. ``current_stage`` is refused, as MLflow's SQL store
refuses it (the stage tag is not among the tags a filter sees either). Order keys: ``name``,
``version_number``, ``creation_timestamp``, ``last_updated_timestamp``, each optionally ``ASC`` / ``DESC``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from loopml.errors import InvalidInput
from loopml.server.mlflow.stages import STAGE_TAG, stage_of
from loopml.server.mlflow.wire import key_values
from loopml.store.entities import ModelVersion, RegisteredModel

__all__ = [
    "MLFLOW_FLAVOR",
    "SOURCE_PROPERTY",
    "model_filter",
    "model_version_json",
    "registered_model_json",
    "sort_by",
    "version_filter",
]

#: Flavor of versions registered from MLflow model folders.
MLFLOW_FLAVOR = "mlflow"
#: Version property holding the ``source`` the MLflow client registered.
SOURCE_PROPERTY = "mlflow_source"
T = TypeVar("T", RegisteredModel, ModelVersion)

_CLAUSE = re.compile(
    r"\s*(?P<key>name|run_id|version_number|tags?\.`[^`]+`|tags?\.[\w.\-/]+)\s*"
    r"(?P<op>=|!=|LIKE|ILIKE|IN)\s*(?P<value>'[^']*'|\(\s*'[^']*'(?:\s*,\s*'[^']*')*\s*\)|\d+)\s*",
    re.IGNORECASE,
)


def registered_model_json(model: RegisteredModel, latest: Sequence[ModelVersion] = ()) -> dict[str, Any]:
    """A registered model as MLflow's ``RegisteredModel`` message."""
    out: dict[str, Any] = {
        "name": model.name,
        "creation_timestamp": model.created_at,
        "last_updated_timestamp": model.updated_at,
        "user_id": model.created_by or "",
        "description": model.description or "",
        "tags": key_values(model.tags),
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items())],
    }
    if latest:
        out["latest_versions"] = [model_version_json(v) for v in latest]
    return out


def model_version_json(version: ModelVersion) -> dict[str, Any]:
    """A model version as MLflow's ``ModelVersion`` message (its stage from :mod:`.stages`)."""
    source = version.properties.get(SOURCE_PROPERTY) or f"models:/{version.name}/{version.version}"
    return {
        "name": version.name,
        "version": str(version.version),
        "creation_timestamp": version.created_at,
        "last_updated_timestamp": version.updated_at,
        "user_id": version.created_by or "",
        "current_stage": stage_of(version),
        "description": version.description or "",
        "source": source,
        "run_id": version.run_id or "",
        "status": "READY",
        "tags": key_values({k: v for k, v in version.tags.items() if k != STAGE_TAG}),
        "aliases": list(version.aliases),
    }


_STAGE_KEY = re.compile(r"\s*(?:attributes?\.)?`?current_stage`?\s*(?:=|!=|LIKE|ILIKE|IN)", re.IGNORECASE)


def _values(raw: str) -> list[str]:
    return re.findall(r"'([^']*)'", raw) if raw.startswith(("'", "(")) else [raw]


def _matcher(op: str, values: list[str]) -> Callable[[str | None], bool]:
    op = op.upper()
    if op == "=":
        return lambda got: got == values[0]
    if op == "!=":
        return lambda got: got != values[0]
    if op == "IN":
        return lambda got: got in values
    pattern = fnmatch.translate(values[0].replace("%", "*").replace("_", "?"))
    flags = re.IGNORECASE if op == "ILIKE" else 0
    compiled = re.compile(pattern, flags)
    return lambda got: got is not None and compiled.fullmatch(got) is not None


def _clauses(
    text: str | None, allowed: set[str], what: str
) -> list[tuple[str, Callable[[str | None], bool]]]:
    if not (text or "").strip():
        return []
    out: list[tuple[str, Callable[[str | None], bool]]] = []
    for clause in re.split(r"\s+AND\s+", text or "", flags=re.IGNORECASE):
        if _STAGE_KEY.match(clause):
            raise InvalidInput(
                f"Invalid attribute key 'current_stage' in {clause.strip()!r}: MLflow's {what} search "
                "does not filter on stages. Use `MlflowClient().get_latest_versions(name, stages=[...])` "
                "for the latest version in a stage, or an alias (`get_model_version_by_alias`)."
            )
        match = _CLAUSE.fullmatch(clause)
        key = match.group("key") if match else ""
        tagged = key.lower().startswith(("tags.", "tag."))
        base = "tags" if tagged else key.lower()
        if match is None or base not in allowed:
            raise InvalidInput(
                f"Unsupported {what} filter {clause.strip()!r}; use {', '.join(sorted(allowed))} with "
                "= != LIKE ILIKE IN and '...' values, joined with AND."
            )
        name = "tags." + key.split(".", 1)[1] if tagged else base
        out.append((name.replace("`", ""), _matcher(match.group("op"), _values(match.group("value")))))
    return out


def _field(item: RegisteredModel | ModelVersion, key: str) -> str | None:
    if key.startswith("tags."):
        return None if key[5:] == STAGE_TAG else item.tags.get(key[5:])  # the stage is no MLflow tag
    if key == "version_number" and isinstance(item, ModelVersion):
        return str(item.version)
    if key == "run_id" and isinstance(item, ModelVersion):
        return item.run_id
    return item.name


def model_filter(text: str | None) -> Callable[[RegisteredModel], bool]:
    """A predicate for MLflow's registered-model filter (see the module docstring)."""
    clauses = _clauses(text, {"name", "tags"}, "registered-model")
    return lambda m: all(ok(_field(m, key)) for key, ok in clauses)


def version_filter(text: str | None) -> Callable[[ModelVersion], bool]:
    """A predicate for MLflow's model-version filter (see the module docstring)."""
    clauses = _clauses(text, {"name", "run_id", "version_number", "tags"}, "model-version")
    return lambda v: all(ok(_field(v, key)) for key, ok in clauses)


_ORDER_KEYS: dict[str, Callable[[Any], Any]] = {
    "name": lambda i: i.name,
    "version_number": lambda i: getattr(i, "version", 0),
    "creation_timestamp": lambda i: i.created_at,
    "last_updated_timestamp": lambda i: i.updated_at,
    "timestamp": lambda i: i.updated_at,
}


def sort_by(items: list[T], order_by: Sequence[str], *, default: Sequence[str]) -> list[T]:
    """``items`` sorted by MLflow ``order_by`` clauses (stable, last clause applied first)."""
    out = list(items)
    for clause in reversed([*order_by, *default]):
        key, _, direction = clause.strip().partition(" ")
        getter = _ORDER_KEYS.get(key.strip("`").lower())
        if getter is None or direction.strip().upper() not in ("", "ASC", "DESC"):
            raise InvalidInput(
                f"Unsupported order_by {clause!r}; use one of {', '.join(_ORDER_KEYS)} with ASC or DESC."
            )
        out.sort(key=getter, reverse=direction.strip().upper() == "DESC")
    return out
