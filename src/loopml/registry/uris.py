"""``models:/`` URIs: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` and ``models:/NAME/latest``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from loopml.errors import InvalidInput

__all__ = ["ACCEPTED_FORMS", "SCHEME", "ModelUri", "is_model_uri", "parse_model_uri"]

SCHEME = "models:/"
ACCEPTED_FORMS = ("models:/NAME@ALIAS", "models:/NAME/VERSION", "models:/NAME/latest")
_NAME = r"[^/@\s\x00-\x1f\x7f](?:[^/@\x00-\x1f\x7f]{0,248}[^/@\s\x00-\x1f\x7f])?"
_ALIAS = r"[A-Za-z_][A-Za-z0-9_.-]{0,63}"
_FORM = re.compile(rf"models:/(?P<name>{_NAME})(?:@(?P<alias>{_ALIAS})|/(?P<ref>[1-9][0-9]{{0,9}}|latest))")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelUri:
    """A parsed model URI: exactly one of ``alias``, ``version`` or ``is_latest`` is set.

    Example:
        >>> parse_model_uri("models:/churn@champion").alias
        'champion'
        >>> str(ModelUri(name="churn", version=3))
        'models:/churn/3'
    """

    name: str
    alias: str | None = None
    version: int | None = None
    is_latest: bool = False

    def __post_init__(self) -> None:
        chosen = sum((self.alias is not None, self.version is not None, self.is_latest))
        if chosen != 1:
            raise InvalidInput(
                f"A model URI names exactly one of an alias, a version or latest; got alias={self.alias!r}, "
                f"version={self.version!r}, is_latest={self.is_latest!r}."
            )

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{SCHEME}{self.name}@{self.alias}"
        return f"{SCHEME}{self.name}/{'latest' if self.is_latest else self.version}"


def is_model_uri(text: str) -> bool:
    """Whether ``text`` uses the ``models:/`` scheme (well-formed or not)."""
    return isinstance(text, str) and text.startswith(SCHEME)


def parse_model_uri(text: str) -> ModelUri:
    """Parse a ``models:/`` URI.

    Args:
        text: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` (an integer >= 1) or ``models:/NAME/latest``.

    Returns:
        The parsed URI.

    Raises:
        InvalidInput: the text has another form; the message lists the accepted forms.

    Example:
        >>> parse_model_uri("models:/churn/3").version
        3
        >>> parse_model_uri("models:/churn/latest").is_latest
        True
    """
    match = _FORM.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            f"{text!r:.120} is not a model URI. Accepted forms: {', '.join(ACCEPTED_FORMS)} "
            "(NAME without '/' or '@'; VERSION an integer >= 1; ALIAS a letter then letters, digits, _ . -)."
        )
    name, alias, ref = match.group("name"), match.group("alias"), match.group("ref")
    if alias is not None:
        if alias.lower() == "latest":
            return ModelUri(name=name, is_latest=True)
        return ModelUri(name=name, alias=alias)
    if ref == "latest":
        return ModelUri(name=name, is_latest=True)
    return ModelUri(name=name, version=int(ref))
