"""Signers: write an OpenSSF model-signing bundle for a folder (key, certificate; Sigstore seam).

Signing uses the ``model_signing`` library itself, so signatures are exactly what the public
tool writes. Only the signature file is excluded from the signed file list.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from loopml.errors import InvalidInput, InvalidState, require_extra

__all__ = ["CertificateSigner", "KeySigner", "Signer", "SigstoreSigner"]


@runtime_checkable
class Signer(Protocol):
    """Signs a folder, writing a Sigstore bundle to ``signature_path``."""

    def sign(self, folder: Path, signature_path: Path, *, exclude: Sequence[str] = ()) -> None:
        """Sign every file under ``folder`` except ``exclude`` (relative paths)."""
        ...


def _hashing_config(exclude: Sequence[str]) -> Any:
    require_extra("model_signing", extra="signing", feature="Signing model packages")
    from model_signing import hashing

    return (
        hashing.Config()  # type: ignore[no-untyped-call]
        .use_file_serialization(hashing_algorithm="sha256")
        .set_ignored_paths(paths=list(exclude), ignore_git_paths=False)
    )


class KeySigner:
    """Signs with an EC private key (PEM), optionally passphrase-protected."""

    def __init__(self, private_key_path: Path, *, passphrase: bytes | None = None) -> None:
        self.private_key_path = Path(private_key_path)
        self.passphrase = passphrase

    def sign(self, folder: Path, signature_path: Path, *, exclude: Sequence[str] = ()) -> None:
        """Write the bundle (hashes every file not excluded)."""
        config = _hashing_config(exclude)
        from model_signing import signing

        try:
            signer = (
                signing.Config()  # type: ignore[no-untyped-call]
                .set_hashing_config(config)
                .use_elliptic_key_signer(
                    private_key=self.private_key_path,
                    password=self.passphrase,  # type: ignore[arg-type]
                )
            )
        except (TypeError, ValueError) as err:
            raise InvalidInput(
                f"Cannot use private key {self.private_key_path}: wrong or missing passphrase, or not an "
                f"EC key ({err})."
            ) from err
        signer.sign(folder, signature_path)


class CertificateSigner:
    """Signs with a private key and its X.509 signing certificate plus chain (PEM files)."""

    def __init__(self, private_key_path: Path, certificate_path: Path, chain: Sequence[Path] = ()) -> None:
        self.private_key_path = Path(private_key_path)
        self.certificate_path = Path(certificate_path)
        self.chain = [Path(c) for c in chain]

    def sign(self, folder: Path, signature_path: Path, *, exclude: Sequence[str] = ()) -> None:
        """Write the bundle with the certificate chain as verification material."""
        config = _hashing_config(exclude)
        from model_signing import signing

        base = signing.Config()  # type: ignore[no-untyped-call]
        base.set_hashing_config(config).use_certificate_signer(
            private_key=self.private_key_path,
            signing_certificate=self.certificate_path,
            certificate_chain=self.chain,
        ).sign(folder, signature_path)


class SigstoreSigner:
    """Keyless Sigstore signing (OIDC identity, Fulcio certificate, Rekor log): needs the internet."""

    def sign(self, folder: Path, signature_path: Path, *, exclude: Sequence[str] = ()) -> None:
        """Not available: loopml signs offline only."""
        raise InvalidState(
            "Keyless Sigstore signing needs an OIDC identity and network access to Fulcio and Rekor, "
            "which loopml does not do. Sign with a key (`loopml keys generate NAME`, then "
            "`loopml models sign PATH --key NAME`) or run `model_signing sign sigstore` yourself."
        )
