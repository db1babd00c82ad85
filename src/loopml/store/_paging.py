"""Opaque page tokens and result-size limits shared by the listing methods."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from typing import TypeVar

from loopml.errors import InvalidInput

__all__ = ["MAX_RESULTS_LIMIT", "check_max_results", "chunks", "decode_token", "encode_token"]

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


def encode_token(offset: int) -> str:
    """The token of the page starting at ``offset``."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    """The offset in a token from :func:`encode_token` (0 for ``None``)."""
    if token is None or token == "":
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeError) as err:
        raise InvalidInput(
            f"Invalid page_token {token[:40]!r}; pass back the next_page_token of a previous page."
        ) from err
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput(
            f"Invalid page_token {token[:40]!r}; pass back the next_page_token of a previous page."
        )
    return offset


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
