"""Registers every command group on the root app (one line per group)."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    """Add each command group to ``app``."""
    # Imports are local so that `loopml --version` stays fast.
    from loopml.cli import artifacts, demo, experiments, lineage, runs

    app.add_typer(experiments.app, name="experiments")
    app.add_typer(runs.app, name="runs")
    app.add_typer(artifacts.app, name="artifacts")
    app.command("lineage")(lineage.lineage)  # `loopml lineage ID`
    app.command("demo")(demo.demo)
    from loopml.cli import keys, models  # registry: signing keys and model packages

    app.add_typer(keys.app, name="keys")
    app.add_typer(models.app, name="models")
    from loopml.cli import scan  # model-file scanner: `loopml scan PATH...`

    app.command("scan")(scan.scan)
    from loopml.cli import eval as eval_cli  # evaluation: `loopml eval show|report`

    app.add_typer(eval_cli.app, name="eval")
    from loopml.cli import pipeline as pipeline_cli  # pipelines: `loopml pipeline run|runs|show`

    app.add_typer(pipeline_cli.app, name="pipeline")
    from loopml.cli import data  # data validation: `loopml data stats|schema|validate|report`

    app.add_typer(data.app, name="data")
    from loopml.cli import audit, tokens, users  # identity: `loopml users|tokens|audit ...`

    app.add_typer(users.app, name="users")
    app.add_typer(tokens.app, name="tokens")
    app.add_typer(audit.app, name="audit")
    from loopml.cli import server  # platform API: `loopml server [--host] [--port] [--workers]`, `init`

    app.add_typer(server.app, name="server")
