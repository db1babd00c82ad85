"""``loopml import mlflow --from URI``: move experiments, runs and artifacts in from MLflow."""

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
    """Copy experiments, runs (params, metric histories, tags, inputs) and artifacts from MLflow.

    Idempotent and resumable: runs already imported are skipped; a run an interrupted import left
    half-copied is copied again. Credentials come from MLFLOW_TRACKING_TOKEN or
    MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD, as for the MLflow client.
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
    finally:
        source.close()
    typer.echo(
        f"Imported from {source_uri}: {summary.experiments} experiments, {summary.runs} runs copied "
        f"({summary.skipped_runs} already imported), {summary.params} params, {summary.metric_points} "
        f"metric points, {summary.tags} tags, {summary.artifacts} artifacts ({summary.artifact_bytes} bytes)."
    )
