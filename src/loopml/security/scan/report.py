"""What a scan found: verdicts, findings per member, and the report over a whole path."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from loopml.errors import InvalidInput

__all__ = ["Finding", "FindingKind", "MemberReport", "ScanReport", "Verdict", "worst_verdict"]


class Verdict(enum.StrEnum):
    """How safe it is to deserialise a file; ordered ``safe < unknown < unsafe``."""

    SAFE = "safe"
    UNKNOWN = "unknown"
    UNSAFE = "unsafe"

    @property
    def rank(self) -> int:
        """0 for safe, 1 for unknown, 2 for unsafe."""
        return _RANK[self]


_RANK = {Verdict.SAFE: 0, Verdict.UNKNOWN: 1, Verdict.UNSAFE: 2}


def worst_verdict(verdicts: Iterable[Verdict]) -> Verdict:
    """The worst of an iterable of verdicts (``safe`` when empty).

    Example:
        >>> worst_verdict([Verdict.SAFE, Verdict.UNKNOWN])
        <Verdict.UNKNOWN: 'unknown'>
    """
    worst = Verdict.SAFE
    for v in verdicts:
        if v.rank > worst.rank:
            worst = v
    return worst


class FindingKind(enum.StrEnum):
    """The precise class of a finding; each maps to one verdict (see :attr:`verdict`)."""

    MALICIOUS = "malicious"  # a known code-running global or gadget
    DYNAMIC_GLOBAL = "dynamic_global"  # a global or callable computed at load time
    UNKNOWN_GLOBAL = "unknown_global"  # a global neither allowed nor denied
    PARSE_ERROR = "parse_error"  # malformed stream, unknown opcode, bad header
    TRUNCATED = "truncated"  # the stream ends inside a pickle or payload
    RESOURCE_LIMIT = "resource_limit"  # a ScanLimits bound was hit (bomb, depth, size)

    @property
    def verdict(self) -> Verdict:
        """The verdict a finding of this class implies."""
        if self in (FindingKind.MALICIOUS, FindingKind.DYNAMIC_GLOBAL):
            return Verdict.UNSAFE
        return Verdict.UNKNOWN


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One reason a member is not safe.

    Attributes:
        kind: The class of the finding.
        message: What was found and what to do, in words.
        global_name: ``module.name`` of the global concerned, if any.
        opcode: The pickle opcode name at fault, if any.
        offset: Byte offset of that opcode inside the member's (decompressed) stream.
    """

    kind: FindingKind
    message: str
    global_name: str | None = None
    opcode: str | None = None
    offset: int | None = None

    @property
    def verdict(self) -> Verdict:
        """The verdict this finding implies."""
        return self.kind.verdict


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberReport:
    """The result for one scanned stream: a file, or a member inside a container.

    Attributes:
        path: The file path, with container members joined by ``/`` (``model.pt/archive/data.pkl``).
        format: What the content was sniffed as (``pickle``, ``zip``, ``npy``, ``data`` ...).
        verdict: The worst verdict among the findings (``safe`` when none); derived.
        findings: The findings, in stream order.
        globals: Every global the stream would import, ``module.name``, in first-seen order.
        bytes_scanned: Bytes of this stream that were read.
    """

    path: str
    format: str
    findings: tuple[Finding, ...] = ()
    globals: tuple[str, ...] = ()
    bytes_scanned: int = 0
    verdict: Verdict = field(default=Verdict.SAFE)

    def __post_init__(self) -> None:
        if self.bytes_scanned < 0:
            raise InvalidInput(f"`bytes_scanned` must be >= 0. Got {self.bytes_scanned}.")
        # The verdict is derived from the findings, never passed in.
        object.__setattr__(self, "verdict", worst_verdict(f.verdict for f in self.findings))


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanReport:
    """The result of scanning one path: every member, and the worst verdict overall.

    Attributes:
        path: The scanned path (or label for bytes).
        verdict: The worst verdict of all members; derived.
        members: One report per scanned stream, containers before their members.
    """

    path: str
    members: tuple[MemberReport, ...]
    verdict: Verdict = field(default=Verdict.SAFE)

    def __post_init__(self) -> None:
        # The verdict is derived from the members, never passed in.
        object.__setattr__(self, "verdict", worst_verdict(m.verdict for m in self.members))

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every finding of every member."""
        return tuple(f for m in self.members for f in m.findings)

    @property
    def is_safe(self) -> bool:
        """True only when the verdict is ``safe``."""
        return self.verdict is Verdict.SAFE

    @property
    def bytes_scanned(self) -> int:
        """Bytes read over all members."""
        return sum(m.bytes_scanned for m in self.members)
