"""Signatures: trusted, untrusted and corrupted; passphrases; interop with the model_signing tool."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from loopml.errors import IntegrityError, InvalidInput, InvalidState, NotFound
from loopml.registry import (
    KeyRing,
    KeySigner,
    ModelPackage,
    SignatureStatus,
    TrustStore,
    load_model,
    package_model,
    sign_package,
    verify_package,
)
from loopml.registry.package import SIGNATURE_FILE
from loopml.registry.signing import SigstoreSigner


def _bundle(package: ModelPackage) -> dict:  # type: ignore[type-arg]
    return json.loads((package.path / SIGNATURE_FILE).read_text())


def test_signature_is_a_model_signing_bundle_covering_every_file(signed_package: ModelPackage) -> None:
    bundle = _bundle(signed_package)
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert len(bundle["verificationMaterial"]["publicKey"]["hint"]) == 64
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://model_signing/signature/v1.0"
    names = sorted(r["name"] for r in statement["predicate"]["resources"])
    assert names == [
        "checksums.json",
        "model.yaml",
        "model/model.skops",
        "training_stats.json",
        "transform/transform.skops",
    ]


def test_signature_by_untrusted_key_is_refused(signed_package: ModelPackage, tmp_path: Path) -> None:
    other = TrustStore(tmp_path / "other-trust")
    stranger = KeyRing(tmp_path / "other-keys").generate("stranger")
    other.add(stranger.public_path.read_bytes(), name="stranger")
    with pytest.raises(IntegrityError, match=r"untrusted key \(hint [0-9a-f]{64}\).*stranger"):
        load_model(signed_package.path, trust_store=other)


def test_resigned_by_untrusted_key_is_refused(
    signed_package: ModelPackage, trust_store: TrustStore, tmp_path: Path
) -> None:
    stranger = KeyRing(tmp_path / "other-keys").generate("stranger")
    sign_package(signed_package.path, KeySigner(stranger.private_path))
    with pytest.raises(IntegrityError, match="untrusted key"):
        verify_package(signed_package.path, trust_store=trust_store)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda b: b.replace(b'"mediaType"', b'"mediaTyp"'),
        lambda b: b[: len(b) // 2],
        lambda b: b"not json at all",
    ],
    ids=["media-type", "truncated", "garbage"],
)
def test_corrupted_signature_is_refused(
    signed_package: ModelPackage, trust_store: TrustStore, corrupt
) -> None:  # type: ignore[no-untyped-def]
    path = signed_package.path / SIGNATURE_FILE
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(IntegrityError, match=r"model.sig"):
        verify_package(signed_package.path, trust_store=trust_store)


def test_forged_statement_fails_signature_check(
    signed_package: ModelPackage, trust_store: TrustStore
) -> None:
    bundle = _bundle(signed_package)
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    statement["predicate"]["resources"][0]["digest"] = "0" * 64
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    (signed_package.path / SIGNATURE_FILE).write_text(json.dumps(bundle))
    with pytest.raises(IntegrityError, match="does not verify with trusted key 'release'"):
        verify_package(signed_package.path, trust_store=trust_store)


def test_signature_present_but_unchecked_without_trust_store(signed_package: ModelPackage) -> None:
    assert verify_package(signed_package.path).signature_status is SignatureStatus.UNCHECKED


def test_passphrase_protected_key(
    tmp_path: Path,
    fitted: tuple[StandardScaler, LogisticRegression],
    trust_store: TrustStore,
) -> None:
    ring = KeyRing(tmp_path / "keys")
    info = ring.generate("locked", passphrase=b"s3cret")
    assert info.is_encrypted
    assert stat.S_IMODE(info.private_path.stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in info.private_path.read_bytes()
    package = package_model(fitted[1], tmp_path / "pkg")
    with pytest.raises(InvalidInput, match="passphrase"):
        sign_package(package.path, KeySigner(info.private_path, passphrase=b"wrong"))
    with pytest.raises(InvalidInput, match="passphrase"):
        sign_package(package.path, KeySigner(info.private_path))
    assert not (package.path / SIGNATURE_FILE).exists()
    sign_package(package.path, KeySigner(info.private_path, passphrase=b"s3cret"))
    trust_store.add(ring.export_public("locked"), name="locked")
    assert verify_package(package.path, trust_store=trust_store).signer.name == "locked"  # type: ignore[union-attr]


def test_key_ring_and_trust_store_errors(key_ring: KeyRing, trust_store: TrustStore) -> None:
    key_ring.generate("a")
    with pytest.raises(InvalidInput, match="already exists"):
        key_ring.generate("a")
    with pytest.raises(InvalidInput, match="Bad key name"):
        key_ring.generate("../escape")
    with pytest.raises(NotFound, match="loopml keys list"):
        key_ring.get("nope")
    trust_store.add(key_ring.export_public("a"), name="a")
    with pytest.raises(InvalidInput, match="already trusted as 'a'"):
        trust_store.add(key_ring.export_public("a"), name="again")
    with pytest.raises(InvalidInput, match="not a PEM public key"):
        trust_store.add(b"-----BEGIN NOTHING-----", name="junk")
    assert [k.name for k in key_ring.list()] == ["a"]
    assert trust_store.list()[0].key_id == key_ring.get("a").key_id


def test_sign_refuses_a_tampered_package(signed_package: ModelPackage, signing_key: KeySigner) -> None:
    (signed_package.path / "model.yaml").write_text("format: loopml-model/1\n")
    with pytest.raises(IntegrityError, match=r"model.yaml"):
        sign_package(signed_package.path, signing_key)


def test_keyless_sigstore_is_a_clear_seam(signed_package: ModelPackage) -> None:
    with pytest.raises(InvalidState, match="Fulcio and Rekor"):
        sign_package(signed_package.path, SigstoreSigner())


def _model_signing(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "model_signing", *args], capture_output=True, text=True, check=False
    )


def test_model_signing_tool_verifies_a_loopml_package(
    signed_package: ModelPackage, key_ring: KeyRing
) -> None:
    from model_signing import verifying

    public = key_ring.get("release").public_path
    sig = signed_package.path / SIGNATURE_FILE
    verifying.Config().use_elliptic_key_verifier(public_key=public).verify(signed_package.path, sig)
    done = _model_signing(
        "verify", "key", str(signed_package.path), "--signature", str(sig), "--public_key", str(public)
    )
    assert done.returncode == 0, done.stderr
    # and the public tool also notices tampering
    (signed_package.path / "model.yaml").write_text("changed\n")
    done = _model_signing(
        "verify", "key", str(signed_package.path), "--signature", str(sig), "--public_key", str(public)
    )
    assert done.returncode != 0


def test_loopml_verifies_a_package_signed_by_the_model_signing_tool(
    tmp_path: Path,
    training_data: tuple[pd.DataFrame, np.ndarray],
    fitted: tuple[StandardScaler, LogisticRegression],
    key_ring: KeyRing,
    trust_store: TrustStore,
) -> None:
    transform, model = fitted
    package = package_model(model, tmp_path / "pkg", transform=transform)
    # model_signing 1.1.1's CLI `--password` passes a str where bytes are needed, so no passphrase here
    info = key_ring.generate("external")
    sig = package.path / SIGNATURE_FILE
    done = _model_signing(
        "sign", "key", str(package.path), "--signature", str(sig), "--private_key", str(info.private_path)
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    trust_store.add(info.public_path.read_bytes(), name="external")
    predictor = load_model(package.path, trust_store=trust_store, require_signature=True)
    assert predictor.package.signer is not None and predictor.package.signer.name == "external"
    frame = training_data[0]
    np.testing.assert_array_equal(predictor.predict(frame), model.predict(transform.transform(frame)))
