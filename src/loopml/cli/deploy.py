"""``loopml deploy``: deployments (primary, canary, shadows), rollouts, overrides, history, YAML apply.

With ``LOOPML_TRACKING_URI`` set the commands go through the server's ``/api/v1/deployments``;
otherwise they work on the configured store and registry directly.
"""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer
import yaml

from loopml.cli import _context
from loopml.cli._output import format_ms, print_json, print_table
from loopml.deploy.records import event_view
from loopml.deploy.service import DeploymentService
from loopml.deploy.spec import Canary, DeploymentSpec
from loopml.errors import InvalidInput
from loopml.store.remote import RemoteDeployments

app = typer.Typer(
    help="Deployments: canary rollouts with release gates, shadows, overrides and history.",
    no_args_is_help=True,
)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Reason = Annotated[str | None, typer.Option("--reason", help="Why (kept in the history and the audit log).")]


class _Backend(Protocol):
    def list_deployments(self) -> list[dict[str, Any]]: ...
    def get(self, name: str) -> dict[str, Any]: ...
    def create(self, document: Mapping[str, Any], *, reason: str | None = None) -> dict[str, Any]: ...
    def apply(
        self, document: Mapping[str, Any], *, reason: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]: ...
    def history(self, name: str, *, limit: int | None = None) -> list[dict[str, Any]]: ...
    def set_traffic(self, name: str, *, weight: float, reason: str | None = None) -> dict[str, Any]: ...
    def start_canary(self, name: str, target: str, *, reason: str | None = None) -> dict[str, Any]: ...
    def set_shadow(
        self,
        name: str,
        shadow: str,
        *,
        target: str | None,
        mirror_percent: float = 100.0,
        reason: str | None = None,
    ) -> dict[str, Any]: ...
    def promote(self, name: str, *, reason: str | None = None) -> dict[str, Any]: ...
    def rollback(self, name: str, *, reason: str | None = None) -> dict[str, Any]: ...


