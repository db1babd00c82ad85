"""Sign a verified package: the signature covers every file, ``checksums.json`` included."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from loopml.registry.package._manifest import SIGNATURE_FILE
from loopml.registry.package.verify import verify_package
from loopml.registry.signing.sign import Signer

__all__ = ["sign_package"]


def sign_package(path: Path | str, signer: Signer) -> Path:
    """Check a package's files against ``checksums.json``, then write ``model.sig`` atomically.

    Args:
        path: The package folder.
        signer: How to sign (e.g. :class:`~loopml.registry.signing.KeySigner`).

    Returns:
        The path of the signature file.

    Raises:
        IntegrityError: the package does not match its manifest (nothing is signed).
    """
    root = Path(path)
    verify_package(root)
    fd, tmp = tempfile.mkstemp(dir=root.parent, prefix=f".{root.name}.sig.", suffix=".tmp")
    os.close(fd)
    try:
        signer.sign(root, Path(tmp), exclude=[SIGNATURE_FILE])
        os.replace(tmp, root / SIGNATURE_FILE)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return root / SIGNATURE_FILE
