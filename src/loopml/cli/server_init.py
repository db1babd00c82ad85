"""``loopml server init``: create the bootstrap admin of a server and print its token once.

The ``server`` command group (``cli/server.py``) registers :func:`init` as its ``init`` command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._identity import admin
from loopml.cli._output import print_json
from loopml.security.auth import bootstrap_admin

__all__ = ["init"]


def init(
    name: Annotated[str, typer.Option("--name", help="The admin's user name.")] = "admin",
    force: Annotated[
        bool,
        typer.Option("--force", help="Proceed even if an admin exists (adds one or issues a new token)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (includes the token once).")] = False,
) -> None:
    """Create the server's first admin user and print its token (shown once, stored hashed)."""
    with admin("server init", create=True) as adm:
        made = bootstrap_admin(adm.auth, name=name, force=force)
        adm.record("server.init", f"user:{made.user.name}", {"token_id": made.token.token_id})
    if as_json:
        print_json(
            {
                "user": made.user.name,
                "role": made.user.role,
                "token_id": made.token.token_id,
                "token": made.secret,
            }
        )
        return
    typer.echo(made.secret)
    typer.echo(
        f"Admin {made.user.name!r} is ready; the token above is shown once. "
        "Use it as LOOPML_TRACKING_TOKEN or 'Authorization: Bearer <token>'.",
        err=True,
    )