class _Local:
    """The service on the configured store, answering the same JSON views as the server."""

    def __init__(self, service: DeploymentService, actor: str) -> None:
        self._s, self._actor = service, actor

    def list_deployments(self) -> list[dict[str, Any]]:
        return [d.view() for d in self._s.list()]

    def get(self, name: str) -> dict[str, Any]:
        return self._s.get(name).view()

    def create(self, document: Mapping[str, Any], *, reason: str | None = None) -> dict[str, Any]:
        spec, policy, _, _ = self._s.plan(document)
        return self._s.create(spec, policy, actor=self._actor, reason=reason).view()

    def apply(
        self, document: Mapping[str, Any], *, reason: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        if dry_run:
            _, _, current, diff = self._s.plan(document)
            return {"created": current is None, "changed": bool(diff), "diff": diff, "deployment": None}
        r = self._s.apply(document, actor=self._actor, reason=reason)
        return {
            "created": r.created,
            "changed": r.changed,
            "diff": list(r.diff),
            "deployment": r.deployment.view(),
        }

    def history(self, name: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        return [event_view(e) for e in self._s.history(name, limit=limit)]

    def set_traffic(self, name: str, *, weight: float, reason: str | None = None) -> dict[str, Any]:
        return self._s.set_traffic(name, weight=weight, actor=self._actor, reason=reason).view()

    def start_canary(self, name: str, target: str, *, reason: str | None = None) -> dict[str, Any]:
        return self._s.start_canary(name, target, actor=self._actor, reason=reason).view()

    def set_shadow(
        self,
        name: str,
        shadow: str,
        *,
        target: str | None,
        mirror_percent: float = 100.0,
        reason: str | None = None,
    ) -> dict[str, Any]:
        return self._s.set_shadow(
            name, shadow, target=target, mirror_percent=mirror_percent, actor=self._actor, reason=reason
        ).view()

    def promote(self, name: str, *, reason: str | None = None) -> dict[str, Any]:
        return self._s.promote(name, actor=self._actor, reason=reason).view()

    def rollback(self, name: str, *, reason: str | None = None) -> dict[str, Any]:
        return self._s.rollback(name, actor=self._actor, reason=reason).view()


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@contextlib.contextmanager
def _backend() -> Iterator[_Backend]:
    settings = _context.settings()
    if settings.tracking_uri:
        remote = RemoteDeployments.connect(settings.tracking_uri, token=settings.tracking_token)
        try:
            yield remote
        finally:
            remote.close()
    else:
        yield _Local(_context.services().deployments, _actor())


def _routes(view: Mapping[str, Any]) -> list[list[Any]]:
    spec = view["spec"]
    rows: list[list[Any]] = [["primary", spec["primary"], "", ""]]
    if spec.get("canary"):
        rows.append(["canary", spec["canary"]["target"], f"{spec['canary']['weight']} %", ""])
    for s in spec.get("shadows", []):
        rows.append([f"shadow {s['name']}", s["target"], f"mirror {s['mirror_percent']} %", ""])
    if spec.get("ab"):
        for a in spec["ab"]["arms"]:
            rows.append([f"a/b {a['name']}", a["target"], f"{a['weight']} %", f"key {spec['ab']['key']}"])
    for e in spec.get("ensembles", []):
        members = ", ".join(m["target"] for m in e["members"])
        rows.append([f"ensemble {e['name']}", members, e["method"], ""])
    return rows


def _show(view: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(view)
        return
    print_table(
        f"{view['name']} (revision {view['revision']})", ["route", "target", "traffic", ""], _routes(view)
    )
    rollout = view.get("rollout")
    if rollout:
        typer.echo(f"rollout: {rollout['phase']} at step {rollout['step'] + 1}, canary {rollout['weight']} %")
        if rollout.get("reason"):
            typer.echo(f"  reason: {rollout['reason']}")
    analysis = view.get("last_analysis")
    if analysis:
        rows = [
            [g["gate"], g["verdict"], g["value"], g["threshold"], g["primary_n"], g["canary_n"], g["detail"]]
            for g in analysis["gates"]
        ]
        print_table(
            f"last analysis: {analysis['verdict']}",
            ["gate", "verdict", "value", "threshold", "primary n", "canary n", "detail"],
            rows,
        )


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Deployment (endpoint) name.")],
    primary: Annotated[str, typer.Option("--primary", help="models:/NAME@ALIAS or models:/NAME/VERSION.")],
    reason: Reason = None,
    as_json: Json = False,
) -> None:
    """Create a deployment answering with PRIMARY (its models are resolved and verified first)."""
    DeploymentSpec(name=name, primary=primary)  # bad input is refused before any call
    with _backend() as backend:
        _show(backend.create({"name": name, "primary": primary}, reason=reason), as_json)


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Deployment name.")], as_json: Json = False) -> None:
    """Routes, rollout state and the last gate analysis of NAME."""
    with _backend() as backend:
        _show(backend.get(name), as_json)


@app.command("list")
def list_(as_json: Json = False) -> None:
    """Every deployment with its primary and canary."""
    with _backend() as backend:
        views = backend.list_deployments()
    if as_json:
        print_json({"deployments": views})
        return
    rows = []
    for v in views:
        canary = v["spec"].get("canary")
        rollout = v.get("rollout") or {}
        rows.append(
            [
                v["name"],
                v["spec"]["primary"],
                f"{canary['target']} ({canary['weight']} %)" if canary else "",
                rollout.get("phase", ""),
                v["revision"],
                format_ms(v["updated_at"]),
            ]
        )
    print_table("deployments", ["name", "primary", "canary", "rollout", "revision", "updated"], rows)


@app.command("set-traffic")
def set_traffic(
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    weight: Annotated[float, typer.Argument(help="Canary weight, 0 to 100 (percent).")],
    reason: Reason = None,
    as_json: Json = False,
) -> None:
    """Set the canary's share of traffic by hand (stops the automatic rollout)."""
    Canary(target="models:/x/1", weight=weight)  # range check with the domain's message
    with _backend() as backend:
        _show(backend.set_traffic(name, weight=weight, reason=reason), as_json)


@app.command("canary")
def canary(
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    target: Annotated[str, typer.Argument(help="The candidate: models:/NAME/VERSION or models:/NAME@ALIAS.")],
    reason: Reason = None,
    as_json: Json = False,
) -> None:
    """Start a canary rollout of TARGET at the policy's first step; gates decide from there."""
    with _backend() as backend:
        _show(backend.start_canary(name, target, reason=reason), as_json)


@app.command("shadow")
def shadow(
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    shadow_name: Annotated[str, typer.Argument(metavar="SHADOW", help="Shadow route name.")],
    target: Annotated[str | None, typer.Argument(help="The model to mirror traffic to.")] = None,
    mirror: Annotated[float, typer.Option("--mirror", help="Percent of requests mirrored.")] = 100.0,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the shadow.")] = False,
    reason: Reason = None,
    as_json: Json = False,
) -> None:
    """Add, change (TARGET) or remove (--remove) a shadow: mirrored, compared, never answering."""
    if (target is None) != remove:
        raise InvalidInput("Give either TARGET (add or change the shadow) or --remove, not both or neither.")
    with _backend() as backend:
        _show(
            backend.set_shadow(name, shadow_name, target=target, mirror_percent=mirror, reason=reason),
            as_json,
        )


@app.command("promote")
def promote(
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    reason: Reason = None,
    as_json: Json = False,
) -> None:
    """Promote the canary now: the primary's alias moves through the promotion policy."""
    with _backend() as backend:
        _show(backend.promote(name, reason=reason), as_json)


@app.command("rollback")
def rollback(
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    reason: Reason = None,
    as_json: Json = False,
) -> None:
    """Send all traffic back to the primary now (canary weight 0); the alias is not moved."""
    with _backend() as backend:
        _show(backend.rollback(name, reason=reason), as_json)


@app.command("history")
def history(
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the newest N events.")] = None,
    as_json: Json = False,
) -> None:
    """Every change of NAME: who, what, why, and the model versions it used."""
    with _backend() as backend:
        events = backend.history(name, limit=limit)
    if as_json:
        print_json({"events": events})
        return
    rows = [
        [
            e["revision"],
            format_ms(e["at"]),
            e["actor"] or "",
            e["action"],
            ", ".join(e["models"]),
            e["reason"] or "",
        ]
        for e in events
    ]
    print_table(f"history of {name}", ["rev", "at", "actor", "action", "models", "reason"], rows)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InvalidInput(f"Cannot read {path}: {err.strerror or err}.") from err
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InvalidInput(f"{path} is not valid YAML: {err}") from err


@app.command("apply")
def apply(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="A deployment YAML file.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would change.")] = False,
    reason: Reason = None,
    as_json: Json = False,
) -> None:
    """Create or update a deployment from FILE (idempotent): the diff is shown first, then applied."""
    document = _read_yaml(path)
    with _backend() as backend:
        plan = backend.apply(document, dry_run=True)
        if not as_json:
            verb = "create" if plan["created"] else ("change" if plan["changed"] else "unchanged")
            typer.echo(f"{path}: {verb}")
            for line in plan["diff"]:
                typer.echo(f"  {line}")
        if dry_run or not plan["changed"]:
            if as_json:
                print_json({**plan, "applied": False})
            return
        result = backend.apply(document, reason=reason)
    if as_json:
        print_json({**result, "applied": True})
    else:
        typer.echo(f"applied: {result['deployment']['name']} revision {result['deployment']['revision']}")
