"""Per-invocation state of the CLI: settings built once at the entry point, clients made lazily.

Every command reaches the metadata store through here, so that all of them behave alike:

- with ``LOOPML_TRACKING_URI`` set, :func:`client` and :func:`store` talk to that server; a
  command that can only work on a store directly calls :func:`require_local` first and is refused
  with a message (exit 2) instead of silently reading an empty local folder;
- a read-only command opens the local store with ``create=False``: in a folder without one it
  says so (exit 2) instead of creating ``./.loopml`` and printing empty tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from loopml.errors import InvalidInput, StoreUnavailable

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.services import Services
    from loopml.store import Store
    from loopml.store.remote import ApiSession
    from loopml.tracking import Client

_home: Path | None = None
_settings: Settings | None = None
_store: Store | None = None
_client: Client | None = None
_services: Services | None = None


def configure(*, home: Path | None) -> None:
    """Remember global options; called by the root callback (services of other settings are closed)."""
    global _home, _settings, _services
    _home, _settings = home, None
    if _services is not None:
        _services.close()
        _services = None


def settings() -> Settings:
    """The settings of this invocation (environment, loopml.toml, then --home)."""
    global _settings
    if _settings is None:
        from loopml.config import load_settings  # pydantic: loaded by the commands that need it

        _settings = load_settings(home=_home)
    return _settings


def is_remote() -> bool:
    """Whether this invocation talks to a loopml server (``LOOPML_TRACKING_URI``)."""
    return bool(settings().tracking_uri)


def require_local(command: str) -> None:
    """Refuse ``command`` when a server is configured: it works on a store directly.

    Raises:
        InvalidInput: with ``LOOPML_TRACKING_URI`` set (exit 2).
    """
    uri = settings().tracking_uri
    if uri:
        raise InvalidInput(
            f"`loopml {command}` works on a metadata store directly and cannot go through the server "
            f"LOOPML_TRACKING_URI={uri}. Run it where the server's settings point (same LOOPML_HOME or "
            "LOOPML_STORE_URL), with LOOPML_TRACKING_URI unset."
        )


def _sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL (None for other databases or in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def ensure_local_store() -> None:
    """Check that the local store exists (a read must not create one).

    Raises:
        StoreUnavailable: naming the folder and how to make or choose one (exit 2).
    """
    current = settings()
    if current.tracking_uri:
        return
    path = _sqlite_path(current.resolved_store_url())
    if path is not None and not path.is_file():
        raise StoreUnavailable(
            f"No loopml store in {current.home.expanduser().absolute()} (looked for {path}). "
            "Choose the folder with --home or LOOPML_HOME, use a server with LOOPML_TRACKING_URI, "
            "or create one by logging a run (`loopml demo` records an example)."
        )


def client(*, create: bool = False) -> Client:
    """The tracking client of this invocation (remote with ``LOOPML_TRACKING_URI``), made on first use.

    It works on :func:`store`, so a command that uses both sees one store.

    Args:
        create: Whether a missing local store may be created (commands that write); a read-only
            command leaves it False and gets :class:`StoreUnavailable` when there is none.
    """
    global _client
    opened = store(create=create)
    if _client is None:
        from loopml.tracking import Client

        _client = Client(settings(), store=opened)
    return _client


def services() -> Services:
    """The store, blob store, registry and auth of this invocation (:mod:`loopml.services`)."""
    global _services
    if _services is None:
        from loopml.services import Services

        _services = Services(settings())
    return _services


def store(*, create: bool = False) -> Store:
    """The metadata store of this invocation (the server's over REST with ``LOOPML_TRACKING_URI``).

    Opened without the tracking client, whose imports (YAML, psutil, the reproducibility
    capture) a command that only reads the store, such as ``loopml runs list``, does not need.

    Args:
        create: Whether a missing local store may be created (see :func:`client`).
    """
    global _store
    if not create:
        ensure_local_store()
    if _store is None:
        current = settings()
        if current.tracking_uri:
            from loopml.store.remote import RemoteStore

            _store = RemoteStore(current.tracking_uri, token=current.tracking_token)
        else:
            from loopml.store.sql import open_store

            _store = open_store(current.resolved_store_url())
    return _store


def remote_session() -> ApiSession | None:
    """The HTTP session to the server of ``LOOPML_TRACKING_URI`` (None when working locally)."""
    if not is_remote():
        return None
    from loopml.store.remote import RemoteStore

    remote = store()
    return remote.session if isinstance(remote, RemoteStore) else None


def close() -> None:
    """Close what this invocation opened (the client first: it flushes buffered metrics)."""
    global _store, _client, _services
    try:
        if _client is not None:
            _client.close()
            _client = None
    finally:
        try:
            if _store is not None:
                _store.close()
                _store = None
        finally:
            if _services is not None:
                _services.close()
                _services = None
