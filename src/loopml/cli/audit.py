"""``loopml audit list``: who did what, when, from where, with what result."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._identity import audit_log
from loopml.cli._output import format_ms, print_listing, print_table

app = typer.Typer(help="The audit log of a loopml server.", no_args_is_help=True)


@app.command("list")
def list_events(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's events.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="A duration ago (1h, 7d) or an ISO time.")
    ] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="An action, or a prefix like 'models.*'.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many events (newest first).")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List audit events, newest first."""
    with audit_log("audit list") as audit:
        events = audit.list(user=user, since=since, action=action, limit=limit)
    if as_json:
        print_listing(events)
        return
    rows = [
        (format_ms(e.at), e.actor or "-", e.action, e.target, e.client, e.result, e.status_code)
        for e in events
    ]
    print_table("Audit events", ["at", "actor", "action", "target", "client", "result", "status"], rows)
