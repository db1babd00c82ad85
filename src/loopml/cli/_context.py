"""Per-invocation state of the CLI: settings built once at the entry point, clients made lazily."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.services import Services
    from loopml.tracking import Client

_home: Path | None = None
_settings: Settings | None = None
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


def client() -> Client:
    """The tracking client of this invocation, opened on first use."""
    global _client
    if _client is None:
        from loopml.tracking import Client

        _client = Client(settings())
    return _client


def services() -> Services:
    """The store, blob store, registry and auth of this invocation (:mod:`loopml.services`)."""
    global _services
    if _services is None:
        from loopml.services import Services

        _services = Services(settings())
    return _services


def close() -> None:
    """Close what this invocation opened."""
    global _client, _services
    try:
        if _client is not None:
            _client.close()
            _client = None
    finally:
        if _services is not None:
            _services.close()
            _services = None
