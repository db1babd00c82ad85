"""``loopml users``: create, list, disable and enable users; give and take per-resource grants."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._identity import admin, auth_service
from loopml.cli._output import format_ms, print_json, print_listing, print_table
from loopml.errors import InvalidInput
from loopml.security.auth import Resource, ResourceKind, Role, parse_grant_level, parse_role

app = typer.Typer(
    help="Users of a loopml server (roles: admin, maintainer, editor, viewer) and their grants.",
    no_args_is_help=True,
)

_ROLES = ", ".join(r.value for r in Role)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option("--role", help=f"One of: {_ROLES}.")] = Role.VIEWER.value,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a user (then make a token: `loopml tokens create --user NAME`)."""
    with admin("users create", create=True) as adm:
        user = adm.auth.create_user(name, role=parse_role(role))
        adm.record("users.create", f"user:{name}", {"role": user.role})
    if as_json:
        print_json(user)
        return
    typer.echo(f"Created user {user.name!r} with role {user.role}.")


@app.command("list")
def list_users(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List users."""
    with auth_service("users list") as auth:
        users = auth.list_users()
    if as_json:
        print_listing(users)
        return
    rows = [
        (u.name, u.role, "disabled" if u.is_disabled else "active", format_ms(u.created_at)) for u in users
    ]
    print_table("Users", ["name", "role", "state", "created"], rows)


@app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Disable a user: their tokens stop working at once."""
    with admin("users disable") as adm:
        adm.auth.disable_user(name)
        adm.record("users.disable", f"user:{name}")
    typer.echo(f"Disabled user {name!r}; their tokens are refused from now on.")


@app.command("enable")
def enable(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Enable a disabled user again."""
    with admin("users enable") as adm:
        adm.auth.enable_user(name)
        adm.record("users.enable", f"user:{name}")
    typer.echo(f"Enabled user {name!r}.")


def _resource(experiment: str | None, dataset: str | None, model: str | None) -> Resource:
    given = [
        (k, v)
        for k, v in (
            (ResourceKind.EXPERIMENT, experiment),
            (ResourceKind.DATASET, dataset),
            (ResourceKind.MODEL, model),
        )
        if v
    ]
    if len(given) != 1:
        raise InvalidInput("Name exactly one resource: --experiment ID|NAME, --dataset NAME or --model NAME.")
    kind, key = given[0]
    return Resource(kind=kind, key=key)


_Experiment = Annotated[str | None, typer.Option("--experiment", help="Experiment id or name.")]
_Dataset = Annotated[str | None, typer.Option("--dataset", help="Dataset name.")]
_Model = Annotated[str | None, typer.Option("--model", help="Registered model name.")]


_LEVEL_HELP = "read, write or admin (each restricts the resource to its grantees); owner restricts nobody."


@app.command("grant")
def grant(
    name: Annotated[str, typer.Argument(help="User name.")],
    experiment: _Experiment = None,
    dataset: _Dataset = None,
    model: _Model = None,
    level: Annotated[str, typer.Option("--level", help=_LEVEL_HELP)] = "read",
) -> None:
    """Grant a user access to one resource; a read, write or admin grant restricts it to its grantees."""
    resource = _resource(experiment, dataset, model)
    with admin("users grant") as adm:
        made = adm.auth.grant(name, resource, parse_grant_level(level))
        adm.record("grants.set", f"{made.resource_kind}:{made.resource}", {"user": name, "level": made.level})
    typer.echo(f"Granted {made.level} on {made.resource_kind} {made.resource!r} to {name!r}.")


@app.command("revoke-grant")
def revoke_grant(
    name: Annotated[str, typer.Argument(help="User name.")],
    experiment: _Experiment = None,
    dataset: _Dataset = None,
    model: _Model = None,
) -> None:
    """Remove a user's grant on one resource."""
    resource = _resource(experiment, dataset, model)
    with admin("users revoke-grant") as adm:
        adm.auth.revoke_grant(name, resource)
        adm.record("grants.delete", f"{resource.kind.value}:{resource.key}", {"user": name})
    typer.echo(f"Removed the grant of {name!r} on {resource}.")


@app.command("grants")
def list_grants(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's grants.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List grants."""
    with auth_service("users grants") as auth:
        grants = auth.list_grants(user_name=user)
    if as_json:
        print_listing(grants)
        return
    rows = [(g.user_name, g.resource_kind, g.resource, g.level, format_ms(g.created_at)) for g in grants]
    print_table("Grants", ["user", "kind", "resource", "level", "created"], rows)
