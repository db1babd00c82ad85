"""Signing keys: EC P-256 key pairs kept under ``<LOOPML_HOME>/keys/`` (private keys owner-only)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from loopml.errors import InvalidInput, NotFound
from loopml.registry.signing._keyfiles import check_name, key_id, load_public_pem, write_file_atomic

__all__ = ["KeyInfo", "KeyRing"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KeyInfo:
    """A stored key pair.

    Attributes:
        name: The key's name.
        key_id: SHA-256 (hex) of the DER public key.
        private_path: The PEM private key (mode 0600).
        public_path: The PEM public key.
        is_encrypted: Whether the private key is passphrase-protected.
    """

    name: str
    key_id: str
    private_path: Path
    public_path: Path
    is_encrypted: bool


class KeyRing:
    """The key pairs in one folder (``<home>/keys``).

    Example:
        >>> import tempfile
        >>> ring = KeyRing(Path(tempfile.mkdtemp()))
        >>> ring.generate("release").name
        'release'
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _paths(self, name: str) -> tuple[Path, Path]:
        check_name(name)
        return self.directory / f"{name}.key", self.directory / f"{name}.pub"

    def generate(self, name: str, *, passphrase: bytes | None = None) -> KeyInfo:
        """Create an EC P-256 key pair called ``name``.

        Args:
            name: Key name (``A-Za-z0-9_.-``).
            passphrase: Encrypts the private key when given (non-empty).

        Raises:
            InvalidInput: bad name, empty passphrase, or a key of that name exists.
        """
        private_path, public_path = self._paths(name)
        if private_path.exists() or public_path.exists():
            raise InvalidInput(f"A key named {name!r} already exists in {self.directory}; pick another name.")
        if passphrase is not None and not passphrase:
            raise InvalidInput("The passphrase is empty; give a non-empty one or none.")
        key = ec.generate_private_key(ec.SECP256R1())
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
        )
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_file_atomic(private_path, private_pem, mode=0o600, exclusive=True)
        write_file_atomic(public_path, public_pem, mode=0o644, exclusive=True)
        return self.get(name)

    def get(self, name: str) -> KeyInfo:
        """The key pair called ``name``.

        Raises:
            NotFound: no such key, with the command that lists them.
        """
        private_path, public_path = self._paths(name)
        if not private_path.is_file() or not public_path.is_file():
            raise NotFound(f"No key named {name!r} in {self.directory}; `loopml keys list` shows the keys.")
        public = load_public_pem(public_path.read_bytes(), source=str(public_path))
        encrypted = b"ENCRYPTED" in private_path.read_bytes()[:64]
        return KeyInfo(
            name=name,
            key_id=key_id(public),
            private_path=private_path,
            public_path=public_path,
            is_encrypted=encrypted,
        )

    def list(self) -> list[KeyInfo]:
        """Every key pair, sorted by name."""
        if not self.directory.is_dir():
            return []
        return [
            self.get(p.stem)
            for p in sorted(self.directory.glob("*.key"))
            if (p.with_suffix(".pub")).is_file()
        ]

    def export_public(self, name: str) -> bytes:
        """The PEM public key of ``name``."""
        return self.get(name).public_path.read_bytes()

    def load_private(self, name: str, *, passphrase: bytes | None = None) -> ec.EllipticCurvePrivateKey:
        """The private key of ``name`` (decrypted with ``passphrase`` when encrypted).

        Raises:
            InvalidInput: wrong or missing passphrase.
        """
        info = self.get(name)
        try:
            key = serialization.load_pem_private_key(info.private_path.read_bytes(), passphrase)
        except (TypeError, ValueError) as err:
            raise InvalidInput(
                f"Cannot open private key {name!r}: wrong or missing passphrase ({err})."
            ) from err
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise InvalidInput(f"Key {name!r} is not an EC private key.")
        return key
