"""Artifact uploads screened by the model-file scanner: the verdict on the record, and the download gate.

Every file logged as an artifact is scanned on the way in (pickle, joblib, PyTorch zip and NumPy
object arrays are walked opcode by opcode; anything else is sniffed and passes as data). The
verdict is stored in the artifact's properties under :data:`SCAN_PROPERTY`. An upload judged
``unsafe`` is refused under ``UnsafeArtifacts.REFUSE`` (the default); under ``RECORD`` it is
stored with its verdict, and reading it back then needs an explicit opt-in
(:func:`check_download`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loopml.artifacts import BlobStore
from loopml.config import UnsafeArtifacts
from loopml.errors import UnsafeArtifact
from loopml.security.scan import ScanReport, Verdict, scan_bytes, scan_path

__all__ = [
    "OPT_IN_HINT",
    "SCAN_PROPERTY",
    "check_download",
    "recorded_verdict",
    "screen_blob",
    "screen_bytes",
    "screen_file",
]

SCAN_PROPERTY = "loopml.scan"
"""Artifact property holding the upload's scan: ``{"verdict", "formats", "findings"}``."""

OPT_IN_HINT = (
    "pass --allow-unsafe (`loopml artifacts get`), allow_unsafe=True (SDK) or "
    "?allow_unsafe=true (API) to download it anyway, and load it only in an isolated environment"
)
_SHOWN_FINDINGS = 5


def _findings(report: ScanReport) -> list[str]:
    shown = []
    for member in report.members:
        for f in member.findings:
            where = f" (global {f.global_name})" if f.global_name else ""
            shown.append(f"{f.kind.value}: {f.message}{where}")
    return shown[:_SHOWN_FINDINGS]


def _judge(report: ScanReport, *, name: str, policy: UnsafeArtifacts) -> dict[str, Any]:
    findings = _findings(report)
    if report.verdict is Verdict.UNSAFE and UnsafeArtifacts(policy) is UnsafeArtifacts.REFUSE:
        raise UnsafeArtifact(
            f"Artifact {name!r} was refused: the model-file scanner judged it unsafe (loading it would "
            f"run code): {'; '.join(findings)}. Nothing was stored. `loopml scan FILE` shows the full "
            "report; save models in a safe format (skops, safetensors, ONNX), or set "
            "LOOPML_UNSAFE_ARTIFACTS=record to store it marked unsafe."
        )
    formats = sorted({m.format for m in report.members})
    return {"verdict": report.verdict.value, "formats": formats, "findings": findings}


def screen_file(path: str | os.PathLike[str], *, name: str, policy: UnsafeArtifacts) -> dict[str, Any]:
    """Scan a file about to be stored as artifact ``name``; the value to record under :data:`SCAN_PROPERTY`.

    Raises:
        UnsafeArtifact: the scanner judged it unsafe and ``policy`` is ``refuse``.

    Example:
        >>> import pickle, tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "weights.pkl"
        >>> _ = p.write_bytes(pickle.dumps([1.0, 2.0]))
        >>> screen_file(p, name="weights.pkl", policy=UnsafeArtifacts.REFUSE)["verdict"]
        'safe'
    """
    return _judge(scan_path(path), name=name, policy=policy)


def screen_bytes(data: bytes, *, name: str, policy: UnsafeArtifacts) -> dict[str, Any]:
    """As :func:`screen_file`, for content in memory.

    Example:
        >>> screen_bytes(b"cos\\nsystem\\n(S'id'\\ntR.", name="x", policy=UnsafeArtifacts.RECORD)["verdict"]
        'unsafe'
    """
    return _judge(scan_bytes(data, label=name), name=name, policy=policy)


def screen_blob(blobs: BlobStore, sha256: str, *, name: str, policy: UnsafeArtifacts) -> dict[str, Any]:
    """As :func:`screen_file`, for content already in the blob store (scanned from a verified copy).

    Raises:
        UnsafeArtifact: as :func:`screen_file`.
        NotFound, IntegrityError: the blob is missing or does not match its hash.
    """
    with tempfile.TemporaryDirectory(prefix="loopml-scan-") as folder:
        copy = blobs.get_file(sha256, Path(folder) / "content", label=name)
        return screen_file(copy, name=name, policy=policy)


def recorded_verdict(properties: Mapping[str, Any]) -> str | None:
    """The scan verdict recorded in an artifact's properties, or None when it was not scanned.

    Example:
        >>> recorded_verdict({SCAN_PROPERTY: {"verdict": "unsafe"}}), recorded_verdict({})
        ('unsafe', None)
    """
    scan = properties.get(SCAN_PROPERTY)
    verdict = scan.get("verdict") if isinstance(scan, Mapping) else None
    return verdict if isinstance(verdict, str) else None


def check_download(properties: Mapping[str, Any], *, name: str, artifact_id: str, allow_unsafe: bool) -> None:
    """Refuse to hand out an artifact recorded unsafe unless the caller opted in.

    Raises:
        UnsafeArtifact: recorded ``unsafe`` and ``allow_unsafe`` is false; the message says how to opt in.
    """
    if allow_unsafe or recorded_verdict(properties) != Verdict.UNSAFE.value:
        return
    scan = properties.get(SCAN_PROPERTY)
    findings = scan.get("findings") if isinstance(scan, Mapping) else None
    detail = f" ({'; '.join(str(f) for f in findings)})" if isinstance(findings, list) and findings else ""
    raise UnsafeArtifact(
        f"Artifact {artifact_id} ({name!r}) was recorded unsafe when it was uploaded: loading it would run "
        f"code{detail}. To download it {OPT_IN_HINT}."
    )
