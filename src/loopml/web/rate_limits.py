"""How a request over a rate limit or quota is answered: 429 with ``Retry-After`` in whole seconds.

The limits themselves (token buckets, daily quotas, Redis-shared when replicated) are
:mod:`loopml.security.ratelimit`'s; this is the HTTP side both servers (and the gRPC listener's
``retry-after`` trailer) share.

Example:
    >>> retry_after_seconds(0.2), retry_after_seconds(1.2), retry_after_headers(30)
    (1, 2, {'Retry-After': '30'})
"""

from __future__ import annotations

import math

__all__ = ["RETRY_AFTER", "retry_after_headers", "retry_after_seconds"]

#: The header (and, lower-cased, the gRPC trailer) saying when to try again.
RETRY_AFTER = "Retry-After"


def retry_after_seconds(wait_s: float) -> int:
    """The whole seconds a client must wait: rounded up (an earlier retry is refused again), at least 1."""
    return max(1, math.ceil(wait_s))


def retry_after_headers(wait_s: float) -> dict[str, str]:
    """The headers of a 429 whose limit frees up in ``wait_s`` seconds."""
    return {RETRY_AFTER: str(retry_after_seconds(wait_s))}
