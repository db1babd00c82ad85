"""``loopml artifacts``: list, show, download and verify stored artifacts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from loopml.cli import _context
from loopml.cli._output import console, format_ms, print_json, print_listing, print_note, print_table
from loopml.security.uploads import SCAN_PROPERTY, recorded_verdict
from loopml.store.ids import resolve_artifact_id, resolve_run_id

app = typer.Typer(help="Artifacts: list, show, download, verify.", no_args_is_help=True)

_Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_Ref = Annotated[str, typer.Argument(metavar="ARTIFACT", help="Artifact id or a unique prefix of it.")]


def resolve(ref: str) -> str:
    """The full id of the artifact ``ref`` names (full id or unique prefix)."""
    return resolve_artifact_id(_context.store(), ref)


@app.command("list")
def list_artifacts(
    run: Annotated[
        str | None, typer.Argument(metavar="RUN", help="Only this run's artifacts (id or prefix).")
    ] = None,
    type: Annotated[str | None, typer.Option("--type", help="Only this type, e.g. Dataset, Model.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Only artifacts with this name.")] = None,
    max_results: Annotated[int, typer.Option("--max-results", help="Artifacts per page.")] = 100,
    page_token: Annotated[str | None, typer.Option("--page-token", help="Token of the next page.")] = None,
    as_json: _Json = False,
) -> None:
    """List artifacts, oldest first: a run's outputs, or every artifact."""
    store = _context.store()
    run_id = resolve_run_id(store, run) if run else None
    page = store.artifacts.list(
        run_id=run_id, type=type, name=name, max_results=max_results, page_token=page_token
    )
    if as_json:
        print_listing(page.items, page.next_page_token)
        return
    rows = [
        (a.artifact_id, a.type, a.name, a.version, a.size, (a.sha256 or "")[:16], format_ms(a.created_at))
        for a in page.items
    ]
    title = f"Artifacts of run {run_id}" if run_id else "Artifacts"
    print_table(title, ["id", "type", "name", "version", "size", "sha256", "created"], rows)
    if page.next_page_token:
        print_note(f"More: --page-token {page.next_page_token}")


@app.command("show")
def show(artifact_ref: _Ref, as_json: _Json = False) -> None:
    """Show an artifact's record."""
    art = _context.client().get_artifact(resolve(artifact_ref))
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
    artifact_ref: _Ref,
    out: Annotated[Path, typer.Option("--out", "-o", help="Destination file or existing directory.")],
    allow_unsafe: Annotated[
        bool,
        typer.Option("--allow-unsafe", help="Download an artifact the scanner recorded unsafe on upload."),
    ] = False,
) -> None:
    """Download an artifact (its hash is verified before the file appears; a folder as a folder)."""
    path = _context.client().download_artifact(resolve(artifact_ref), out, allow_unsafe=allow_unsafe)
    console.print(f"Wrote {path}", markup=False)


@app.command("verify")
def verify(artifact_ref: _Ref, as_json: _Json = False) -> None:
    """Re-hash an artifact's bytes (a folder: its manifest, then every file); exit 1 on a mismatch."""
    art = _context.client().verify_artifact(resolve(artifact_ref))
    if as_json:
        print_json({"artifact_id": art.artifact_id, "sha256": art.sha256, "size": art.size, "ok": True})
        return
    console.print(f"[green]OK[/] {art.name} sha256 {art.sha256} ({art.size} bytes)")
