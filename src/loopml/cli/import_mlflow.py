"""``loopml import mlflow --from URI``: move runs, artifacts and registered models in from MLflow."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from loopml.cli import _context
from loopml.config import UnsafeArtifacts
from loopml.security.uploads import SCAN_PROPERTY, screen_file
from loopml.tracking.mlflow_import import MlflowSource, import_mlflow

app = typer.Typer(help="Import history from MLflow: `loopml import mlflow --from URL`.", no_args_is_help=True)


def _scanned(path: Path, name: str) -> dict[str, Any]:
    """The scanner's verdict on an imported file, recorded on it (MLflow models are pickles: kept, marked)."""
    return {SCAN_PROPERTY: screen_file(path, name=name, policy=UnsafeArtifacts.RECORD)}


@app.command("mlflow")
def mlflow(
    source_uri: Annotated[
        str, typer.Option("--from", help="The MLflow tracking server URL (http://host:5000).")
    ],
) -> None:
    """Copy experiments, runs (params, metric histories, tags, inputs), artifacts and registered models.

    Idempotent and resumable: runs and model versions already imported are skipped; a run an
    interrupted import left half-copied is copied again. Model versions are scanned and registered
    unsigned; aliases go through the promotion policy (refused ones are listed). Credentials come
    from MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.
    """
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    source = MlflowSource(
        source_uri,
        token=os.environ.get("MLFLOW_TRACKING_TOKEN"),
        auth=(user, password) if user and password else None,
    )
    client = _context.client(create=True)
    console = Console(stderr=True)
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as bar:
            task = bar.add_task("importing", total=None)
            seen = 0

            def on_run(experiment: str, run_id: str, copied: bool) -> None:
                nonlocal seen
                seen += 1
                verb = "copied" if copied else "skipped"
                bar.update(task, description=f"{seen} runs · {experiment} · {run_id} {verb}")

            summary = import_mlflow(source, client.store, client.blobs, on_run=on_run, screen=_scanned)
            models = None
            if not _context.is_remote():  # the registry lives in the local SQL store

                def on_version(name: str, version: str, copied: bool) -> None:
                    verb = "copied" if copied else "skipped"
                    bar.update(task, description=f"model {name} · version {version} {verb}")

                from loopml.registry.mlflow_import import import_registered_models

                registry = _context.services().registry
                models = import_registered_models(source, registry, on_version=on_version)
    finally:
        source.close()
    typer.echo(
        f"Imported from {source_uri}: {summary.experiments} experiments, {summary.runs} runs copied "
        f"({summary.skipped_runs} already imported), {summary.params} params, {summary.metric_points} "
        f"metric points, {summary.tags} tags, {summary.artifacts} artifacts ({summary.artifact_bytes} bytes)."
    )
    if models is None:
        typer.echo(
            "Registered models were not imported: the registry lives in a local store; "
            "run this on the server host."
        )
        return
    typer.echo(
        f"Registered models: {models.models} models, {models.versions} versions copied "
        f"({models.skipped_versions} already imported), {models.aliases} aliases moved."
    )
    for warning in models.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
