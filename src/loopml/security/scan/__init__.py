"""Model-file scanner: judges pickle-family content (pickle, joblib, PyTorch, NumPy) without running it."""

from loopml.security.scan.limits import ScanLimits
from loopml.security.scan.policy import ALLOWED_GLOBALS, DENIED_PREFIXES, CallRule, Judgement, judge_global
from loopml.security.scan.report import Finding, FindingKind, MemberReport, ScanReport, Verdict, worst_verdict
from loopml.security.scan.scanner import scan_bytes, scan_path

__all__ = [
    "ALLOWED_GLOBALS",
    "DENIED_PREFIXES",
    "CallRule",
    "Finding",
    "FindingKind",
    "Judgement",
    "MemberReport",
    "ScanLimits",
    "ScanReport",
    "Verdict",
    "judge_global",
    "scan_bytes",
    "scan_path",
    "worst_verdict",
]
