"""Key material helpers: key ids, PEM parsing, name checks and owner-only atomic writes."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from loopml.errors import InvalidInput

__all__ = ["check_name", "key_hint", "key_id", "load_public_pem", "write_file_atomic"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CURVES = ("secp256r1", "secp384r1", "secp521r1")


def check_name(name: str, *, what: str = "key name") -> str:
    """Refuse names that are not 1-64 of ``A-Za-z0-9_.-`` starting with a letter or digit."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"Bad {what} {name!r}: use 1-64 characters A-Z a-z 0-9 _ . - (not starting with . or -)."
        )
    return name


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """loopml's key id: SHA-256 (hex) of the DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def key_hint(public_key: ec.EllipticCurvePublicKey) -> str:
    """The OpenSSF model-signing key hint: SHA-256 (hex) of the PEM SubjectPublicKeyInfo."""
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()


def load_public_pem(data: bytes, *, source: str) -> ec.EllipticCurvePublicKey:
    """Parse a PEM public key and check it is an EC key on a supported curve.

    Raises:
        InvalidInput: naming ``source`` and what is wrong with it.
    """
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as err:
        raise InvalidInput(
            f"{source} is not a PEM public key ({err}); export one with `loopml keys export-public`."
        ) from err
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in _CURVES:
        raise InvalidInput(
            f"{source} must be an EC public key on {', '.join(_CURVES)}; got {type(key).__name__}."
        )
    return key


def write_file_atomic(path: Path, data: bytes, *, mode: int = 0o644, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and rename.

    Args:
        path: Destination.
        data: Content.
        mode: Permission bits the file gets before any byte is written.
        exclusive: Refuse (InvalidInput) when ``path`` exists.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if exclusive and path.exists():
        raise InvalidInput(f"{path} already exists; choose another name or delete it first.")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, path)  # fails if path appeared meanwhile
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except FileExistsError as err:
        os.unlink(tmp)
        raise InvalidInput(f"{path} already exists; choose another name or delete it first.") from err
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
