"""``loopml artifacts``: show, download and verify stored artifacts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from loopml.cli import _context
from loopml.cli._output import console, format_ms, print_json, print_table
from loopml.security.uploads import SCAN_PROPERTY, recorded_verdict

app = typer.Typer(help="Artifacts: show, download, verify.", no_args_is_help=True)


@app.command("show")
def show(
    artifact_id: Annotated[str, typer.Argument(help="Artifact id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show an artifact's record."""
    art = _context.client().get_artifact(artifact_id)
    if as_json:
        print_json(art)
        return
    rows = [
        ("id", art.artifact_id),
        ("type", art.type),
        ("name", art.name),
        ("version", art.version),
        ("uri", art.uri),
        ("sha256", art.sha256),
        ("size", art.size),
        ("reference", art.is_reference),
        ("run", art.run_id),
        ("created", format_ms(art.created_at)),
        ("scan", _scan_summary(art.properties)),
        *((f"property {k}", v) for k, v in art.properties.items() if k != SCAN_PROPERTY),
    ]
    print_table(f"Artifact {art.name}", ["field", "value"], rows)


def _scan_summary(properties: Mapping[str, Any]) -> str:
    """The upload scan in one line: verdict, formats seen and the first findings."""
    scan = properties.get(SCAN_PROPERTY)
    verdict = recorded_verdict(properties)
    if not isinstance(scan, Mapping) or verdict is None:
        return "not scanned"
    formats = ", ".join(str(f) for f in scan.get("formats") or [])
    findings = "; ".join(str(f) for f in scan.get("findings") or [])
    return verdict + (f" ({formats})" if formats else "") + (f": {findings}" if findings else "")


@app.command("get")
def get(
    artifact_id: Annotated[str, typer.Argument(help="Artifact id.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Destination file or existing directory.")],
    allow_unsafe: Annotated[
        bool,
        typer.Option("--allow-unsafe", help="Download an artifact the scanner recorded unsafe on upload."),
    ] = False,
) -> None:
    """Download an artifact (its hash is verified before the file appears; a folder as a folder)."""
    path = _context.client().download_artifact(artifact_id, out, allow_unsafe=allow_unsafe)
    console.print(f"Wrote {path}")


@app.command("verify")
def verify(
    artifact_id: Annotated[str, typer.Argument(help="Artifact id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Re-hash an artifact's bytes (a folder: its manifest, then every file); exit 1 on a mismatch."""
    art = _context.client().verify_artifact(artifact_id)
    if as_json:
        print_json({"artifact_id": art.artifact_id, "sha256": art.sha256, "size": art.size, "ok": True})
        return
    console.print(f"[green]OK[/] {art.name} sha256 {art.sha256} ({art.size} bytes)")
