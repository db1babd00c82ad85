"""Security: the model-file scanner (pickle-family content judged without running it)."""

from loopml.security._durations import parse_duration
from loopml.security.scan import (
    Finding,
    FindingKind,
    MemberReport,
    ScanLimits,
    ScanReport,
    Verdict,
    scan_bytes,
    scan_path,
    worst_verdict,
)

__all__ = [
    "Finding",
    "FindingKind",
    "MemberReport",
    "ScanLimits",
    "ScanReport",
    "Verdict",
    "parse_duration",
    "scan_bytes",
    "scan_path",
    "worst_verdict",
]
