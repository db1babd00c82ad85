"""``loopml tokens``: create (secret printed once), list and revoke API tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._identity import admin, auth_service
from loopml.cli._output import format_ms, iso_ms, print_json, print_listing, print_table
from loopml.security import parse_duration

app = typer.Typer(
    help="API tokens for a loopml server (stored hashed; the secret is shown once).", no_args_is_help=True
)


@app.command("create")
def create(
    user: Annotated[str, typer.Option("--user", help="The user the token acts as.")],
    name: Annotated[str | None, typer.Option("--name", help="A label for the token.")] = None,
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Lifetime such as 30d, 12h, 2w (default: no expiry).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (includes the token once).")] = False,
) -> None:
    """Create a token and print it once; only its hash is stored."""
    lifetime = parse_duration(expires_in) if expires_in else None
    with admin("tokens create") as adm:
        token, secret = adm.auth.create_token(user, name=name, expires_in=lifetime)
        adm.record("tokens.create", f"token:{token.token_id}", {"user": user, "expires_at": token.expires_at})
    if as_json:
        print_json(
            {
                "token": secret,
                "token_id": token.token_id,
                "user": token.user_name,
                "expires_at": iso_ms(token.expires_at),
            }
        )
        return
    typer.echo(secret)
    expiry = f", expires {format_ms(token.expires_at)}" if token.expires_at else ""
    typer.echo(
        f"Token {token.token_id} for {token.user_name!r}{expiry}. Store it now: it is not shown again.",
        err=True,
    )


@app.command("list")
def list_tokens(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List tokens (ids and state; never secrets)."""
    with auth_service("tokens list") as auth:
        tokens = auth.list_tokens(user_name=user)
    if as_json:
        print_listing(tokens)
        return
    rows = [
        (
            t.token_id,
            t.user_name,
            t.name,
            "revoked" if t.revoked_at else "active",
            format_ms(t.created_at),
            format_ms(t.expires_at),
            format_ms(t.last_used_at),
        )
        for t in tokens
    ]
    print_table("Tokens", ["id", "user", "name", "state", "created", "expires", "last used"], rows)


@app.command("revoke")
def revoke(token_id: Annotated[str, typer.Argument(help="Token id (from `loopml tokens list`).")]) -> None:
    """Revoke a token; it is refused from now on."""
    with admin("tokens revoke") as adm:
        token = adm.auth.revoke_token(token_id)
        adm.record("tokens.revoke", f"token:{token.token_id}", {"user": token.user_name})
    typer.echo(f"Revoked token {token.token_id} of {token.user_name!r}.")
