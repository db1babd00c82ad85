"""Opening the identity services for the ``users``, ``tokens``, ``audit`` and ``server init`` commands.

These commands administer a server's metadata store directly (run them where the server's
settings point: same ``LOOPML_STORE_URL`` and ``LOOPML_TOKEN_PEPPER``). The server has no API
for them, so with ``LOOPML_TRACKING_URI`` set they are refused rather than run on a local folder;
listings never create a store.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from loopml.cli import _context
from loopml.security.audit import AuditLog
from loopml.security.auth import AuthService
from loopml.store.repositories import IdentityStore

__all__ = ["Admin", "admin", "audit_log", "auth_service", "identity_store"]


def _local(command: str, *, create: bool) -> None:
    """Refuse a configured server; a read (``create`` False) also needs an existing local store."""
    _context.require_local(command)
    if not create:
        _context.ensure_local_store()


@contextmanager
def identity_store(command: str, *, create: bool = False) -> Iterator[IdentityStore]:
    """The store named by the settings (closed when the command ends).

    Args:
        command: The command, for the message when a server is configured instead.
        create: Whether a missing local store may be created (commands that write).
    """
    _local(command, create=create)
    yield _context.services().identity_store


@contextmanager
def auth_service(command: str) -> Iterator[AuthService]:
    """An :class:`AuthService` over the configured store (with the configured token pepper), to read."""
    _local(command, create=False)
    yield _context.services().auth


@dataclass(frozen=True, slots=True)
class Admin:
    """The identity service plus the audit log, for commands that change users, tokens or grants."""

    auth: AuthService
    audit: AuditLog

    def record(self, action: str, target: str, details: Mapping[str, Any] | None = None) -> None:
        """Audit a change made from the command line (actor ``cli:<OS user>``, client ``cli``)."""
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = "unknown"
        self.audit.record(actor=f"cli:{who}", action=action, target=target, client="cli", details=details)


@contextmanager
def admin(command: str, *, create: bool = False) -> Iterator[Admin]:
    """:class:`Admin` over the configured store (``create``: made when missing)."""
    _local(command, create=create)
    services = _context.services()
    yield Admin(services.auth, services.audit)


@contextmanager
def audit_log(command: str) -> Iterator[AuditLog]:
    """The audit log of the configured store, to read."""
    _local(command, create=False)
    yield _context.services().audit
