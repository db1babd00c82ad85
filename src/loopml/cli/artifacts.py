"""``loopml artifacts``: show, download and verify stored artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loopml.cli import _context
from loopml.cli._output import console, format_ms, print_json, print_table

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
        *((f"property {k}", v) for k, v in art.properties.items()),
    ]
    print_table(f"Artifact {art.name}", ["field", "value"], rows)


@app.command("get")
def get(
    artifact_id: Annotated[str, typer.Argument(help="Artifact id.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Destination file or existing directory.")],
) -> None:
    """Download an artifact (its hash is verified before the file appears)."""
    path = _context.client().download_artifact(artifact_id, out)
    console.print(f"Wrote {path}")


@app.command("verify")
def verify(
    artifact_id: Annotated[str, typer.Argument(help="Artifact id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Re-hash an artifact's bytes; exit 1 when they do not match the record."""
    art = _context.client().verify_artifact(artifact_id)
    if as_json:
        print_json({"artifact_id": art.artifact_id, "sha256": art.sha256, "size": art.size, "ok": True})
        return
    console.print(f"[green]OK[/] {art.name} sha256 {art.sha256} ({art.size} bytes)")
