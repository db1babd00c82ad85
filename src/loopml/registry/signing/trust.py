"""The trust store: public keys allowed to sign models, kept under ``<LOOPML_HOME>/trust/``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from loopml.errors import InvalidInput, NotFound
from loopml.registry.signing._keyfiles import check_name, key_hint, key_id, load_public_pem, write_file_atomic

__all__ = ["TrustStore", "TrustedKey"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TrustedKey:
    """A public key the project trusts.

    Attributes:
        name: Name given when it was trusted.
        key_id: SHA-256 (hex) of the DER public key.
        hint: OpenSSF model-signing key hint (SHA-256 of the PEM public key).
        path: The PEM file in the trust store.
        public_key: The parsed key.
    """

    name: str
    key_id: str
    hint: str
    path: Path
    public_key: ec.EllipticCurvePublicKey


class TrustStore:
    """Public keys in one folder (``<home>/trust``), one ``<name>.pem`` each."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def add(self, public_pem: bytes, *, name: str) -> TrustedKey:
        """Trust ``public_pem`` under ``name``.

        Raises:
            InvalidInput: bad PEM, bad name, or the name or key is already trusted.
        """
        check_name(name, what="trusted key name")
        public = load_public_pem(public_pem, source=f"the key to trust as {name!r}")
        kid = key_id(public)
        for known in self.list():
            if known.key_id == kid:
                raise InvalidInput(f"This key is already trusted as {known.name!r} (key id {kid}).")
        write_file_atomic(self.directory / f"{name}.pem", public_pem, exclusive=True)
        return self.get(name)

    def get(self, name: str) -> TrustedKey:
        """The trusted key called ``name``; NotFound when there is none."""
        path = self.directory / f"{check_name(name, what='trusted key name')}.pem"
        if not path.is_file():
            raise NotFound(
                f"No trusted key named {name!r} in {self.directory}; `loopml keys list --trusted` shows them."
            )
        public = load_public_pem(path.read_bytes(), source=str(path))
        return TrustedKey(
            name=name, key_id=key_id(public), hint=key_hint(public), path=path, public_key=public
        )

    def list(self) -> list[TrustedKey]:
        """Every trusted key, sorted by name."""
        if not self.directory.is_dir():
            return []
        return [self.get(p.stem) for p in sorted(self.directory.glob("*.pem"))]

    def find_by_hint(self, hint: str) -> TrustedKey | None:
        """The trusted key whose hint or key id equals ``hint``, or None."""
        return next((k for k in self.list() if hint in (k.hint, k.key_id)), None)

    def remove(self, name: str) -> None:
        """Stop trusting ``name``."""
        self.get(name).path.unlink()
