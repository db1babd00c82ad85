"""One :class:`Settings` object: environment variables ``LOOPML_*`` and an optional ``loopml.toml``.

Settings are built once at an entry point (CLI command, app factory) with :func:`load_settings`
and passed down; domain code never reads ``os.environ``.
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator

from loopml.errors import InvalidInput

__all__ = ["ENV_PREFIX", "Settings", "UnsafeArtifacts", "load_settings"]

ENV_PREFIX = "LOOPML_"
CONFIG_FILE_NAME = "loopml.toml"


class UnsafeArtifacts(enum.StrEnum):
    """What to do with an artifact upload the scanner judges unsafe (code would run on loading it)."""

    REFUSE = "refuse"
    RECORD = "record"


class Settings(BaseModel):
    """Where loopml keeps its state and how it reaches shared services.

    Attributes:
        home: Local state folder (default ``./.loopml``).
        store_url: SQLAlchemy URL of the metadata store (default: SQLite file in ``home``).
        artifacts_url: fsspec URL of the artifact root (default ``<home>/artifacts``).
        tracking_uri: ``http(s)://`` URL of a loopml server; when set, the SDK talks to it.
        tracking_token: Bearer token for ``tracking_uri``.
        redis_url: Redis URL for state shared between server replicas.
        metric_flush_size: Buffered metric points that trigger a flush to the store.
        artifacts_encryption_key: Key for encrypting model artifacts at rest (AES-256-GCM): a key
            file path, or the key as 64 hex characters or base64 of 32 bytes
            (env ``LOOPML_ARTIFACTS_ENCRYPTION_KEY``); read with ``loopml.artifacts.load_encryption_key``.
        token_pepper: Server secret mixed into API-token hashes (``LOOPML_TOKEN_PEPPER``); every
            server on one store needs the same value, and changing it invalidates all tokens.
        ungranted_access: What a user below maintainer may do on an experiment, dataset or model
            nobody granted them (``LOOPML_UNGRANTED_ACCESS``): ``read`` (default: everyone reads,
            maintainers and admins write, creators write what they made), ``write`` (the role
            alone decides) or ``none`` (hidden unless granted). See ``loopml.security.auth.grants``.
        rate_limits: Rate limits per role and endpoint class (a ``loopml.toml`` table, see
            ``loopml.security.ratelimit.RateLimitPolicy.from_mapping``); defaults when unset.
        unsafe_artifacts: What happens to an artifact upload the model-file scanner judges unsafe
            (``LOOPML_UNSAFE_ARTIFACTS``): ``refuse`` it (the default) or ``record`` it with its
            verdict, after which downloading it needs an explicit opt-in.

    Example:
        >>> s = Settings(home=Path("/tmp/x"))
        >>> s.resolved_store_url()
        'sqlite:////tmp/x/store.db'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path = Path(".loopml")
    store_url: str | None = None
    artifacts_url: str | None = None
    tracking_uri: str | None = None
    tracking_token: str | None = None
    redis_url: str | None = None
    metric_flush_size: int = 1000
    artifacts_encryption_key: str | None = None
    token_pepper: SecretStr | None = None
    ungranted_access: Literal["none", "read", "write"] = "read"
    rate_limits: dict[str, Any] | None = None
    unsafe_artifacts: UnsafeArtifacts = UnsafeArtifacts.REFUSE

    @field_validator("metric_flush_size")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @field_validator("tracking_uri")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value or None

    def resolved_store_url(self) -> str:
        """The store URL, defaulting to ``sqlite:///<home>/store.db`` (absolute)."""
        if self.store_url:
            return self.store_url
        return f"sqlite:///{self.home.expanduser().absolute() / 'store.db'}"

    def resolved_artifacts_url(self) -> str:
        """The artifact root URL, defaulting to ``<home>/artifacts`` (absolute path)."""
        if self.artifacts_url:
            return self.artifacts_url
        return str(self.home.expanduser().absolute() / "artifacts")


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise InvalidInput(f"Cannot read settings file {path}: {err}. Fix or remove it.") from err
    section = data.get("loopml", data)
    if not isinstance(section, dict):
        raise InvalidInput(f"Settings file {path}: [loopml] must be a table.")
    return dict(section)


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    config_file: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Build :class:`Settings` from ``loopml.toml``, then ``LOOPML_*`` variables, then overrides.

    Args:
        environ: Environment mapping (default ``os.environ``); tests pass their own.
        config_file: A TOML file; default ``$LOOPML_CONFIG`` or ``./loopml.toml`` if present.
        **overrides: Explicit values that win over everything else.

    Returns:
        The settings.

    Raises:
        InvalidInput: naming the key and the bad value.

    Example:
        >>> load_settings({"LOOPML_HOME": "/tmp/h"}).home
        PosixPath('/tmp/h')
    """
    import os

    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    source: dict[str, str] = {}
    path = config_file or (Path(env["LOOPML_CONFIG"]) if env.get("LOOPML_CONFIG") else None)
    if path is None and Path(CONFIG_FILE_NAME).is_file():
        path = Path(CONFIG_FILE_NAME)
    if path is not None:
        for key, value in _from_toml(path).items():
            values[key] = value
            source[key] = f"{path} key '{key}'"
    fields = set(Settings.model_fields)
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and name != "LOOPML_CONFIG":
            key = name[len(ENV_PREFIX) :].lower()
            if key in fields:
                values[key] = value
                source[key] = f"environment variable {name}"
    for key, value in overrides.items():
        if value is not None:
            values[key] = value
            source[key] = f"setting '{key}'"
    try:
        return Settings(**values)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            key = str(e["loc"][0]) if e["loc"] else "?"
            where = source.get(key, f"'{key}'")
            problems.append(f"{where} = {values.get(key)!r}: {e['msg']}")
        raise InvalidInput("Bad setting: " + "; ".join(problems)) from err
