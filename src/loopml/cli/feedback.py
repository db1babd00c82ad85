"""``loopml feedback add``: attach ground-truth labels to logged predictions (by request id or key)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from loopml.cli import _context
from loopml.cli._output import print_json
from loopml.errors import InvalidInput

app = typer.Typer(
    help="Ground-truth labels for logged predictions (joined by request id or a key feature).",
    no_args_is_help=True,
)


@app.command("add")
def add(
    file: Annotated[
        Path | None,
        typer.Argument(help="CSV with request_id (or --key-field values) and label; '-' reads stdin."),
    ] = None,
    deployment: Annotated[
        str | None, typer.Option("--deployment", help="The deployment whose model they label.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="The model they label (instead of --deployment).")
    ] = None,
    request_id: Annotated[
        str | None, typer.Option("--id", help="One label: the request id (or key value).")
    ] = None,
    label: Annotated[str | None, typer.Option("--label", help="One label: its value.")] = None,
    row: Annotated[int | None, typer.Option("--row", help="One label: the row within the request.")] = None,
    key_field: Annotated[
        str | None,
        typer.Option("--key-field", help="Keys are values of this input feature, not request ids."),
    ] = None,
    log_dir: Annotated[
        Path | None, typer.Option("--log-dir", help="The prediction log (default: <home>/predictions).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Add labels from FILE, or one with --id and --label. Repeats change nothing; labels for ids not
    logged yet are kept and join when their predictions are monitored."""
    from loopml.monitor.feedback import Feedback, read_feedback_csv
    from loopml.monitor.targets import resolve_target
    from loopml.store.repositories import DeploymentStore

    if (deployment is None) == (model is None):
        raise InvalidInput("Name exactly one of --deployment NAME or --model NAME.")
    if (file is None) == (request_id is None):
        raise InvalidInput("Give either a CSV FILE or --id ID --label VALUE (not both).")
    _context.require_local("feedback add")
    services = _context.services()
    store = services.store
    target = resolve_target(
        deployment or model or "",
        store.deployments if isinstance(store, DeploymentStore) else None,
        is_model=model is not None,
    )
    if request_id is not None:
        if label is None:
            raise InvalidInput("--id needs --label VALUE.")
        items = [Feedback(key=request_id, label=label, row=row)]
    else:
        assert file is not None
        text = sys.stdin.read() if str(file) == "-" else _read(file)
        items = read_feedback_csv(text, key_column=key_field or "request_id")
    result = services.feedback(log_dir).add(target.log, items, key_field=key_field)
    if as_json:
        print_json(
            {
                "deployment": target.log,
                "model": target.model,
                **{k: getattr(result, k) for k in ("received", "inserted", "replaced", "unchanged")},
            }
        )
        return
    typer.echo(
        f"{result.received} label(s) for {target.log!r}: {result.inserted} new, "
        f"{result.replaced} replaced, {result.unchanged} unchanged."
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(f"Cannot read feedback file {path}: {err}.") from err
