"""Offset page tokens for MLflow listings the store does not page itself."""

from __future__ import annotations

import base64
import binascii

from loopml.errors import InvalidInput

__all__ = ["offset_of", "token_of"]


def token_of(offset: int) -> str:
    """The page token that resumes at ``offset``."""
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def offset_of(token: str | None) -> int:
    """The offset a page token resumes at (0 for none).

    Raises:
        InvalidInput: for a token this server did not issue.
    """
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        prefix, _, number = text.partition(":")
        offset = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise InvalidInput(
            f"Invalid page_token {token!r:.60}; pass the next_page_token of a previous page."
        ) from err
    if prefix != "offset" or offset < 0:
        raise InvalidInput(f"Invalid page_token {token!r:.60}; pass the next_page_token of a previous page.")
    return offset
