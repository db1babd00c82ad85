"""Which permission, rate class and target each API route needs: the route-rule tables and their lookup.

The security layer (:mod:`loopml.server._security`) reads these rules; a route missing from the
tables is refused, never let through (``rule_for``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loopml.security.auth import Permission
from loopml.security.ratelimit import EndpointClass
from loopml.server.mlflow.access import MLFLOW_ACCESS

API = "/api/v1"
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """Where a route names the resource it acts on.

    Attributes:
        kind: ``experiment`` (an id), ``experiment_name``, ``run`` (an id), ``execution`` (an
            id, resolved through its run; one of no run names no resource), ``logged_model`` (an
            MLflow logged-model id ``m-<artifact id>``, resolved through its source run), ``trace``
            (an MLflow trace id) — all resolved to the experiment id —, ``model`` or ``dataset``
            (names; a dataset ``name@version`` counts as ``name``).
        field: The path parameter (or JSON body field when ``in_body``; dots name a nested field)
            holding it.
        in_body: Whether it comes from the JSON body.
    """

    kind: str
    field: str
    in_body: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """What a route needs: the permission, the target resource, its rate-limit class.

    Attributes:
        action: Audit name of the action (``"runs.log_metrics"``).
        permission: The permission the caller must hold (on the target, when there is one).
        endpoint_class: The rate-limit class.
        target: Where the target resource is named, if anywhere.
        also: Further targets the request acts on (a run named in the body of a route whose
            path names another resource); the permission is checked on each of them too.
        alias_field: Path parameter (or body field) holding an alias name; moving a production alias
            (:data:`~loopml.security.auth.PRODUCTION_ALIASES`) needs ``aliases.production``.
        mutates: Whether the request changes state (audited); False for read-only POST searches.
        creates: Whether the request creates its target when it does not exist yet: creating
            needs the role only, and a successful creator gets an ``owner`` grant on it.
        reads_existing: Whether, on a target that exists, the request only reads it
            (get-or-create): ``read`` is needed then instead of the permission.
    """

    action: str
    permission: Permission
    endpoint_class: EndpointClass
    target: Target | None = None
    also: tuple[Target, ...] = ()
    alias_field: str | None = None
    mutates: bool = True
    creates: bool = False
    reads_existing: bool = False

    @property
    def reads_body(self) -> bool:
        """Whether a target is named in the JSON body (read before the request is authorised)."""
        return any(t.in_body for t in (self.target, *self.also) if t is not None)


def _r(
    action: str,
    permission: Permission,
    endpoint_class: EndpointClass = EndpointClass.WRITE,
    target: Target | None = None,
    **kwargs: Any,
) -> Rule:
    return Rule(action=action, permission=permission, endpoint_class=endpoint_class, target=target, **kwargs)


_P = Permission
_E = EndpointClass
_RUN = Target(kind="run", field="run_id")
#: A run named in the JSON body (records that may belong to a run: artifacts, executions, models).
_RUN_IN_BODY = Target(kind="run", field="run_id", in_body=True)
_MODEL = Target(kind="model", field="model_name")
_MODEL_BY_NAME = Target(kind="model", field="name")

#: Routes whose rule differs from the default derived by :func:`rule_for`.
ROUTE_RULES: Mapping[tuple[str, str], Rule] = {
    ("POST", f"{API}/runs"): _r(
        "runs.create",
        _P.RUNS_WRITE,
        target=Target(kind="experiment", field="experiment_id", in_body=True),
        # a child run is written under its parent: the parent's experiment needs the write grant too
        also=(Target(kind="run", field="parent_run_id", in_body=True),),
    ),
    ("POST", f"{API}/runs/search"): _r(
        "runs.search",
        _P.READ,
        _E.READ,
        Target(kind="experiment", field="experiment_ids", in_body=True),
        mutates=False,
    ),
    ("POST", f"{API}/experiments/search"): _r("experiments.search", _P.READ, _E.READ, mutates=False),
    ("POST", f"{API}/models/search"): _r("models.search", _P.READ, _E.READ, mutates=False),
    ("POST", f"{API}/experiments"): _r(
        "experiments.create",
        _P.EXPERIMENTS_WRITE,
        target=Target(kind="experiment_name", field="name", in_body=True),
        creates=True,
    ),
    ("POST", f"{API}/experiments/get-or-create"): _r(
        "experiments.get_or_create",
        _P.EXPERIMENTS_WRITE,
        target=Target(kind="experiment_name", field="name", in_body=True),
        creates=True,
        reads_existing=True,
    ),
    ("POST", f"{API}/models"): _r(
        "models.create",
        _P.MODELS_WRITE,
        target=Target(kind="model", field="name", in_body=True),
        creates=True,
    ),
    ("POST", f"{API}/artifacts"): _r("artifacts.create", _P.RUNS_WRITE, _E.WRITE, _RUN_IN_BODY),
    ("POST", f"{API}/executions"): _r("executions.create", _P.RUNS_WRITE, _E.WRITE, _RUN_IN_BODY),
    ("PUT", f"{API}/blobs"): _r("blobs.upload", _P.RUNS_WRITE, _E.UPLOAD),
    ("PUT", f"{API}/runs/{{run_id}}/artifacts/{{path:path}}"): _r(
        "artifacts.upload", _P.RUNS_WRITE, _E.UPLOAD, _RUN
    ),
    ("POST", f"{API}/runs/{{run_id}}/artifacts"): _r("artifacts.upload", _P.RUNS_WRITE, _E.UPLOAD, _RUN),
    ("POST", f"{API}/models/{{model_name}}/versions"): _r(
        "models.register_version", _P.MODELS_WRITE, _E.UPLOAD, _MODEL, also=(_RUN_IN_BODY,), creates=True
    ),
    ("POST", f"{API}/models/{{name}}/versions"): _r(
        "models.register_version",
        _P.MODELS_WRITE,
        _E.UPLOAD,
        _MODEL_BY_NAME,
        also=(_RUN_IN_BODY,),
        creates=True,
    ),
    ("PUT", f"{API}/models/{{model_name}}/aliases/{{alias}}"): _r(
        "models.set_alias", _P.MODELS_WRITE, target=_MODEL, alias_field="alias"
    ),
    ("DELETE", f"{API}/models/{{model_name}}/aliases/{{alias}}"): _r(
        "models.delete_alias", _P.MODELS_WRITE, target=_MODEL, alias_field="alias"
    ),
    ("PUT", f"{API}/models/{{name}}/aliases/{{alias}}"): _r(
        "models.set_alias", _P.MODELS_WRITE, target=_MODEL_BY_NAME, alias_field="alias"
    ),
    ("DELETE", f"{API}/models/{{name}}/aliases/{{alias}}"): _r(
        "models.delete_alias", _P.MODELS_WRITE, target=_MODEL_BY_NAME, alias_field="alias"
    ),
    ("POST", f"{API}/models/{{name}}/versions/{{version}}/archive"): _r(
        "models.archive_version", _P.MODELS_WRITE, target=_MODEL_BY_NAME
    ),
    ("POST", f"{API}/models/{{name}}/versions/{{version}}/blessing"): _r(
        "models.attach_blessing", _P.MODELS_WRITE, target=_MODEL_BY_NAME
    ),
    ("GET", f"{API}/models/{{name}}/versions/{{version}}/files"): _r(
        "models.list_files", _P.READ, _E.READ, _MODEL_BY_NAME, mutates=False
    ),
    ("GET", f"{API}/models/{{name}}/versions/{{version}}/files/{{path:path}}"): _r(
        "models.download_file", _P.READ, _E.READ, _MODEL_BY_NAME, mutates=False
    ),
    ("GET", f"{API}/datasets/{{ref}}/statistics"): _r(
        "datasets.list_statistics", _P.READ, _E.READ, Target(kind="dataset", field="ref"), mutates=False
    ),
    ("GET", f"{API}/datasets/{{ref}}/statistics/{{artifact_id}}"): _r(
        "datasets.get_statistics", _P.READ, _E.READ, Target(kind="dataset", field="ref"), mutates=False
    ),
    ("POST", f"{API}/datasets/{{dataset}}/versions"): _r(
        "datasets.add_version",
        _P.DATASETS_WRITE,
        _E.UPLOAD,
        Target(kind="dataset", field="dataset"),
        creates=True,
    ),
    ("POST", f"{API}/datasets/{{name}}/versions"): _r(
        "datasets.add_version",
        _P.DATASETS_WRITE,
        _E.UPLOAD,
        Target(kind="dataset", field="name"),
        creates=True,
    ),
    ("POST", f"{API}/deployments/{{name}}/monitoring/run"): _r(
        "monitoring.run", _P.DEPLOYMENTS_MANAGE, _E.ADMIN
    ),
    ("GET", f"{API}/audit"): _r("audit.list", _P.AUDIT_READ, _E.ADMIN, mutates=False),
    ("GET", f"{API}/whoami"): _r("whoami", _P.READ, _E.READ, mutates=False),
}

#: The web UI's forms and admin pages (:mod:`loopml.server.ui`); its other pages are reads.
#: Login and logout are open paths (they check the token and the CSRF field themselves).
UI_ROUTE_RULES: Mapping[tuple[str, str], Rule] = {
    ("POST", "/ui/login"): _r("ui.login", _P.READ, _E.AUTH_FAILURE, mutates=False),
    ("POST", "/ui/logout"): _r("ui.logout", _P.READ, _E.READ, mutates=False),
    ("GET", "/ui/admin/users"): _r("ui.users", _P.USERS_MANAGE, _E.ADMIN, mutates=False),
    ("GET", "/ui/admin/tokens"): _r("ui.tokens", _P.TOKENS_MANAGE, _E.ADMIN, mutates=False),
    ("POST", "/ui/admin/tokens"): _r("tokens.create", _P.TOKENS_MANAGE, _E.ADMIN),
    ("POST", "/ui/admin/tokens/{token_id}/revoke"): _r("tokens.revoke", _P.TOKENS_MANAGE, _E.ADMIN),
    ("GET", "/ui/admin/audit"): _r("ui.audit", _P.AUDIT_READ, _E.ADMIN, mutates=False),
}

#: The MLflow-compatible API names its targets in the JSON body (POST) or the query string (GET).
ROUTE_RULES = {
    **ROUTE_RULES,
    **{
        key: _r(
            a.action,
            a.permission,
            a.endpoint_class,
            None
            if a.target_kind is None
            else Target(kind=a.target_kind, field=a.target_field or "", in_body=not a.target_in_path),
            mutates=a.mutates,
            creates=a.creates,
            alias_field=a.alias_field,
        )
        for key, a in MLFLOW_ACCESS.items()
    },
}

#: First path segment under ``/api/v1`` → (permission to change, rate class of changes).
_SEGMENT_WRITE: Mapping[str, tuple[Permission, EndpointClass]] = {
    "experiments": (_P.EXPERIMENTS_WRITE, _E.WRITE),
    "runs": (_P.RUNS_WRITE, _E.WRITE),
    "metrics": (_P.RUNS_WRITE, _E.WRITE),
    "artifacts": (_P.RUNS_WRITE, _E.WRITE),
    "blobs": (_P.RUNS_WRITE, _E.UPLOAD),
    "lineage": (_P.RUNS_WRITE, _E.WRITE),
    "executions": (_P.RUNS_WRITE, _E.WRITE),
    "contexts": (_P.RUNS_WRITE, _E.WRITE),
    "datasets": (_P.DATASETS_WRITE, _E.UPLOAD),
    "models": (_P.MODELS_WRITE, _E.WRITE),
    "deployments": (_P.DEPLOYMENTS_MANAGE, _E.ADMIN),
    "users": (_P.USERS_MANAGE, _E.ADMIN),
    "tokens": (_P.TOKENS_MANAGE, _E.ADMIN),
    "grants": (_P.GRANTS_MANAGE, _E.ADMIN),
    "audit": (_P.AUDIT_READ, _E.ADMIN),
}
#: Segments whose reads are admin-only too.
_ADMIN_READS = {
    "users": _P.USERS_MANAGE,
    "tokens": _P.TOKENS_MANAGE,
    "grants": _P.GRANTS_MANAGE,
    "audit": _P.AUDIT_READ,
}
#: Path parameter names that name a target, per first segment (``*``: any segment).
_PARAM_TARGETS: tuple[tuple[str, str, str], ...] = (
    ("*", "run_id", "run"),
    ("*", "execution_id", "execution"),
    ("*", "experiment_id", "experiment"),
    ("*", "model_name", "model"),
    ("models", "name", "model"),
    ("experiments", "name", "experiment_name"),
    ("*", "dataset", "dataset"),
    ("*", "dataset_name", "dataset"),
    ("datasets", "name", "dataset"),
    ("datasets", "ref", "dataset"),
)
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete", "GET": "get"}


def rule_for(method: str, template: str) -> Rule:
    """The rule for a request: :data:`ROUTE_RULES`, else derived from the template.

    Reads (GET/HEAD/OPTIONS) need ``read`` (admin segments need their admin permission);
    changes need the write permission of the first segment under ``/api/v1``. A change under an
    unknown segment needs ``server.admin`` (only admins hold it), so a new route is closed until
    it is given a rule. The target comes from the path parameters named in the template.

    Example:
        >>> rule_for("POST", "/api/v1/runs/{run_id}/metrics").permission
        <Permission.RUNS_WRITE: 'runs.write'>
        >>> rule_for("GET", "/api/v1/runs/{run_id}").target.kind
        'run'
    """
    method = "GET" if method in ("HEAD", "OPTIONS") else method
    exact = ROUTE_RULES.get((method, template)) or UI_ROUTE_RULES.get((method, template))
    if exact is not None:
        return exact
    segments = [s for s in template.removeprefix(API).split("/") if s]
    first = segments[0] if template.startswith(API + "/") and segments else ""
    target = _target_from_template(first, template)
    action = _action_name(first, segments, method)
    if method not in MUTATING_METHODS:
        permission = _ADMIN_READS.get(first, _P.READ)
        endpoint_class = _E.ADMIN if first in _ADMIN_READS else _E.READ
        return _r(action, permission, endpoint_class, target, mutates=False)
    permission, endpoint_class = _SEGMENT_WRITE.get(first, (_P.SERVER_ADMIN, _E.ADMIN))
    alias = "alias" if "{alias}" in template else None
    return _r(action, permission, endpoint_class, target, alias_field=alias)


def _action_name(first: str, segments: list[str], method: str) -> str:
    """``runs.log-batch``, ``runs.create``, ``experiments.delete`` ... for the audit log."""
    literals = [s for s in segments[1:] if not s.startswith("{")]
    verb = _VERBS.get(method, method.lower())
    if not literals:
        return f"{first or 'server'}.{verb}"
    return f"{first}.{'.'.join(literals)}" + (f".{verb}" if method == "DELETE" else "")


def _target_from_template(first: str, template: str) -> Target | None:
    for segment, param, kind in _PARAM_TARGETS:
        if segment in ("*", first) and (f"{{{param}}}" in template or f"{{{param}:" in template):
            return Target(kind=kind, field=param)
    return None
