"""``loopml scan PATH...``: judge model files without deserialising them.

Exit codes: 0 when every path is ``safe``; 1 when any is ``unsafe``, or ``unknown`` (an unknown
global, a parse error, a truncated stream or a resource limit) unless ``--allow-unknown``;
2 on bad usage (a missing path, a malformed ``--trust-global``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from loopml.cli._output import console, print_json, print_table
from loopml.errors import UnsafeArtifact
from loopml.security import ScanReport, Verdict, scan_path, worst_verdict

_STYLE = {Verdict.SAFE: "green", Verdict.UNKNOWN: "yellow", Verdict.UNSAFE: "bold red"}


def scan(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to scan.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
    trust_global: Annotated[
        list[str] | None,
        typer.Option("--trust-global", help="Allow this module.name global too (repeatable)."),
    ] = None,
    allow_unknown: Annotated[
        bool, typer.Option("--allow-unknown", help="Exit 0 on 'unknown' verdicts (only 'unsafe' fails).")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every scanned member, not only those with findings.")
    ] = False,
) -> None:
    """Scan pickle-family model files (pickle, joblib, PyTorch, NumPy; any archive) without running them."""
    reports = [scan_path(p, trusted_globals=trust_global or ()) for p in paths]
    verdict = worst_verdict(r.verdict for r in reports)
    if as_json:
        print_json({"verdict": verdict, "reports": reports})
    else:
        for report in reports:
            _print_report(report, verbose=verbose)
    failed = [r for r in reports if _fails(r.verdict, allow_unknown=allow_unknown)]
    if failed:
        names = ", ".join(f"{r.path} ({r.verdict.value})" for r in failed)
        unknown = any(r.verdict is Verdict.UNKNOWN for r in failed)
        hint = "; --trust-global module.name allows an unknown global you vouch for" if unknown else ""
        raise UnsafeArtifact(f"Not safe to load: {names}. The findings above name each global{hint}.")


def _fails(verdict: Verdict, *, allow_unknown: bool) -> bool:
    return verdict is Verdict.UNSAFE or (verdict is Verdict.UNKNOWN and not allow_unknown)


def _print_report(report: ScanReport, *, verbose: bool) -> None:
    """The members with findings (every member with ``verbose``), then one summary line."""
    shown = [m for m in report.members if verbose or m.findings or m.verdict is not Verdict.SAFE]
    rows = []
    for member in shown:
        detail = "; ".join(
            f"{f.kind.value}: {f.global_name or f.message}"
            + (f" @ {f.offset}" if f.offset is not None else "")
            for f in member.findings
        )
        rows.append((member.path, member.format, member.verdict.value, detail))
    if rows:
        print_table(f"scan {report.path}", ["member", "format", "verdict", "findings"], rows)
    console.print(_summary(report, hidden=len(report.members) - len(shown)), soft_wrap=True)


def _summary(report: ScanReport, *, hidden: int) -> str:
    """``model.pt: unsafe (5 members, 1.2 MiB scanned; 1 with findings)``."""
    count = len(report.members)
    flagged = sum(1 for m in report.members if m.findings)
    facts = f"{count} member{'' if count == 1 else 's'}, {_size(report.bytes_scanned)} scanned; "
    facts += f"{flagged} with findings" if flagged else "no findings"
    if hidden and flagged:
        facts += "; --verbose lists every member"
    verdict = report.verdict.value
    return f"{escape(report.path)}: [{_STYLE[report.verdict]}]{verdict}[/] ({facts})"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
