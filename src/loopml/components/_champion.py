"""Find and load the current champion of a model name: the registry alias, else the last push record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from loopml.artifacts import BlobStore
from loopml.errors import NotFound
from loopml.pipeline import PushedModel
from loopml.registry import ModelRegistry, Predictor, TrustStore, load_model
from loopml.store import Store
from loopml.store.repositories import RegistryStore

__all__ = ["CHAMPION", "Champion", "find_pushed", "load_champion", "registry_for"]

CHAMPION = "champion"


@dataclass(frozen=True, slots=True, kw_only=True)
class Champion:
    """A loaded champion: what it is (a ``models:/`` URI or an artifact id) and its predictor."""

    ref: str
    artifact_id: str
    predictor: Predictor


def registry_for(
    store: Store, blobs: BlobStore, *, trust_store: TrustStore | None = None, cache_dir: Path | None = None
) -> ModelRegistry | None:
    """A registry over ``store`` when the store holds one (a :class:`RegistryStore`), else None."""
    if not isinstance(store, RegistryStore):
        return None
    return ModelRegistry(store, blobs, trust_store=trust_store, cache_dir=cache_dir)


def find_pushed(store: Store, model_name: str) -> PushedModel | None:
    """The newest package pushed as ``model_name`` (push names only pushed packages so), or None."""
    artifact = store.artifacts.find_version(PushedModel.type_name, model_name, None)
    if artifact is None or artifact.sha256 is None:
        return None
    return PushedModel(
        artifact_id=artifact.artifact_id,
        uri=artifact.uri,
        sha256=artifact.sha256,
        size=artifact.size,
        is_directory=True,
        properties=dict(artifact.properties),
        name=artifact.name,
    )


def load_champion(store: Store, blobs: BlobStore, model_name: str, *, cache_dir: Path) -> Champion | None:
    """The champion of ``model_name``: ``models:/NAME@champion`` in the registry, else the last push."""
    registry = registry_for(store, blobs, cache_dir=cache_dir)
    if registry is not None:
        uri = f"models:/{model_name}@{CHAMPION}"
        try:
            version = registry.resolve(uri)
        except NotFound:
            version = None
        if version is not None:
            return Champion(
                ref=f"models:/{model_name}/{version.version}",
                artifact_id=version.artifact_id or "",
                predictor=registry.load(uri),
            )
    pushed = find_pushed(store, model_name)
    if pushed is None:
        return None
    return Champion(
        ref=pushed.artifact_id or "",
        artifact_id=pushed.artifact_id or "",
        predictor=load_model(pushed.local_path()),
    )
