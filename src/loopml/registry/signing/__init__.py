"""Signing keys, the trust store, and OpenSSF model-signing signatures (key mode)."""

from loopml.registry.signing.keys import KeyInfo, KeyRing
from loopml.registry.signing.sign import CertificateSigner, KeySigner, Signer, SigstoreSigner
from loopml.registry.signing.trust import TrustedKey, TrustStore
from loopml.registry.signing.verify import SignedManifest, pae, verify_bundle

__all__ = [
    "CertificateSigner",
    "KeyInfo",
    "KeyRing",
    "KeySigner",
    "SignedManifest",
    "Signer",
    "SigstoreSigner",
    "TrustStore",
    "TrustedKey",
    "pae",
    "verify_bundle",
]
