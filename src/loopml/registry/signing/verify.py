"""Verification of OpenSSF model-signing bundles (key mode) against a trust store.

The signature file is a Sigstore bundle (``application/vnd.dev.sigstore.bundle.v0.3+json``)
holding a DSSE envelope whose payload is an in-toto Statement v1 with predicate type
``https://model_signing/signature/v1.0``: one subject (the model name and a SHA-256 over all
file digests in order) and ``predicate.resources`` (name, algorithm, digest per file). The
signature is ECDSA over the DSSE pre-authentication encoding (PAE) of the payload. The key is
found by ``verificationMaterial.publicKey.hint`` (SHA-256 of the PEM public key).

Verification here checks the signature and returns the signed per-file digests; comparing
them with the files on disk is the caller's job (so files are hashed once).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from loopml.errors import IntegrityError
from loopml.registry.signing.trust import TrustedKey, TrustStore

__all__ = [
    "BUNDLE_MEDIA_TYPE",
    "IN_TOTO_PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "SignedManifest",
    "pae",
    "verify_bundle",
]

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
IN_TOTO_STATEMENT = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
PREDICATE_TYPE_V01 = "https://model_signing/Digests/v0.1"
_HASHES: dict[int, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    256: hashes.SHA256,
    384: hashes.SHA384,
    521: hashes.SHA512,
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SignedManifest:
    """What a valid signature vouches for.

    Attributes:
        key: The trusted key that made the signature.
        model_name: The subject name (the signed folder's name).
        digests: Relative POSIX path → SHA-256 hex of every signed file.
    """

    key: TrustedKey
    model_name: str
    digests: Mapping[str, str]


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of ``payload``."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _corrupt(source: str, why: str) -> IntegrityError:
    return IntegrityError(f"The signature file {source} is corrupted or not a model-signing bundle: {why}.")


def _envelope(bundle: Any, source: str) -> tuple[str, bytes, bytes, str | None]:
    if not isinstance(bundle, dict) or bundle.get("mediaType") != BUNDLE_MEDIA_TYPE:
        got = bundle.get("mediaType") if isinstance(bundle, dict) else type(bundle).__name__
        raise _corrupt(source, f"mediaType is {got!r}, expected {BUNDLE_MEDIA_TYPE!r}")
    material = bundle.get("verificationMaterial") or {}
    if "publicKey" not in material:
        raise IntegrityError(
            f"{source} is not a key-mode signature (verificationMaterial has {sorted(material)}); loopml "
            "verifies EC-key signatures. Verify certificate or Sigstore signatures with "
            "`model_signing verify`."
        )
    hint = (material.get("publicKey") or {}).get("hint")
    env: Any = bundle.get("dsseEnvelope")
    try:
        payload = base64.b64decode(env["payload"], validate=True)
        sigs = env["signatures"]
        if len(sigs) != 1:
            raise _corrupt(source, f"expected one DSSE signature, found {len(sigs)}")
        signature = base64.b64decode(sigs[0]["sig"], validate=True)
        payload_type = str(env["payloadType"])
    except (KeyError, TypeError, IndexError, binascii.Error) as err:
        raise _corrupt(source, f"bad DSSE envelope ({type(err).__name__}: {err})") from err
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise _corrupt(source, f"payloadType is {payload_type!r}, expected {IN_TOTO_PAYLOAD_TYPE!r}")
    return payload_type, payload, signature, hint if isinstance(hint, str) and hint else None


def _check_signature(key: TrustedKey, payload_type: str, payload: bytes, signature: bytes) -> bool:
    algorithm = _HASHES[key.public_key.curve.key_size]()
    try:
        key.public_key.verify(signature, pae(payload_type, payload), ec.ECDSA(algorithm))
    except InvalidSignature:
        return False
    return True


def _digests(statement: Any, source: str) -> tuple[str, dict[str, str]]:
    if not isinstance(statement, dict) or statement.get("_type") != IN_TOTO_STATEMENT:
        raise _corrupt(source, "the payload is not an in-toto Statement v1")
    kind, subjects = statement.get("predicateType"), statement.get("subject") or []
    try:
        if kind == PREDICATE_TYPE_V01:
            return "", {s["name"]: s["digest"]["sha256"] for s in subjects}
        if kind != PREDICATE_TYPE:
            raise _corrupt(source, f"predicateType {kind!r} is not {PREDICATE_TYPE!r}")
        resources = statement["predicate"]["resources"]
        root = hashlib.sha256()
        digests: dict[str, str] = {}
        for res in resources:
            if res.get("algorithm") != "sha256":
                raise _corrupt(
                    source, f"resource {res.get('name')!r} uses {res.get('algorithm')!r}, not sha256"
                )
            root.update(bytes.fromhex(res["digest"]))
            digests[str(res["name"])] = str(res["digest"])
        if len(subjects) != 1 or subjects[0]["digest"]["sha256"] != root.hexdigest():
            raise _corrupt(source, "the subject digest does not match the listed resources")
        return str(subjects[0].get("name", "")), digests
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise _corrupt(source, f"malformed statement ({type(err).__name__}: {err})") from err


def verify_bundle(
    bundle_bytes: bytes, trust_store: TrustStore, *, source: str = "model.sig"
) -> SignedManifest:
    """Check a key-mode model-signing bundle against the trust store.

    Args:
        bundle_bytes: The signature file's content.
        trust_store: Keys allowed to sign.
        source: How to name the signature file in messages.

    Returns:
        The trusted key and the signed per-file digests.

    Raises:
        IntegrityError: corrupted bundle, untrusted key or a signature that does not verify,
            naming the file and the key.
    """
    try:
        bundle = json.loads(bundle_bytes)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _corrupt(source, f"not JSON ({err})") from err
    payload_type, payload, signature, hint = _envelope(bundle, source)
    if hint is not None:
        key = trust_store.find_by_hint(hint)
        if key is None:
            raise IntegrityError(
                f"{source} is signed by an untrusted key (hint {hint}); trusted keys: "
                f"{', '.join(k.name for k in trust_store.list()) or 'none'}. Trust the signer's public "
                "key with `loopml keys trust PUBLIC.pem --name NAME` if you trust its owner."
            )
        if not _check_signature(key, payload_type, payload, signature):
            raise IntegrityError(
                f"The signature in {source} does not verify with trusted key {key.name!r} "
                f"(key id {key.key_id}): the signature or the signed statement was altered."
            )
    else:
        key = next(
            (k for k in trust_store.list() if _check_signature(k, payload_type, payload, signature)), None
        )
        if key is None:
            raise IntegrityError(f"The signature in {source} does not verify with any trusted key.")
    try:
        statement = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _corrupt(source, f"the signed payload is not JSON ({err})") from err
    model_name, digests = _digests(statement, source)
    return SignedManifest(key=key, model_name=model_name, digests=digests)
