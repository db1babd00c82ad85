"""Artifact paths and URIs a client may send: normalised, confined, never fetched.

A run's artifact path is relative and stays inside the run (``..``, absolute paths, drive
letters, backslashes, NUL and other control characters, and still-encoded dots or slashes are
refused). A recorded artifact URI is either a relative blob path inside the artifact root or, for
an artifact registered by reference, a URL under the artifact root or a configured reference root.
The blob store's own folders (``sha256/`` and ``tmp/`` under the root) are never read as data.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from loopml.artifacts import BLOB_PREFIX, TEMP_DIR
from loopml.errors import InvalidInput, NotFound

__all__ = [
    "check_artifact_uri",
    "check_request_path",
    "claimed_blobs",
    "local_data_under_root",
    "normalise_artifact_path",
]

MAX_PATH_LENGTH = 1_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_C1 = re.compile(r"[\x80-\x9f]")
_ENCODED = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: Folders directly under the artifact root that belong to the blob store (blobs, uploads in flight).
STORE_FOLDERS = frozenset({BLOB_PREFIX, TEMP_DIR})


def _refuse(path: str, problem: str) -> InvalidInput:
    return InvalidInput(
        f"Artifact path {path[:80]!r} is refused: {problem}. Use a relative path such as 'model/model.skops'."
    )


def normalise_artifact_path(path: str) -> str:
    """The normalised form of a relative artifact path, or :class:`InvalidInput` naming the problem.

    Example:
        >>> normalise_artifact_path("plots/./roc.svg")
        'plots/roc.svg'
    """
    if not path:
        raise _refuse(path, "it is empty")
    if len(path) > MAX_PATH_LENGTH:
        raise _refuse(path, f"it is longer than {MAX_PATH_LENGTH} characters")
    if "\x00" in path:
        raise _refuse(path, "it contains a NUL byte")
    if _CONTROL.search(path):
        raise _refuse(path, "it contains a control character")
    if "\\" in path:
        raise _refuse(path, "it contains a backslash; separate folders with '/'")
    if _ENCODED.search(path):
        raise _refuse(path, "it contains percent-encoded dots, slashes or NUL (double encoding)")
    if path.startswith("/") or _DRIVE.match(path):
        raise _refuse(path, "it is absolute")
    if _SCHEME.match(path):
        raise _refuse(path, "it is a URL, not a path")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refuse(path, "it contains '..' (path traversal)")
    if not parts:
        raise _refuse(path, "it names no file")
    return "/".join(parts)


def check_request_path(path: str) -> str:
    """A relative path a request names (a run file, a package file), in the canonical form the API
    states (:data:`~loopml.server.schemas.common.ARTIFACT_PATH_PATTERN`), or :class:`InvalidInput`.

    The rules of :func:`normalise_artifact_path` are checked first, for their messages; the path
    must then already be normalised, with no ``%`` and no ``:`` in its first part.

    Example:
        >>> check_request_path("plots/roc.svg")
        'plots/roc.svg'
    """
    clean = normalise_artifact_path(path)
    if "%" in path:
        raise _refuse(path, "it contains '%'; percent-encoding is not decoded in artifact paths")
    if ":" in path.split("/", 1)[0]:
        raise _refuse(path, "its first part contains ':', which reads as a URL scheme or drive")
    if _C1.search(path):
        raise _refuse(path, "it contains a control character")
    if clean != path:
        raise _refuse(path, f"write it without empty or '.' parts, as {clean!r}")
    return clean


def _local_root(url: str) -> Path | None:
    if url.startswith("file://"):
        return Path(unquote(urlsplit(url).path))
    if "://" not in url:
        return Path(url)
    return None


def _relative_to(uri: str, root: str) -> str | None:
    """``uri`` as a ``/``-separated path relative to ``root`` (``"."`` for the root), None if outside.

    Local paths are resolved (links followed); URLs are compared by prefix.
    """
    local_root, local_uri = _local_root(root), _local_root(uri)
    if local_root is not None and local_uri is not None:
        try:
            return local_uri.resolve().relative_to(local_root.resolve()).as_posix()
        except ValueError:
            return None
    if local_root is not None or local_uri is not None:
        return None
    prefix = root if root.endswith("/") else root + "/"
    if uri == root:
        return "."
    return uri[len(prefix) :] if uri.startswith(prefix) else None


def _under(uri: str, root: str) -> bool:
    """Whether ``uri`` lies inside ``root`` (local paths resolved, URLs compared by prefix)."""
    return _relative_to(uri, root) is not None


def check_artifact_uri(
    uri: str, *, is_reference: bool, artifact_root: str, reference_roots: tuple[str, ...]
) -> str:
    """Check the URI of an artifact a client records.

    Args:
        uri: The URI sent.
        is_reference: Whether the artifact is registered in place (a URL) rather than stored.
        artifact_root: The server's artifact root (path or fsspec URL).
        reference_roots: Further URL prefixes references may point into.

    Returns:
        ``uri`` unchanged.

    Raises:
        InvalidInput: naming the URI and the rule it breaks.
    """
    if not uri or _CONTROL.search(uri) or "\\" in uri:
        raise InvalidInput(f"Artifact URI {uri[:80]!r} is empty or has control characters or backslashes.")
    if not is_reference:
        try:
            normalise_artifact_path(uri)
        except InvalidInput as err:
            raise InvalidInput(
                f"Artifact URI {uri[:80]!r} must be a path relative to the artifact root "
                f"(e.g. 'sha256/ab/cd...'): {err}"
            ) from err
        _refuse_store_folders(uri, tuple(normalise_artifact_path(uri).split("/")), blob_address_ok=True)
        return uri
    if ".." in uri.split("/") or _ENCODED.search(uri):
        raise InvalidInput(f"Reference URI {uri[:80]!r} contains '..' or encoded dots; give a direct URL.")
    roots = (artifact_root, *reference_roots)
    if not any(_under(uri, root) for root in roots):
        raise InvalidInput(
            f"Reference URI {uri[:80]!r} is outside the artifact root and the configured reference "
            f"roots {list(roots)}; the server records only data inside them and never fetches other URLs."
        )
    in_root = _relative_to(uri, artifact_root)
    if in_root is not None:
        parts = tuple(p for p in in_root.split("/") if p not in ("", "."))
        _refuse_store_folders(uri, parts, blob_address_ok=True)
    return uri


def claimed_blobs(uri: str, *, sha256: str | None, is_reference: bool, artifact_root: str) -> frozenset[str]:
    """The stored blobs an artifact record would hold the bytes of: what its author claims to have.

    A stored artifact (not a reference) holds the blob of its ``sha256`` and, when its URI is a
    blob address (``sha256/<2 hex>/<62 hex>``), the blob named there; a reference whose URL is a
    blob address under the artifact root names that blob too. Malformed hashes claim nothing (the
    store refuses them). Call it on a URI :func:`check_artifact_uri` accepted.

    Args:
        uri: The artifact's URI.
        sha256: The artifact's content hash, if sent.
        is_reference: Whether the artifact is registered in place rather than stored.
        artifact_root: The server's artifact root.

    Returns:
        The hashes of the claimed blobs (none for a reference outside the blob store).

    Example:
        >>> sha = "ab" * 32
        >>> claimed_blobs("sha256/ab/" + sha[2:], sha256=sha, is_reference=False, artifact_root="/a") == {sha}
        True
        >>> claimed_blobs("s3://lake/x.csv", sha256=sha, is_reference=True, artifact_root="/a")
        frozenset()
    """
    found: set[str] = set()
    if not is_reference and sha256 is not None and _SHA256.fullmatch(sha256):
        found.add(sha256)
    relative = _relative_to(uri, artifact_root) if is_reference else uri
    parts = [] if relative is None else [p for p in relative.split("/") if p not in ("", ".")]
    if len(parts) == 3 and parts[0] == BLOB_PREFIX and len(parts[1]) == 2:
        named = parts[1] + parts[2]
        if _SHA256.fullmatch(named):
            found.add(named)
    return frozenset(found)


def local_data_under_root(uri: str, *, artifact_root: str) -> Path:
    """The local file or folder ``uri`` names, confined to a local artifact root.

    The path is resolved (symbolic links followed) before it is compared with the root, and a
    folder must contain no symbolic links at all, so nothing read later lies outside the root.
    The blob store's own folders (``sha256/``, ``tmp/``) and the root that holds them are refused:
    registering them would expose stored blobs without the grants that guard them.

    Args:
        uri: A ``file://`` URL, an absolute local path, or a path relative to the artifact root.
        artifact_root: The server's artifact root.

    Returns:
        The resolved path.

    Raises:
        InvalidInput: naming the URI and the rule it breaks (remote root, outside the root,
            inside the blob store's folders, traversal, links).
        NotFound: nothing is there.
    """
    if not uri or _CONTROL.search(uri) or "\\" in uri:
        raise InvalidInput(f"Data URI {uri[:80]!r} is empty or has control characters or backslashes.")
    if ".." in uri.split("/") or _ENCODED.search(uri):
        raise InvalidInput(f"Data URI {uri[:80]!r} contains '..' or encoded dots; give a direct path.")
    root = _local_root(artifact_root)
    if root is None:
        raise InvalidInput(
            f"The artifact root {artifact_root!r} is not local; datasets can be added over the API only "
            "from files under a local artifact root. Add them with `loopml data add` instead."
        )
    if "://" not in uri and not uri.startswith("/"):  # relative: inside the root
        local: Path | None = root / normalise_artifact_path(uri)
    else:
        local = _local_root(uri)
    try:
        return _confined(uri, local, root, artifact_root)
    except OSError as err:  # e.g. a name too long for the filesystem
        raise InvalidInput(f"Data URI {uri[:80]!r} cannot be used: {err.strerror or err}.") from err


def _confined(uri: str, local: Path | None, root: Path, artifact_root: str) -> Path:
    if local is None or not _under(str(local), str(root)):
        raise InvalidInput(
            f"Data URI {uri[:80]!r} is outside the artifact root {artifact_root!r}; the server reads "
            "only data inside it and never fetches other URLs."
        )
    resolved = local.resolve()
    _refuse_store_folders(uri, resolved.relative_to(root.resolve()).parts)
    if not resolved.exists():
        raise NotFound(f"Data URI {uri[:80]!r} names nothing under the artifact root; check the path.")
    if resolved.is_dir():
        for folder, dirs, files in os.walk(resolved):
            for entry in (*dirs, *files):
                if os.path.islink(os.path.join(folder, entry)):
                    raise InvalidInput(
                        f"Data folder {uri[:80]!r} contains the symbolic link {entry!r}; links are refused "
                        "because they could point outside the artifact root."
                    )
    return resolved


def _is_blob_address(parts: tuple[str, ...]) -> bool:
    """Whether ``parts`` are exactly a blob's address, ``sha256/<2 hex>/<62 hex>``."""
    return (
        len(parts) == 3
        and parts[0] == BLOB_PREFIX
        and len(parts[1]) == 2
        and _SHA256.fullmatch(parts[1] + parts[2]) is not None
    )


def _refuse_store_folders(uri: str, parts: tuple[str, ...], *, blob_address_ok: bool = False) -> None:
    """Refuse data in (or holding) the blob store's folders, before revealing whether it exists.

    Args:
        uri: The URI sent, for the message.
        parts: Its path relative to the artifact root, split at ``/``.
        blob_address_ok: Whether one blob's exact address is allowed (an artifact record holding
            a stored blob; the caller's claim on it is checked separately).
    """
    if blob_address_ok and _is_blob_address(parts):
        return
    if not parts:
        raise InvalidInput(
            f"Data URI {uri[:80]!r} names the artifact root itself, which holds the blob store's "
            f"folders {sorted(STORE_FOLDERS)}; add a folder under the root that holds only your data."
        )
    if parts[0] in STORE_FOLDERS and blob_address_ok:
        raise InvalidInput(
            f"Artifact URI {uri[:80]!r} is inside the blob store's folder {parts[0] + '/'!r} under the "
            "artifact root; a record names a stored blob only by its exact address "
            "('sha256/<2 hex>/<62 hex>'). Upload the file (`PUT /api/v1/blobs`) and record its address."
        )
    if parts[0] in STORE_FOLDERS:
        raise InvalidInput(
            f"Data URI {uri[:80]!r} is inside the blob store's folder {parts[0] + '/'!r} under the artifact "
            "root; stored blobs cannot be added as a dataset. Upload the files (`loopml data add`), or "
            "add them from another folder under the artifact root."
        )
