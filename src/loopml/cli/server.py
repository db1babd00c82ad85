"""``loopml server``: serve the REST API (``loopml server init`` creates the first admin).

Binds 127.0.0.1 by default and refuses any other address unless authentication is on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from loopml.cli import _context
from loopml.cli.server_init import init
from loopml.errors import InvalidInput

__all__ = ["app"]

app = typer.Typer(help="Serve the platform REST API.", invoke_without_command=True, no_args_is_help=False)
app.command("init")(init)


@app.callback()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 5000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes.")] = 1,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve without authentication (loopback addresses only).")
    ] = False,
    monitor_every: Annotated[
        str | None,
        typer.Option(
            "--monitor-every", help="Run `loopml monitor run` in the background this often (e.g. 5m)."
        ),
    ] = None,
    monitor_slice: Annotated[
        list[str] | None,
        typer.Option(
            "--monitor-slice",
            help="With --monitor-every: an input feature to slice figures and drift by (repeatable).",
        ),
    ] = None,
    retrain_policies: Annotated[
        Path | None,
        typer.Option(
            "--retrain-policies",
            help="With --monitor-every: a folder of retrain policies (<deployment>.yaml, with an action); "
            "each pass then retrains by policy as `loopml monitor retrain` does.",
        ),
    ] = None,
) -> None:
    """Serve the REST API at http://HOST:PORT/api/v1 (OpenAPI: /api/v1/openapi.json)."""
    if ctx.invoked_subcommand is not None:
        return
    from loopml.server import check_bind
    from loopml.server.app import load_security_layer

    auth_enabled = not no_auth
    if retrain_policies is not None:
        _check_retraining(retrain_policies, monitor_every=monitor_every, workers=workers)
    check_bind(host, auth_enabled=auth_enabled)
    load_security_layer()  # refuse to start, in one line, when the security layer cannot load
    settings = _context.settings()
    if workers > 1 and settings.resolved_store_url().startswith("sqlite:///:memory:"):
        raise InvalidInput(
            "An in-memory store cannot be shared by several workers; use a file or PostgreSQL."
        )
    import uvicorn

    # Workers are separate processes: they rebuild the settings from the same environment.
    os.environ["LOOPML_HOME"] = str(settings.home)
    os.environ["LOOPML_SERVER_NO_AUTH"] = "1" if no_auth else "0"
    if monitor_every is not None:
        from loopml.monitor.windows import parse_span

        os.environ["LOOPML_SERVER_MONITOR_EVERY_S"] = str(parse_span(monitor_every).total_seconds())
    if monitor_slice:
        os.environ["LOOPML_SERVER_MONITOR_SLICES"] = ",".join(monitor_slice)
    if retrain_policies is not None:
        os.environ["LOOPML_SERVER_RETRAIN_POLICIES"] = str(retrain_policies.resolve())
    typer.echo(
        f"loopml server on http://{host}:{port}/api/v1 (store {settings.resolved_store_url()})", err=True
    )
    typer.echo(f"web UI on http://{host}:{port}/ui", err=True)
    uvicorn.run(
        "loopml.server.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


def _check_retraining(folder: Path, *, monitor_every: str | None, workers: int) -> None:
    """Refuse, before the server starts, retraining it could not do or would do twice; read the policies."""
    from loopml.monitor.retrain import runnable_policies

    if monitor_every is None:
        raise InvalidInput(
            "--retrain-policies needs --monitor-every: retraining follows the monitoring passes."
        )
    if workers > 1:
        raise InvalidInput(
            "--retrain-policies runs with one worker only (each worker would retrain the same deployments); "
            "drop --workers, or run `loopml monitor retrain` from cron beside the server."
        )
    runnable_policies(folder)
