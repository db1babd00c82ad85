"""Collects the findings and globals of one member while its stream is walked."""

from __future__ import annotations

from loopml.security.scan.policy import Judgement, judge_global
from loopml.security.scan.report import Finding, FindingKind


class FindingSink:
    """Findings of one member, each global judged and reported once (at its first offset).

    Args:
        trusted: Extra allowed ``module.name`` globals.
    """

    def __init__(self, *, trusted: frozenset[str]) -> None:
        self.trusted = trusted
        self.findings: list[Finding] = []
        self.globals: dict[str, None] = {}
        self._seen: set[tuple[FindingKind, str]] = set()

    def add(
        self,
        kind: FindingKind,
        message: str,
        *,
        offset: int | None = None,
        opcode: str | None = None,
        global_name: str | None = None,
    ) -> None:
        """Record a finding (one per kind and global, or per kind and message)."""
        key = (kind, global_name or message)
        if key in self._seen:
            return
        self._seen.add(key)
        self.findings.append(
            Finding(kind=kind, message=message, global_name=global_name, opcode=opcode, offset=offset)
        )

    def add_global(self, module: str, name: str, *, opcode: str, offset: int) -> Judgement:
        """Judge a global the stream imports; record it and any finding. Returns the judgement."""
        judgement = judge_global(module, name, trusted=self.trusted)
        self.globals.setdefault(judgement.global_name, None)
        if judgement.kind is not None:
            self.add(
                judgement.kind,
                f"{opcode} at offset {offset} imports {judgement.global_name}: {judgement.reason}",
                offset=offset,
                opcode=opcode,
                global_name=judgement.global_name,
            )
        return judgement
