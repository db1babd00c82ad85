"""Copy registered models, their versions and aliases from an MLflow server into loopml's registry.

Each MLflow version becomes a loopml version of flavor ``mlflow`` (see
:meth:`ModelRegistry.register_foreign`): its files are downloaded through the server's artifact
proxy, scanned (verdict recorded), stored content-addressed and linked to the imported run that
produced it. Aliases are moved through the promotion policy, so an alias the policy refuses (a
production alias on an unsigned model, by default) is reported, not forced.

Idempotent and resumable: an imported version carries the tag :data:`SOURCE_VERSION_TAG` (its
MLflow version number) and is skipped by the next import; a version is registered in one step, so
an interrupted import leaves none half-copied.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopml.errors import Conflict, InvalidState, PolicyViolation
from loopml.registry.service import ModelRegistry
from loopml.tracking.mlflow_import import MlflowSource, imported_run_ids

__all__ = ["IMPORT_ACTOR", "SOURCE_VERSION_TAG", "ModelImportSummary", "import_registered_models"]

#: Tag of an imported version: the MLflow version number it was copied from.
SOURCE_VERSION_TAG = "loopml.mlflow.version"
#: Who the registry records as having moved imported aliases.
IMPORT_ACTOR = "mlflow-import"
_PROXY_SCHEME = "mlflow-artifacts:/"
#: Version property naming the MLflow server and the URI the version was copied from.
IMPORTED_FROM_PROPERTY = "mlflow_imported_from"


@dataclass(slots=True, kw_only=True)
class ModelImportSummary:
    """What one import of registered models copied (``skipped_versions``: already imported)."""

    models: int = 0
    versions: int = 0
    skipped_versions: int = 0
    aliases: int = 0
    warnings: list[str] = field(default_factory=list)


def _tags(entries: list[Mapping[str, Any]]) -> dict[str, str]:
    return {str(t["key"]): str(t.get("value", "")) for t in entries}


def _ensure_model(registry: ModelRegistry, model: Mapping[str, Any]) -> None:
    name = str(model["name"])
    tags = _tags(model.get("tags", []))
    if registry.store.models.find_model(name) is None:
        try:
            registry.store.models.create_model(
                name, description=model.get("description") or None, tags=tags, created_by=IMPORT_ACTOR
            )
            return
        except Conflict:
            pass  # created meanwhile
    if tags:
        registry.store.models.update_model(name, tags=tags)


def _copy_version(
    source: MlflowSource,
    registry: ModelRegistry,
    version: Mapping[str, Any],
    *,
    runs: Mapping[str, str],
) -> None:
    name, number = str(version["name"]), str(version["version"])
    uri = source.download_uri(name, number)
    if not uri.startswith(_PROXY_SCHEME):
        raise InvalidState(
            f"Version {number} of {name!r} is stored at {uri}, outside the MLflow server's artifact proxy; "
            "start the server with --serve-artifacts (the default) so its files can be copied."
        )
    root = uri.removeprefix(_PROXY_SCHEME).strip("/")
    with tempfile.TemporaryDirectory(prefix="loopml-import-model-") as folder:
        target = Path(folder) / "model"
        for path, _size in source.proxied_files(root):
            dest = target / path[len(root) :].strip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            with dest.open("xb") as out:
                for chunk in source.open_proxied(path):
                    out.write(chunk)
        target.mkdir(exist_ok=True)
        registry.register_foreign(
            target,
            name,
            flavor="mlflow",
            run_id=runs.get(str(version.get("run_id") or "")),
            description=version.get("description") or None,
            tags={**_tags(version.get("tags", [])), SOURCE_VERSION_TAG: number},
            properties={IMPORTED_FROM_PROPERTY: f"{source.uri} {uri}"},
            actor=IMPORT_ACTOR,
        )


def _move_aliases(
    registry: ModelRegistry, model: Mapping[str, Any], numbers: Mapping[str, int], summary: ModelImportSummary
) -> None:
    name = str(model["name"])
    for entry in model.get("aliases", []):
        alias, target = str(entry["alias"]), numbers.get(str(entry["version"]))
        if target is None:
            continue
        found = registry.store.models.find_alias(name, alias)
        if found is not None and found.version == target:
            continue
        try:
            registry.set_alias(name, alias, target, actor=IMPORT_ACTOR, reason="imported from MLflow")
            summary.aliases += 1
        except PolicyViolation as err:
            summary.warnings.append(f"alias {alias!r} of {name!r} not moved: {err}")


def import_registered_models(
    source: MlflowSource,
    registry: ModelRegistry,
    *,
    on_version: Callable[[str, str, bool], None] | None = None,
) -> ModelImportSummary:
    """Copy every registered model of ``source`` with its versions and aliases into ``registry``.

    Run the run import first: versions are linked to the imported runs that produced them.

    Args:
        source: The MLflow server.
        registry: loopml's registry written to.
        on_version: Called after each version with (model name, MLflow version, whether it was copied).

    Returns:
        Counts of what was copied, and warnings (versions or aliases left out, and why).
    """
    summary = ModelImportSummary()
    runs = imported_run_ids(registry.store)
    for model in source.registered_models():
        name = str(model["name"])
        _ensure_model(registry, model)
        summary.models += 1
        numbers = {
            v.tags[SOURCE_VERSION_TAG]: v.version
            for v in registry.versions(name)
            if SOURCE_VERSION_TAG in v.tags
        }
        for version in source.model_versions(name):
            number = str(version["version"])
            copied = number not in numbers
            if copied:
                try:
                    _copy_version(source, registry, version, runs=runs)
                except InvalidState as err:
                    summary.warnings.append(str(err))
                    copied = False
                else:
                    summary.versions += 1
            else:
                summary.skipped_versions += 1
            if on_version is not None:
                on_version(name, number, copied)
        numbers = {
            v.tags[SOURCE_VERSION_TAG]: v.version
            for v in registry.versions(name)
            if SOURCE_VERSION_TAG in v.tags
        }
        _move_aliases(registry, model, numbers, summary)
    return summary
