"""The model registry: register verified, scanned packages; resolve ``models:/`` URIs; move aliases.

:class:`ModelRegistry` ties the metadata store (models, versions, aliases, lineage), the blob
store (package files, optionally encrypted at rest), the trust store (signing keys) and the
:class:`~loopml.registry.policy.PromotionPolicy` together.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import EllipsisType
from typing import Any, Protocol, runtime_checkable

from loopml.artifacts import LAYOUT_DIRECTORY, LAYOUT_PROPERTY, BlobStore
from loopml.errors import IntegrityError, InvalidInput, NotFound, PolicyViolation, UnsafeArtifact
from loopml.registry._storage import fetch_package, store_package
from loopml.registry.package import ModelPackage, Predictor, load_model, verify_package
from loopml.registry.package._manifest import CHECKSUMS_FILE, list_package_files
from loopml.registry.package.verify import SignatureStatus
from loopml.registry.policy import PromotionPolicy, VersionFacts
from loopml.registry.signing import TrustStore
from loopml.registry.uris import ModelUri, parse_model_uri
from loopml.security.scan import scan_path, worst_verdict
from loopml.store.entities import (
    Alias,
    AliasEvent,
    AliasEventResult,
    EventType,
    ExecutionState,
    ModelVersion,
    ModelVersionStatus,
    RegisteredModel,
    every_item,
)
from loopml.store.repositories import RegistryStore

__all__ = ["MODEL_ARTIFACT_TYPE", "BlessingLike", "ModelRegistry"]

#: Type of the artifact recording a model version's package index (its blob lists the package files).
MODEL_ARTIFACT_TYPE = "Model"
PACKAGE_ARTIFACT_TYPE = "ModelPackage"
BLESSING_ARTIFACT_TYPE = "Blessing"
REGISTER_EXECUTION_TYPE = "register"
#: Version property marking a folder of another format (no ``checksums.json``, never signed).
FOREIGN_PROPERTY = "foreign"


@runtime_checkable
class BlessingLike(Protocol):
    """An evaluation verdict (e.g. :class:`loopml.analysis.Blessing`): ``passed`` and ``to_dict()``."""

    @property
    def passed(self) -> bool: ...

    def to_dict(self) -> dict[str, Any]: ...


class ModelRegistry:
    """Registered models and versions over one metadata store and one blob store.

    Args:
        store: The metadata store (must provide ``store.models``).
        blobs: Where package files go; encrypted at rest when it has an encryption key.
        trust_store: Public keys allowed to sign models; without one no signature can verify.
        policy: The promotion policy (default :class:`PromotionPolicy`).
        cache_dir: Where :meth:`load` rebuilds packages (default: a temporary folder).
    """

    def __init__(
        self,
        store: RegistryStore,
        blobs: BlobStore,
        *,
        trust_store: TrustStore | None = None,
        policy: PromotionPolicy | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.trust_store = trust_store
        self.policy = policy or PromotionPolicy()
        self.cache_dir = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "loopml-models"

    # -- registering ---------------------------------------------------------------------------

    def register(
        self,
        source: Path | str | ModelPackage,
        name: str,
        *,
        run_id: str | None = None,
        execution_id: str | None = None,
        blessing: BlessingLike | str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        actor: str | None = None,
        trusted_globals: Iterable[str] = (),
    ) -> ModelVersion:
        """Verify, scan and store a package folder as the next version of ``name``.

        Args:
            source: The package folder (or a :class:`ModelPackage`).
            name: The registered model's name (created on first use).
            run_id: The run that produced the model.
            execution_id: The pipeline execution that produced it.
            blessing: A Blessing (stored as an artifact) or the id of a ``Blessing`` artifact.
            description: Free text.
            tags: Version tags.
            actor: Who registers it.
            trusted_globals: ``module.name`` globals the scanner should accept besides its allowlist.

        Returns:
            The new version.

        Raises:
            IntegrityError: files do not match ``checksums.json`` or the signature.
            UnsafeArtifact: the scanner did not judge every file safe (nothing is stored).
            NotFound: an unknown run, execution or blessing artifact.
        """
        root = source.path if isinstance(source, ModelPackage) else Path(source)
        verified = verify_package(root, trust_store=self.trust_store)
        self._scan_all(root, trusted_globals)
        if execution_id is not None:
            self.store.lineage.get_execution(execution_id)
        blessing_id, passed = self._blessing(blessing, name=name, run_id=run_id)
        manifest_sha256, package_id, model_id = self._store_package(
            root, name, run_id=run_id, flavor=verified.spec.flavor
        )
        signer = verified.signer
        version = self.store.models.create_version(
            name,
            manifest_sha256=manifest_sha256,
            flavor=verified.spec.flavor,
            scan_verdict="safe",
            artifact_id=model_id,
            signature_key_id=signer.key_id if signer else None,
            is_signed=verified.signature_status is SignatureStatus.VERIFIED,
            blessing_artifact_id=blessing_id,
            blessing_passed=passed,
            run_id=run_id,
            execution_id=execution_id,
            description=description,
            tags=tags,
            properties={
                "signer": signer.name if signer else None,
                "metrics": dict(verified.spec.metrics),
                "package_artifact_id": package_id,
            },
            created_by=actor,
        )
        self._record_lineage(version, package_id, model_id, blessing_id)
        return version

    def register_foreign(
        self,
        root: Path,
        name: str,
        *,
        flavor: str,
        run_id: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        """Register a model folder of another format (an MLflow model) as it is, unsigned.

        Every file is scanned and the worst verdict is recorded instead of refusing the
        folder: such models are often pickles. Nothing here can verify a signature, so the
        version is unsigned, and the promotion policy decides which aliases it may take (by
        default a production alias needs a trusted signature, any alias a ``safe`` scan).

        Args:
            root: The model folder (regular files only).
            name: The registered model's name (created on first use).
            flavor: Its format (``mlflow``); loopml's own loader refuses it (:meth:`check_loadable`).
            run_id: The run that produced the model.
            description: Free text.
            tags: Version tags.
            properties: Extra facts to keep with the version (e.g. where the files came from).
            actor: Who registers it.

        Returns:
            The new version.

        Raises:
            IntegrityError: the folder holds a symlink or a special file.
        """
        verdict = worst_verdict(scan_path(root / rel).verdict for rel in list_package_files(root))
        manifest_sha256, package_id, model_id = self._store_package(root, name, run_id=run_id, flavor=flavor)
        version = self.store.models.create_version(
            name,
            manifest_sha256=manifest_sha256,
            flavor=flavor,
            scan_verdict=verdict.value,
            artifact_id=model_id,
            run_id=run_id,
            description=description,
            tags=tags,
            properties={**(properties or {}), "package_artifact_id": package_id, FOREIGN_PROPERTY: True},
            created_by=actor,
        )
        self._record_lineage(version, package_id, model_id, None)
        return version

    def _store_package(
        self, root: Path, name: str, *, run_id: str | None, flavor: str
    ) -> tuple[str, str, str]:
        """Store the folder's files; the package index hash, the package and the Model artifact ids."""
        stored = store_package(self.blobs, root, label=f"model {name!r}")
        # The package as handed over, stored as a folder (its index and one blob per file): the
        # folder it came from is often temporary, so nothing may point there.
        package_properties: dict[str, Any] = {"flavor": flavor, LAYOUT_PROPERTY: LAYOUT_DIRECTORY}
        if CHECKSUMS_FILE in stored.files:
            package_properties["checksums_sha256"] = stored.files[CHECKSUMS_FILE].sha256
        package_artifact = self.store.artifacts.create(
            type=PACKAGE_ARTIFACT_TYPE,
            name=name,
            uri=stored.ref.uri,
            sha256=stored.ref.sha256,
            size=sum(d.size for d in stored.files.values()),
            run_id=run_id,
            properties=package_properties,
        )
        model_artifact = self.store.artifacts.create(
            type=MODEL_ARTIFACT_TYPE,
            name=name,
            uri=stored.ref.uri,
            sha256=stored.ref.sha256,
            size=stored.ref.size,
            run_id=run_id,
            properties={
                "registered_model": name,
                "flavor": flavor,
                "files": len(stored.files),
                "encryption_key_id": self.blobs.encryption_key_id,
            },
            versioned=True,
        )
        return stored.ref.sha256, package_artifact.artifact_id, model_artifact.artifact_id

    def _scan_all(self, root: Path, trusted_globals: Iterable[str]) -> None:
        trusted = tuple(trusted_globals)
        for rel in list_package_files(root):
            report = scan_path(root / rel, trusted_globals=trusted)
            if not report.is_safe:
                details = "; ".join(
                    f"{f.kind.value}: {f.message}" + (f" (global {f.global_name})" if f.global_name else "")
                    for f in report.findings[:5]
                )
                raise UnsafeArtifact(
                    f"The scanner judged {rel!r} in {root} {report.verdict.value}: {details}. Nothing was "
                    "registered; `loopml scan` shows the full report (unknown globals can be allowed "
                    "explicitly with --trust-global module.name)."
                )

    def _record_lineage(
        self, version: ModelVersion, package_id: str, model_id: str, blessing_id: str | None
    ) -> None:
        lineage = self.store.lineage
        execution = lineage.create_execution(
            type=REGISTER_EXECUTION_TYPE,
            name=f"register {version.name}",
            run_id=version.run_id,
            properties={"model": version.name, "version": version.version},
        )
        events = [(package_id, EventType.INPUT, "package"), (model_id, EventType.OUTPUT, "model_version")]
        if blessing_id is not None:
            events.append((blessing_id, EventType.INPUT, "blessing"))
        lineage.add_events(execution.execution_id, events)
        lineage.finish_execution(execution.execution_id, ExecutionState.COMPLETE)

    def _blessing(
        self, blessing: BlessingLike | str | None, *, name: str, run_id: str | None
    ) -> tuple[str | None, bool | None]:
        """Store or look up a blessing; its artifact id and whether it passed."""
        if blessing is None:
            return None, None
        if isinstance(blessing, str):
            artifact = self.store.artifacts.get(blessing)
            if artifact.type != BLESSING_ARTIFACT_TYPE:
                raise InvalidInput(
                    f"Artifact {blessing} is a {artifact.type!r}, not a {BLESSING_ARTIFACT_TYPE!r}; pass the "
                    "id of the evaluation's Blessing artifact."
                )
            passed = artifact.properties.get("passed")
            if not isinstance(passed, bool) and artifact.sha256 and not artifact.is_reference:
                doc = json.loads(self.blobs.read_bytes(artifact.sha256, label=f"blessing {blessing}"))
                passed = doc.get("passed", (doc.get("blessing") or {}).get("passed"))
            if not isinstance(passed, bool):
                raise InvalidInput(f"Blessing artifact {blessing} does not say whether it passed.")
            return artifact.artifact_id, passed
        if not isinstance(blessing, BlessingLike):
            raise InvalidInput(
                f"blessing must be a Blessing or a Blessing artifact id; got {type(blessing).__name__}."
            )
        doc = blessing.to_dict()
        ref = self.blobs.put_bytes(json.dumps(doc, sort_keys=True).encode("utf-8"), label="blessing")
        artifact = self.store.artifacts.create(
            type=BLESSING_ARTIFACT_TYPE,
            name=name,
            uri=ref.uri,
            sha256=ref.sha256,
            size=ref.size,
            run_id=run_id,
            properties={"passed": bool(blessing.passed)},
            versioned=True,
        )
        return artifact.artifact_id, bool(blessing.passed)

    def attach_blessing(self, name: str, version: int, blessing: BlessingLike | str) -> ModelVersion:
        """Attach an evaluation's Blessing (object or artifact id) to an existing version."""
        current = self.store.models.get_version(name, version)
        blessing_id, passed = self._blessing(blessing, name=name, run_id=current.run_id)
        return self.store.models.update_version(
            name, version, blessing_artifact_id=blessing_id, blessing_passed=passed
        )

    # -- reading -------------------------------------------------------------------------------

    def resolve(self, uri: str | ModelUri) -> ModelVersion:
        """The version a ``models:/`` URI points at.

        Raises:
            InvalidInput: a malformed URI (the accepted forms are listed).
            NotFound: no such model, version or alias.
        """
        parsed = uri if isinstance(uri, ModelUri) else parse_model_uri(uri)
        models = self.store.models
        if parsed.version is not None:
            return models.get_version(parsed.name, parsed.version)
        if parsed.is_latest:
            latest = models.find_latest_version(parsed.name)
            if latest is None:
                raise NotFound(f"Model {parsed.name!r} has no READY version; register one first.")
            return latest
        assert parsed.alias is not None  # guaranteed by ModelUri
        alias = models.find_alias(parsed.name, parsed.alias)
        if alias is None:
            known = ", ".join(a.alias for a in models.list_aliases(parsed.name)) or "none"
            raise NotFound(
                f"Model {parsed.name!r} has no alias {parsed.alias!r} (aliases: {known}); set it with "
                f"`loopml models alias {parsed.name} {parsed.alias} VERSION`."
            )
        return models.get_version(parsed.name, alias.version)

    def download(self, uri: str | ModelUri, dest: Path | str) -> Path:
        """Rebuild the package of ``uri`` at ``dest`` (must not exist), verified before it appears.

        Every file is checked against the hash and size the store recorded when it was registered.
        A loopml package is then verified as a whole (``checksums.json``, signature); a version
        registered in MLflow's format (:meth:`is_foreign`) has neither and is written as it came,
        its files checked against the store's record only (nothing in it is loaded).

        Raises:
            IntegrityError: a stored file does not match its hash, checksums or signature (named).
            InvalidInput: ``dest`` exists.
        """
        version = self.resolve(uri)
        target = Path(dest)
        if target.exists():
            raise InvalidInput(f"{target} already exists; pass a new folder to download into.")
        label = f"models:/{version.name}/{version.version}"
        work = Path(tempfile.mkdtemp(dir=_existing_parent(target), prefix=f".{target.name}.", suffix=".dl"))
        try:
            package = fetch_package(self.blobs, version.manifest_sha256, work / "pkg", label=label)
            if not self.is_foreign(version):
                verify_package(package, trust_store=self.trust_store)
            package.rename(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return target

    @staticmethod
    def is_foreign(version: ModelVersion) -> bool:
        """Whether ``version`` was registered in another format (MLflow's: no ``checksums.json``)."""
        return bool(version.properties.get(FOREIGN_PROPERTY))

    def check_loadable(self, version: ModelVersion) -> None:
        """Refuse a version loopml's loader does not load: one registered in another format (MLflow's).

        An MLflow model is a pickle (``model.pkl``, cloudpickle) plus an ``MLmodel`` file. loopml
        stores it as it came, scanned and unsigned, and lets the MLflow client download it; its
        own loader unpickles nothing, whatever the scan said, so such a version is refused here
        before any file is fetched.

        Raises:
            UnsafeArtifact: the version is of a foreign flavor, saying how to serve it with loopml.
        """
        if not self.is_foreign(version):
            return
        ref = f"models:/{version.name}/{version.version}"
        raise UnsafeArtifact(
            f"{ref} is an MLflow model (flavor {version.flavor!r}, scan verdict {version.scan_verdict}, "
            "unsigned): a pickle, which loopml's loader never unpickles. Nothing was loaded. Load it "
            f"with the MLflow client where you accept pickles (mlflow.pyfunc.load_model({ref!r}) against "
            "this server), or convert it: load it there, write it in a safe format with "
            "loopml.registry.package_model(model, DIR) (skops for scikit-learn), then "
            f"`loopml models register DIR --name {version.name}` and serve that version."
        )

    def load(self, uri: str | ModelUri, *, trusted_globals: Iterable[str] = ()) -> Predictor:
        """Resolve, download (verifying every file), scan and load a model.

        Raises:
            IntegrityError: a stored file was modified (nothing is deserialised).
            UnsafeArtifact: the scanner refused a file, a code-running flavor without trusted
                signature, or a version registered in MLflow's format (:meth:`check_loadable`).
        """
        version = self.resolve(uri)
        self.check_loadable(version)
        slot = self.cache_dir / version.name / f"{version.version}-{version.manifest_sha256[:16]}"
        fresh = slot.with_name(f"{slot.name}.new")
        shutil.rmtree(fresh, ignore_errors=True)
        self.download(ModelUri(name=version.name, version=version.version), fresh)
        old = slot.with_name(f"{slot.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if slot.exists():
            slot.rename(old)
        fresh.rename(slot)
        shutil.rmtree(old, ignore_errors=True)
        return load_model(slot, trust_store=self.trust_store, trusted_globals=trusted_globals)

    def get_model(self, name: str) -> RegisteredModel:
        """The registered model ``name``."""
        return self.store.models.get_model(name)

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first."""
        return self.store.models.list_versions(name)

    def search(self, *, name_like: str | None = None, tag: str | None = None) -> list[RegisteredModel]:
        """Models whose name matches ``name_like`` (``%`` wildcard) and with ``tag`` (``k`` or ``k=v``)."""
        return list(
            every_item(
                lambda token: self.store.models.search_models(name_like=name_like, tag=tag, page_token=token)
            )
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def archive(
        self, name: str, version: int, *, actor: str, force: bool = False, reason: str | None = None
    ) -> ModelVersion:
        """Archive a version (one holding an alias needs ``force``, which deletes its aliases, audited)."""
        return self.store.models.archive_version(name, version, actor=actor, force=force, reason=reason)

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        actor: str,
        reason: str | None = None,
        expected_version: int | EllipsisType | None = ...,
    ) -> Alias:
        """Point ``alias`` at ``version`` after the promotion policy allowed it.

        The stored package is rebuilt and verified now (checksums always; the signature against
        the current trust store when the alias requires a trusted signature).

        Raises:
            PolicyViolation: a rule refuses it (audited as refused), naming rule and remedy.
            InvalidState: the version is archived (audited).
            Conflict: ``expected_version`` no longer holds (audited).
            IntegrityError: the stored package was modified.
        """
        target = self.store.models.get_version(name, version)
        if target.status is not ModelVersionStatus.ARCHIVED:
            self.check_promotion(target, alias, actor=actor, reason=reason)
        return self.store.models.move_alias(
            name, alias, version, actor=actor, expected_version=expected_version, reason=reason
        )

    def check_promotion(
        self, target: ModelVersion, alias: str, *, actor: str, reason: str | None = None
    ) -> None:
        """Whether the promotion policy lets ``target`` take ``alias`` (a refusal is audited).

        Raises:
            PolicyViolation: a rule refuses it, naming rule and remedy.
            IntegrityError: the stored package was modified.
        """
        try:
            self.policy.enforce(alias, self._facts(target, alias))
        except (PolicyViolation, IntegrityError) as err:
            self.store.models.record_alias_event(
                target.name,
                alias,
                actor=actor,
                result=AliasEventResult.REFUSED,
                to_version=target.version,
                reason=reason,
                detail=str(err),
            )
            raise

    def _facts(self, version: ModelVersion, alias: str) -> VersionFacts:
        needs_signature = self.policy.requirements_for(alias).require_trusted_signature
        signer = None
        with tempfile.TemporaryDirectory(prefix="loopml-verify-") as tmp:
            label = f"models:/{version.name}/{version.version}"
            package = fetch_package(self.blobs, version.manifest_sha256, Path(tmp) / "pkg", label=label)
            if version.properties.get(FOREIGN_PROPERTY):
                pass  # no checksums.json to check: fetch_package verified every file's hash
            elif needs_signature and version.is_signed and self.trust_store is not None:
                try:
                    signer = verify_package(package, trust_store=self.trust_store).signer
                except IntegrityError:
                    signer = None
            else:
                verify_package(package)
        return VersionFacts(
            name=version.name,
            version=version.version,
            signer=signer.name if signer else None,
            is_signed=version.is_signed,
            scan_verdict=version.scan_verdict,
            blessing_passed=version.blessing_passed,
        )

    def delete_alias(
        self,
        name: str,
        alias: str,
        *,
        actor: str,
        reason: str | None = None,
        expected_version: int | EllipsisType | None = ...,
    ) -> None:
        """Remove an alias (audited)."""
        self.store.models.delete_alias(
            name, alias, actor=actor, expected_version=expected_version, reason=reason
        )

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        """Every alias change attempt of ``name`` (optionally one alias), oldest first."""
        return self.store.models.alias_history(name, alias=alias)


def _existing_parent(target: Path) -> Path:
    parent = target.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    return parent
