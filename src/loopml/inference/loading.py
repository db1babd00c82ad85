"""Load models for serving through the registry's verified path only.

``models:/NAME@ALIAS`` and ``models:/NAME/VERSION`` are resolved in the registry, the package is
rebuilt from the blob store with every file checked against its hash, then
:func:`~loopml.registry.load_model` verifies checksums again, scans every file and checks the
signature. The promotion policy decides what else an alias demands: a production alias
(``champion`` ...) needs a trusted signature and a passing blessing *at load time*, so a package
that no longer satisfies it is never served. A package folder is verified the same way.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loopml.errors import InvalidInput, InvalidState, NotFound, PolicyViolation
from loopml.inference.model import Batching, ServedModel, serve_predictor
from loopml.inference.outputs import OutputPolicy
from loopml.registry import ModelRegistry, ModelUri, TrustStore, load_model
from loopml.registry.policy import AliasRequirements
from loopml.registry.uris import is_model_uri, parse_model_uri
from loopml.store.entities import ModelVersion, ModelVersionStatus

__all__ = ["ModelSource", "load_served_model", "verified_package"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ModelSource:
    """What to serve and how.

    Attributes:
        uri: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``models:/NAME/latest`` or a package folder.
        name: The name clients use (default: the registered name, or the folder's name).
        policy: The output obfuscation policy.
        batching: Micro-batching settings.
        require_signature: For a package folder: refuse it unless a trusted key signed it.
        log_sample_rate: Fraction of its requests written to the prediction log.
    """

    uri: str
    name: str | None = None
    policy: OutputPolicy = dataclasses.field(default_factory=OutputPolicy)
    batching: Batching = dataclasses.field(default_factory=Batching)
    require_signature: bool = False
    log_sample_rate: float = 1.0

    def __post_init__(self) -> None:
        rate = self.log_sample_rate
        if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate <= 1:
            raise InvalidInput(f"log_sample_rate must be a number in [0, 1]; got {rate!r}.")
        if not isinstance(self.uri, str) or not self.uri:
            raise InvalidInput(
                "A model source needs a uri: models:/NAME@ALIAS, models:/NAME/VERSION or a folder."
            )
        if self.name is not None and (not self.name or "/" in self.name):
            raise InvalidInput(f"A served model name must be non-empty and without '/'; got {self.name!r}.")


def _requirements(registry: ModelRegistry, uri: ModelUri) -> AliasRequirements:
    if uri.alias is not None:
        return registry.policy.requirements_for(uri.alias)
    return registry.policy.other


def _checked_version(source: ModelSource, registry: ModelRegistry) -> tuple[ModelVersion, AliasRequirements]:
    uri = parse_model_uri(source.uri)
    version = registry.resolve(uri)
    registry.check_loadable(version)
    if version.status is ModelVersionStatus.ARCHIVED:
        raise InvalidState(
            f"Version {version.version} of {version.name!r} is archived and is not served; serve a READY "
            f"version (`loopml models versions {version.name}`)."
        )
    needs = _requirements(registry, uri)
    if needs.require_blessing and version.blessing_passed is not True:
        raise PolicyViolation(
            f"{source.uri} resolves to version {version.version} of {version.name!r}, which carries no "
            f"passing blessing; the promotion policy requires one for {uri.alias!r}. Nothing was loaded.",
            rules=("blessing",),
        )
    if needs.require_trusted_signature and registry.trust_store is None:
        raise PolicyViolation(
            f"{source.uri} needs a trusted signature, but no trust store is configured.",
            rules=("trusted-signature",),
        )
    return version, needs


def _load_registered(
    source: ModelSource, registry: ModelRegistry, folder: Path
) -> tuple[ServedModel, ModelSource]:
    version, needs = _checked_version(source, registry)
    folder = registry.download(ModelUri(name=version.name, version=version.version), folder)
    predictor = load_model(
        folder, trust_store=registry.trust_store, require_signature=needs.require_trusted_signature
    )
    model = serve_predictor(
        predictor,
        name=source.name or version.name,
        version=str(version.version),
        source=source.uri,
        policy=source.policy,
        batching=source.batching,
        labels=tuple(version.aliases),
        registered=f"{version.name}/{version.version}",
    )
    local = dataclasses.replace(
        source, uri=str(folder), name=model.name, require_signature=needs.require_trusted_signature
    )
    return model, local


def _from_registry(source: ModelSource, registry: ModelRegistry) -> ServedModel:
    with tempfile.TemporaryDirectory(prefix="loopml-serve-") as tmp:
        model, _ = _load_registered(source, registry, Path(tmp) / "pkg")
    return model


def _from_folder(source: ModelSource, trust_store: TrustStore | None) -> ServedModel:
    folder = Path(source.uri).expanduser()
    if not folder.is_dir():
        raise NotFound(
            f"{source.uri!r} is neither a models:/ URI nor a package folder; give models:/NAME@ALIAS, "
            "models:/NAME/VERSION or the path of a package folder."
        )
    predictor = load_model(folder, trust_store=trust_store, require_signature=source.require_signature)
    return serve_predictor(
        predictor,
        name=source.name or folder.resolve().name,
        version="1",
        source=str(folder),
        policy=source.policy,
        batching=source.batching,
    )


def load_served_model(
    source: ModelSource, *, registry: ModelRegistry | None = None, trust_store: TrustStore | None = None
) -> ServedModel:
    """Verify and load one model for serving.

    Args:
        source: What to load.
        registry: Resolves ``models:/`` URIs (required for them).
        trust_store: Keys a package folder's signature is checked against (default: the registry's).

    Returns:
        The served model.

    Raises:
        NotFound: unknown model, version, alias or folder.
        IntegrityError: a file does not match its checksum or the signature (nothing is loaded).
        UnsafeArtifact: the scanner refused a file, or the version is an MLflow model (a pickle).
        PolicyViolation: the alias's promotion policy is not met (signature, blessing).
        InvalidInput: the package has no input signature.
    """
    if is_model_uri(source.uri):
        if registry is None:
            raise InvalidInput(f"{source.uri} names a registered model, but no registry was given.")
        return _from_registry(source, registry)
    return _from_folder(
        source, trust_store if trust_store is not None else (registry.trust_store if registry else None)
    )


@contextmanager
def verified_package(
    source: ModelSource, *, registry: ModelRegistry | None = None, trust_store: TrustStore | None = None
) -> Iterator[tuple[ServedModel, ModelSource]]:
    """Verify and load one model, keeping its package folder on disk for the block.

    Yields the loaded model and a source naming the verified local folder (with the signature
    requirement of the alias's policy), so that worker processes load the very same files through
    :func:`load_served_model`, verified again, instead of receiving pickled objects.

    Raises:
        The errors of :func:`load_served_model`.
    """
    if not is_model_uri(source.uri):
        yield load_served_model(source, registry=registry, trust_store=trust_store), source
        return
    if registry is None:
        raise InvalidInput(f"{source.uri} names a registered model, but no registry was given.")
    with tempfile.TemporaryDirectory(prefix="loopml-predict-") as tmp:
        yield _load_registered(source, registry, Path(tmp) / "pkg")
