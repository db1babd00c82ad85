"""Opaque page tokens and result-size limits shared by the listing methods."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Sequence
from typing import TypeVar

from loopml.errors import InvalidInput

__all__ = [
    "MAX_RESULTS_LIMIT",
    "TOKEN_PATTERN",
    "check_max_results",
    "chunks",
    "decode_token",
    "encode_token",
]

MAX_RESULTS_LIMIT = 50_000
#: Ids per ``IN (...)`` list, well under SQLite's bound-parameter limit.
CHUNK = 500
T = TypeVar("T")


def check_max_results(max_results: object) -> int:
    """Check ``max_results``: an int in 1..50,000."""
    if (
        isinstance(max_results, bool)
        or not isinstance(max_results, int)
        or not 1 <= max_results <= MAX_RESULTS_LIMIT
    ):
        raise InvalidInput(
            f"max_results must be an integer from 1 to {MAX_RESULTS_LIMIT}; got {max_results!r}. "
            "Use page_token to read further pages."
        )
    return max_results


#: A page token: the offset of the page's first item, in decimal (what the server's API states).
TOKEN_PATTERN = r"^[0-9]{1,18}$"
_TOKEN = re.compile(TOKEN_PATTERN)


def encode_token(offset: int) -> str:
    """The token of the page starting at ``offset``.

    Example:
        >>> encode_token(1000)
        '1000'
    """
    return str(offset)


def decode_token(token: str | None) -> int:
    """The offset in a token from :func:`encode_token` (0 for ``None``).

    Tokens of earlier releases (URL-safe base64 of ``{"offset": N}``) are still read.

    Example:
        >>> decode_token("1000"), decode_token("eyJvZmZzZXQiOiAxMDAwfQ==")
        (1000, 1000)
    """
    if token is None or token == "":
        return 0
    if _TOKEN.match(token):
        return int(token)
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeError) as err:
        raise _invalid(token) from err
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < 10**18:
        raise _invalid(token)
    return offset


def _invalid(token: str) -> InvalidInput:
    return InvalidInput(
        f"Invalid page_token {token[:40]!r}; pass back the next_page_token of a previous page."
    )


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
