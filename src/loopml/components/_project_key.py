"""The project signing key: generated under ``<home>/keys`` on first use and trusted in ``<home>/trust``."""

from __future__ import annotations

from pathlib import Path

from loopml.errors import NotFound
from loopml.registry import KeyRing, TrustStore
from loopml.registry.signing.keys import KeyInfo

__all__ = ["project_key"]


def project_key(home: Path, name: str) -> tuple[KeyInfo, TrustStore]:
    """The key ``name`` in ``home/keys`` (created when missing) and a trust store that trusts it."""
    ring, trust = KeyRing(home / "keys"), TrustStore(home / "trust")
    try:
        key = ring.get(name)
    except NotFound:
        key = ring.generate(name)
    if not any(t.key_id == key.key_id for t in trust.list()):
        trust.add(ring.export_public(name), name=name)
    return key, trust
