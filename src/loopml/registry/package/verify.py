"""Verify a package before anything in it is deserialised: files, sizes, hashes, signature."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from pathlib import Path

from loopml.errors import IntegrityError, InvalidInput, NotFound
from loopml.registry.package._manifest import (
    CHECKSUMS_FILE,
    SIGNATURE_FILE,
    Manifest,
    hash_file,
    list_package_files,
    read_manifest,
)
from loopml.registry.package._model_yaml import MODEL_YAML, ModelSpec
from loopml.registry.signing.trust import TrustedKey, TrustStore
from loopml.registry.signing.verify import verify_bundle

__all__ = ["SignatureStatus", "VerifiedPackage", "verify_package"]

_MAX_MODEL_YAML = 4 * 1024 * 1024


class SignatureStatus(enum.StrEnum):
    """What is known about a package's signature."""

    VERIFIED = "verified"  # signed by a trusted key, covering exactly the package's files
    UNCHECKED = "unchecked"  # a signature file exists but no trust store was given
    ABSENT = "absent"  # no signature file


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedPackage:
    """A package whose files matched ``checksums.json`` (and its signature, when checked).

    Attributes:
        path: The package folder.
        spec: The parsed ``model.yaml``.
        manifest: The parsed ``checksums.json``.
        signature_status: Whether the signature was verified, unchecked or absent.
        signer: The trusted key that signed the package, when verified.
    """

    path: Path
    spec: ModelSpec
    manifest: Manifest
    signature_status: SignatureStatus
    signer: TrustedKey | None = None

    @property
    def is_trusted(self) -> bool:
        """True when a trusted key signed exactly these files."""
        return self.signature_status is SignatureStatus.VERIFIED


def _check_file_set(root: Path, manifest: Manifest) -> None:
    present = set(list_package_files(root)) - {CHECKSUMS_FILE, SIGNATURE_FILE}
    listed = set(manifest.files)
    missing = sorted(listed - present)
    if missing:
        raise IntegrityError(
            f"The package {root} is missing {missing[0]!r} (listed in {CHECKSUMS_FILE})"
            + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
            + ". The package is incomplete; fetch it again."
        )
    extra = sorted(present - listed)
    if extra:
        raise IntegrityError(
            f"The package {root} contains {extra[0]!r}, which {CHECKSUMS_FILE} does not list"
            + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else "")
            + ". Extra files are refused; remove it or re-package the model."
        )
    if MODEL_YAML not in listed:
        raise IntegrityError(
            f"The package {root} has no {MODEL_YAML} in {CHECKSUMS_FILE}; re-package the model."
        )


def _check_hashes(root: Path, manifest: Manifest) -> bytes:
    """Check sizes, then SHA-256 of every file; return the verified bytes of model.yaml."""
    for rel, expected in sorted(manifest.files.items()):
        size = (root / rel).stat().st_size
        if size != expected.size:
            raise IntegrityError(
                f"{rel!r} in {root} was modified: size {size} bytes, {CHECKSUMS_FILE} says {expected.size}."
            )
    spec_bytes = b""
    for rel, expected in sorted(manifest.files.items()):
        if rel == MODEL_YAML:
            spec_bytes = (root / rel).read_bytes()[: _MAX_MODEL_YAML + 1]
            actual = hashlib.sha256(spec_bytes).hexdigest()
        else:
            actual = hash_file(root / rel).sha256
        if actual != expected.sha256:
            raise IntegrityError(
                f"{rel!r} in {root} was modified: sha256 {actual}, {CHECKSUMS_FILE} says {expected.sha256}."
            )
    return spec_bytes


def _check_signature(root: Path, manifest: Manifest, manifest_bytes: bytes, trust: TrustStore) -> TrustedKey:
    signed = verify_bundle((root / SIGNATURE_FILE).read_bytes(), trust, source=f"{SIGNATURE_FILE} of {root}")
    expected = {rel: d.sha256 for rel, d in manifest.files.items()}
    expected[CHECKSUMS_FILE] = hashlib.sha256(manifest_bytes).hexdigest()
    for rel in sorted(set(expected) | set(signed.digests)):
        if rel not in signed.digests:
            raise IntegrityError(
                f"{rel!r} in {root} is not covered by {SIGNATURE_FILE}; re-sign the package."
            )
        if rel not in expected:
            raise IntegrityError(
                f"{SIGNATURE_FILE} of {root} signs {rel!r}, which the package does not hold."
            )
        if signed.digests[rel] != expected[rel]:
            raise IntegrityError(
                f"{rel!r} in {root} differs from what {SIGNATURE_FILE} signed (key {signed.key.name!r}): "
                f"sha256 {expected[rel]}, signed {signed.digests[rel]}."
            )
    return signed.key


def verify_package(
    path: Path | str, *, trust_store: TrustStore | None = None, require_signature: bool = False
) -> VerifiedPackage:
    """Verify a package folder without deserialising anything in it.

    Checks, in order: only regular files (no symlinks), ``checksums.json`` well-formed with safe
    relative paths, no missing and no extra files, sizes, SHA-256 of every file, then the
    signature (when a trust store is given, or ``require_signature``), which must come from a
    trusted key and cover exactly the package's files.

    Args:
        path: The package folder.
        trust_store: Keys allowed to sign; without it a signature is left unchecked.
        require_signature: Refuse packages without a signature verified by ``trust_store``.

    Returns:
        The verified package with its parsed ``model.yaml``.

    Raises:
        IntegrityError: anything does not match, naming the file or key at fault.
        NotFound: ``path`` is not a folder.
        InvalidInput: a signature is required but no trust store was given.
    """
    root = Path(path)
    if not root.is_dir() or root.is_symlink():
        raise NotFound(f"No model package folder at {root}.")
    if require_signature and trust_store is None:
        raise InvalidInput("require_signature=True needs a trust_store to check the signature against.")
    manifest, manifest_bytes = read_manifest(root)
    _check_file_set(root, manifest)
    spec_bytes = _check_hashes(root, manifest)
    status, signer = SignatureStatus.ABSENT, None
    if (root / SIGNATURE_FILE).is_file():
        status = SignatureStatus.UNCHECKED
        if trust_store is not None:
            signer, status = (
                _check_signature(root, manifest, manifest_bytes, trust_store),
                SignatureStatus.VERIFIED,
            )
    elif require_signature:
        raise IntegrityError(
            f"The package {root} is not signed ({SIGNATURE_FILE} is missing); sign it first."
        )
    spec = ModelSpec.from_yaml(spec_bytes.decode("utf-8", errors="replace"))
    for rel in (*spec.files, *(spec.transform.files if spec.transform else ())):
        if rel not in manifest.files:
            raise IntegrityError(f"{MODEL_YAML} names {rel!r}, which {CHECKSUMS_FILE} does not list.")
    return VerifiedPackage(path=root, spec=spec, manifest=manifest, signature_status=status, signer=signer)
