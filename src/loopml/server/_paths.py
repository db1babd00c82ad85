"""Artifact paths and URIs a client may send: normalised, confined, never fetched.

A run's artifact path is relative and stays inside the run (``..``, absolute paths, drive
letters, backslashes, NUL and other control characters, and still-encoded dots or slashes are
refused). A recorded artifact URI is either a relative blob path inside the artifact root or, for
an artifact registered by reference, a URL under the artifact root or a configured reference root.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from loopml.errors import InvalidInput

__all__ = ["check_artifact_uri", "local_data_under_root", "normalise_artifact_path"]

MAX_PATH_LENGTH = 1_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ENCODED = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


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


def _local_root(url: str) -> Path | None:
    if url.startswith("file://"):
        return Path(unquote(urlsplit(url).path))
    if "://" not in url:
        return Path(url)
    return None


def _under(uri: str, root: str) -> bool:
    """Whether ``uri`` lies inside ``root`` (local paths resolved, URLs compared by prefix)."""
    local_root, local_uri = _local_root(root), _local_root(uri)
    if local_root is not None and local_uri is not None:
        try:
            local_uri.resolve().relative_to(local_root.resolve())
        except ValueError:
            return False
        return True
    if local_root is not None or local_uri is not None:
        return False
    prefix = root if root.endswith("/") else root + "/"
    return uri.startswith(prefix) or uri == root


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
        return uri
    if ".." in uri.split("/") or _ENCODED.search(uri):
        raise InvalidInput(f"Reference URI {uri[:80]!r} contains '..' or encoded dots; give a direct URL.")
    roots = (artifact_root, *reference_roots)
    if not any(_under(uri, root) for root in roots):
        raise InvalidInput(
            f"Reference URI {uri[:80]!r} is outside the artifact root and the configured reference "
            f"roots {list(roots)}; the server records only data inside them and never fetches other URLs."
        )
    return uri


def local_data_under_root(uri: str, *, artifact_root: str) -> Path:
    """The local file or folder ``uri`` names, confined to a local artifact root.

    The path is resolved (symbolic links followed) before it is compared with the root, and a
    folder must contain no symbolic links at all, so nothing read later lies outside the root.

    Args:
        uri: A ``file://`` URL, an absolute local path, or a path relative to the artifact root.
        artifact_root: The server's artifact root.

    Returns:
        The resolved path.

    Raises:
        InvalidInput: naming the URI and the rule it breaks (remote root, outside the root,
            traversal, links, missing).
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
    if not resolved.exists():
        raise InvalidInput(f"Data URI {uri[:80]!r} names nothing under the artifact root; check the path.")
    if resolved.is_dir():
        for folder, dirs, files in os.walk(resolved):
            for entry in (*dirs, *files):
                if os.path.islink(os.path.join(folder, entry)):
                    raise InvalidInput(
                        f"Data folder {uri[:80]!r} contains the symbolic link {entry!r}; links are refused "
                        "because they could point outside the artifact root."
                    )
    return resolved
