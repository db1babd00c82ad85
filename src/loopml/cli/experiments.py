"""``loopml experiments``: list experiments."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli import _context
from loopml.cli._output import format_ms, print_json, print_table

app = typer.Typer(help="Experiments (groups of runs).", no_args_is_help=True)


@app.command("list")
def list_experiments(
    include_deleted: Annotated[bool, typer.Option("--all", help="Include deleted experiments.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List experiments."""
    experiments = _context.client().list_experiments(include_deleted=include_deleted)
    if as_json:
        print_json(experiments)
        return
    rows = [(e.experiment_id, e.name, e.lifecycle_stage, format_ms(e.created_at)) for e in experiments]
    print_table("Experiments", ["id", "name", "stage", "created"], rows)
