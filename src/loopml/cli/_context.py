"""Per-invocation state of the CLI: settings built once at the entry point, clients made lazily."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.tracking import Client

_home: Path | None = None
_settings: Settings | None = None
_client: Client | None = None


def configure(*, home: Path | None) -> None:
    """Remember global options; called by the root callback."""
    global _home, _settings
    _home, _settings = home, None


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


def close() -> None:
    """Close what this invocation opened."""
    global _client
    if _client is not None:
        _client.close()
        _client = None
