"""``loopml experiments``: list, create, delete and restore experiments."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli import _context
from loopml.cli._output import console, format_ms, print_json, print_listing, print_table
from loopml.errors import InvalidInput
from loopml.store.ids import resolve_experiment_id

app = typer.Typer(help="Experiments (groups of runs): list, create, delete, restore.", no_args_is_help=True)

_Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_Ref = Annotated[str, typer.Argument(metavar="EXPERIMENT", help="Experiment name, id or unique id prefix.")]


@app.command("list")
def list_experiments(
    include_deleted: Annotated[bool, typer.Option("--all", help="Include deleted experiments.")] = False,
    as_json: _Json = False,
) -> None:
    """List experiments."""
    experiments = _context.store().experiments.list(include_deleted=include_deleted)
    if as_json:
        print_listing(experiments)
        return
    rows = [(e.experiment_id, e.name, e.lifecycle_stage, format_ms(e.created_at)) for e in experiments]
    print_table("Experiments", ["id", "name", "stage", "created"], rows)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Experiment name (unique).")],
    tag: Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE (repeatable).")] = None,
    as_json: _Json = False,
) -> None:
    """Create an experiment."""
    tags: dict[str, str] = {}
    for item in tag or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--tag {item!r}: write KEY=VALUE, e.g. --tag team=churn.")
        tags[key] = value
    experiment = _context.store(create=True).experiments.create(name, tags=tags or None)
    if as_json:
        print_json(experiment)
        return
    console.print(f"Created experiment {experiment.name!r} ({experiment.experiment_id})", markup=False)


@app.command("delete")
def delete(experiment: _Ref) -> None:
    """Mark an experiment deleted (its runs are hidden; `loopml experiments restore` undoes it)."""
    store = _context.store()
    experiment_id = resolve_experiment_id(store, experiment)
    store.experiments.delete(experiment_id)
    console.print(f"Deleted experiment {experiment_id}", markup=False)


@app.command("restore")
def restore(experiment: _Ref) -> None:
    """Restore a deleted experiment."""
    store = _context.store()
    experiment_id = resolve_experiment_id(store, experiment)
    store.experiments.restore(experiment_id)
    console.print(f"Restored experiment {experiment_id}", markup=False)
