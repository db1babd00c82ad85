"""The composition root: one place builds store, blob store, registry and auth from Settings."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import loopml
from loopml.artifacts import Blobs, BlobStore, blob_store_for
from loopml.config import Settings
from loopml.errors import InvalidState, Unauthorized
from loopml.security.auth import AuthService, Role
from loopml.services import Services
from loopml.store.remote import RemoteBlobs, RemoteStore

KEY = "3c" * 32
SRC = Path(loopml.__file__).parent
#: The only modules that may call the ``BlobStore`` constructor: the class itself and the factory
#: that applies the settings' encryption key. Everything else asks ``Services`` (or the factory).
BLOB_STORE_BUILDERS = {"artifacts/_blobs.py", "artifacts/_configured.py"}


def _constructor_calls(tree: ast.AST, name: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == name)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == name)
        )
    ]


def test_no_module_builds_a_blob_store_by_hand() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative in BLOB_STORE_BUILDERS or relative.startswith("examples/"):
            continue
        for line in _constructor_calls(ast.parse(path.read_text(encoding="utf-8")), "BlobStore"):
            offenders.append(f"{relative}:{line}")
    assert not offenders, (
        "these build a BlobStore without the settings' encryption key; use Services.blobs or "
        f"loopml.artifacts.blob_store_for: {offenders}"
    )


def test_the_guard_sees_a_hand_built_blob_store() -> None:
    tree = ast.parse(
        "from loopml.artifacts import BlobStore\nblobs = BlobStore(settings.resolved_artifacts_url())"
    )
    assert _constructor_calls(tree, "BlobStore") == [2]


def test_services_share_one_keyed_blob_store(tmp_path: Path) -> None:
    with Services(Settings(home=tmp_path, artifacts_encryption_key=KEY)) as services:
        assert services.blobs.is_encrypted
        assert services.registry.blobs is services.blobs
        assert services.registry.trust_store is not None
        assert services.registry.trust_store.directory == tmp_path.absolute() / "trust"
        sha = services.blobs.put_bytes(b"secret").sha256
    assert (tmp_path / "artifacts").is_dir()
    assert b"secret" not in b"".join(
        p.read_bytes() for p in (tmp_path / "artifacts").rglob("*") if p.is_file()
    )
    assert blob_store_for(Settings(home=tmp_path, artifacts_encryption_key=KEY)).read_bytes(sha) == b"secret"


def test_auth_hashes_tokens_with_the_pepper(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, token_pepper="pepper-1")
    with Services(settings) as services:
        services.auth.create_user("ana", role=Role.EDITOR)
        _, secret = services.auth.create_token("ana")
        assert services.auth.authenticate(secret).name == "ana"
        unpeppered = AuthService(services.identity_store)
        with pytest.raises(Unauthorized):
            unpeppered.authenticate(secret)


def test_a_remote_store_has_no_registry_or_identity(tmp_path: Path) -> None:
    remote = RemoteStore("http://127.0.0.1:9")
    with Services(Settings(home=tmp_path), store=remote) as services:
        with pytest.raises(InvalidState, match="no model registry"):
            _ = services.registry
        with pytest.raises(InvalidState, match="no users, tokens"):
            _ = services.auth
    remote.close()


def test_both_blob_stores_satisfy_the_blobs_protocol(tmp_path: Path) -> None:
    assert isinstance(BlobStore(tmp_path), Blobs)
    with RemoteStore("http://127.0.0.1:9") as remote:
        assert isinstance(RemoteBlobs(remote.session), Blobs)
