"""Keep server filesystem paths out of what clients read: :func:`scrub` replaces them in messages.

Error messages are written for the person at the server's console, and some name local files
(an upload's temporary folder, the artifact root, a configured reference root). A client gets the
message with every such path replaced by ``<server path>``; the log keeps the original under the
request id the client was given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["PLACEHOLDER", "scrub"]

PLACEHOLDER = "<server path>"

#: ``file:`` URLs, absolute POSIX paths of two or more parts, and Windows drive paths. A POSIX path
#: must not follow a word character, a colon, a slash or a dot (so ``s3://bucket/key`` and
#: ``a/b/c`` stay); the API's own routes (``/api/...``) are names, not files.
_PATHS = re.compile(
    r"file:/[^\s'\"`,;)\]}]*"
    r"|(?<![\w:/.~-])/(?!api/)[^\s/'\"`,;)\]}]+(?:/[^\s/'\"`,;)\]}]*)+"
    r"|\b[A-Za-z]:\\[^\s'\"`,;)\]}]*"
)


def scrub(message: str, *, roots: Iterable[str] = ()) -> str:
    """``message`` with server paths (and the given ``roots``, e.g. the artifact root URL) replaced.

    Args:
        message: The text a client would read.
        roots: Server-side locations to hide even when they are not local paths (``s3://...``).

    Example:
        >>> scrub("Cannot write '/tmp/loopml-upload-x1/package/m.bin': disk full. Use PUT /api/v1/blobs.")
        "Cannot write '<server path>': disk full. Use PUT /api/v1/blobs."
        >>> scrub("Outside the roots ['s3://lake/a/', 'memory://art']", roots=["memory://art"])
        "Outside the roots ['s3://lake/a/', '<server path>']"
    """
    for root in sorted({r.rstrip("/") for r in roots if len(r.rstrip("/")) > 1}, key=len, reverse=True):
        message = message.replace(root, PLACEHOLDER)
    return _PATHS.sub(PLACEHOLDER, message)
