"""Registers every command group on the root app (one line per group)."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    """Add each command group to ``app``."""
    # Imports are local so that `loopml --version` stays fast.
    from loopml.cli import artifacts, experiments, lineage, runs

    app.add_typer(experiments.app, name="experiments")
    app.add_typer(runs.app, name="runs")
    app.add_typer(artifacts.app, name="artifacts")
    app.add_typer(lineage.app, name="lineage")  # `loopml lineage ID`
