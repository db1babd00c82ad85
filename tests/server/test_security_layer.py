"""The security layer's decisions without HTTP: rule table, auth-failure limiting, body targets."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.security.auth import AuthService, Permission, Role
from loopml.security.ratelimit import InProcessLimiter, RateLimiter, RateLimitPolicy
from loopml.server._security import ROUTE_RULES, SecurityLayer, Target, rule_for
from loopml.store.sql import SqlStore, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()


def layer_of(store: SqlStore, tmp_path: Path, **policy: object) -> SecurityLayer:
    limiter = RateLimiter(InProcessLimiter(clock=lambda: 0.0), RateLimitPolicy.from_mapping(policy or None))
    settings = Settings(home=tmp_path, ungranted_access="write")  # the role decides on ungranted targets
    return SecurityLayer(store, settings, auth_enabled=True, limiter=limiter)


def decide(
    layer: SecurityLayer,
    method: str,
    template: str | None,
    *,
    token: str | None = None,
    params: dict[str, str] | None = None,
    body: object = None,
):  # type: ignore[no-untyped-def]
    return layer.decide(
        method=method,
        template=template,
        path_params=params or {},
        body=body,
        authorization=f"Bearer {token}" if token else None,
        client="10.0.0.9",
    )


def test_failed_authentications_are_limited_per_client(store: SqlStore, tmp_path: Path) -> None:
    layer = layer_of(store, tmp_path, auth_failure={"rate": 1, "burst": 2})
    verdicts = [decide(layer, "GET", "/api/v1/experiments", token="lml_bad") for _ in range(3)]
    assert [v.status for v in verdicts] == [401, 401, 429]
    assert verdicts[0].audit and not verdicts[2].audit  # a flood of bad tokens does not flood the audit log
    assert verdicts[2].headers["Retry-After"] == "1"


def test_unmatched_routes_are_authenticated_but_left_to_the_app(store: SqlStore, tmp_path: Path) -> None:
    AuthService(store).create_user("vi", role=Role.VIEWER)
    token = AuthService(store).create_token("vi")[1]
    layer = layer_of(store, tmp_path)
    assert decide(layer, "DELETE", None, token=token).status == 200  # the app answers 404/405
    assert decide(layer, "DELETE", None).status == 401


def test_body_targets_and_lists(store: SqlStore, tmp_path: Path) -> None:
    auth = AuthService(store)
    for name, role in (("ed", Role.EDITOR), ("ed2", Role.EDITOR)):
        auth.create_user(name, role=role)
    token = auth.create_token("ed2")[1]
    secret = store.experiments.create("secret")
    public = store.experiments.create("public")
    from loopml.security.auth import Resource, ResourceKind

    auth.grant("ed", Resource(kind=ResourceKind.EXPERIMENT, key="secret"), "write")
    layer = layer_of(store, tmp_path)
    ok = decide(layer, "POST", "/api/v1/runs", token=token, body={"experiment_id": public.experiment_id})
    assert ok.status == 200 and ok.target == f"experiment:{public.experiment_id}"
    refused = decide(layer, "POST", "/api/v1/runs", token=token, body={"experiment_id": secret.experiment_id})
    assert refused.status == 403 and refused.audit
    both = [public.experiment_id, secret.experiment_id]
    assert (
        decide(layer, "POST", "/api/v1/runs/search", token=token, body={"experiment_ids": both}).status == 403
    )
    by_name = decide(layer, "POST", "/api/v1/experiments/get-or-create", token=token, body={"name": "secret"})
    assert by_name.status == 403 and secret.experiment_id not in by_name.message  # no id leaks
    assert (
        decide(layer, "POST", "/api/v1/runs", token=token, body="not json object").status == 200
    )  # app: 400


def test_run_targets_resolve_to_their_experiment_once(store: SqlStore, tmp_path: Path) -> None:
    auth = AuthService(store)
    auth.create_user("ed", role=Role.EDITOR)
    token = auth.create_token("ed")[1]
    experiment = store.experiments.create("e")
    run = store.runs.create(experiment.experiment_id)
    layer = layer_of(store, tmp_path)
    template = "/api/v1/runs/{run_id}/log-batch"
    assert decide(layer, "POST", template, token=token, params={"run_id": run.run_id}).status == 200
    assert layer._run_experiments == {run.run_id: experiment.experiment_id}
    unknown = decide(layer, "POST", template, token=token, params={"run_id": "0" * 32})
    assert unknown.status == 200 and unknown.target == "run:" + "0" * 32  # the app answers 404


def test_execution_targets_resolve_through_their_run_once(store: SqlStore, tmp_path: Path) -> None:
    auth = AuthService(store)
    auth.create_user("ed", role=Role.EDITOR)
    token = auth.create_token("ed")[1]
    experiment = store.experiments.create("e")
    run = store.runs.create(experiment.experiment_id)
    of_run = store.lineage.create_execution(type="Trainer", name="t", run_id=run.run_id)
    of_no_run = store.lineage.create_execution(type="Evaluator", name="e")
    layer = layer_of(store, tmp_path)
    template = "/api/v1/executions/{execution_id}/finish"
    for execution in (of_run, of_no_run):
        params = {"execution_id": execution.execution_id}
        verdict = decide(layer, "POST", template, token=token, params=params)
        assert verdict.status == 200 and verdict.target == f"execution:{execution.execution_id}"
    assert layer._execution_runs == {of_run.execution_id: run.run_id, of_no_run.execution_id: ""}
    assert layer._run_experiments == {run.run_id: experiment.experiment_id}  # no run: no lookup
    unknown = decide(layer, "POST", template, token=token, params={"execution_id": "0" * 32})
    assert unknown.status == 200 and "0" * 32 not in layer._execution_runs  # the app answers 404
    assert rule_for("GET", "/api/v1/executions/{execution_id}").permission is Permission.READ
    assert rule_for("POST", "/api/v1/executions/{execution_id}/events").permission is Permission.RUNS_WRITE
    assert rule_for("POST", "/api/v1/runs").also[0].field == "parent_run_id"


def test_trace_targets_resolve_to_their_experiment_nested_or_in_the_path(
    store: SqlStore, tmp_path: Path
) -> None:
    from loopml.security.auth import Resource, ResourceKind

    auth = AuthService(store)
    for name in ("ed", "ed2"):
        auth.create_user(name, role=Role.EDITOR)
    token = auth.create_token("ed2")[1]
    secret, public = store.experiments.create("secret"), store.experiments.create("public")
    auth.grant("ed", Resource(kind=ResourceKind.EXPERIMENT, key=secret.experiment_id), "write")
    hidden = store.traces.create(experiment_id=secret.experiment_id, timestamp_ms=1)
    shown = store.traces.create(experiment_id=public.experiment_id, timestamp_ms=1)
    layer = layer_of(store, tmp_path)
    info = "/api/2.0/mlflow/traces/{request_id}/info"
    ok = decide(layer, "GET", info, token=token, params={"request_id": shown.trace_id})
    assert ok.status == 200 and ok.target == f"trace:{shown.trace_id}"
    refused = decide(layer, "GET", info, token=token, params={"request_id": hidden.trace_id})
    assert refused.status == 403 and refused.audit and "'read'" in refused.message
    tags = decide(
        layer,
        "PATCH",
        "/api/2.0/mlflow/traces/{request_id}/tags",
        token=token,
        params={"request_id": hidden.trace_id},
    )
    assert tags.status == 403 and "'runs.write'" in tags.message

    def v3(experiment_id: object) -> dict[str, object]:
        location = {"mlflow_experiment": {"experiment_id": experiment_id}}
        return {"trace": {"trace_info": {"trace_location": location}}}

    v3_start = "/api/3.0/mlflow/traces"
    assert decide(layer, "POST", v3_start, token=token, body=v3(public.experiment_id)).status == 200
    nested = decide(layer, "POST", v3_start, token=token, body=v3(secret.experiment_id))
    assert nested.status == 403 and nested.target == f"experiment:{secret.experiment_id}"
    assert (
        decide(layer, "POST", v3_start, token=token, body={"trace": "not an object"}).status == 200
    )  # app: 400


def test_dotted_body_fields_name_nested_targets() -> None:
    from loopml.server._security import _keys

    nested = Target(kind="experiment", field="a.b", in_body=True)
    assert _keys(nested, {}, {"a": {"b": "x"}}) == ["x"]
    assert _keys(nested, {}, {"a": {"b": ["x", "y", 3]}}) == ["x", "y"]
    assert _keys(nested, {}, {"a": "b"}) == _keys(nested, {}, {"a.b": "x"}) == _keys(nested, {}, None) == []
    in_path = Target(kind="run", field="run_id")
    assert _keys(in_path, {"run_id": "r"}, {"run_id": "other"}) == ["r"]


def test_repeated_query_parameters_are_all_checked() -> None:
    from loopml.server._security_middleware import _query_of

    scope = {"query_string": b"experiment_ids=a&experiment_ids=b&max_results=5"}
    assert _query_of(scope) == {"experiment_ids": ["a", "b"], "max_results": "5"}  # type: ignore[arg-type]


def test_route_rules_are_well_formed() -> None:
    for (method, template), rule in ROUTE_RULES.items():
        assert method in {"GET", "POST", "PUT", "PATCH", "DELETE"}
        assert template.startswith(
            ("/api/v1/", "/api/2.0/mlflow/", "/api/3.0/mlflow/", "/api/2.0/mlflow-artifacts/")
        )
        if rule.target is not None and not rule.target.in_body:
            assert "{" + rule.target.field in template, (method, template)
    assert rule_for("GET", "/api/v1/users").permission is Permission.USERS_MANAGE
    assert rule_for("DELETE", "/api/v1/tokens/{token_id}").permission is Permission.TOKENS_MANAGE
    assert rule_for("POST", "/api/v1/deployments").permission is Permission.DEPLOYMENTS_MANAGE
    assert rule_for("HEAD", "/api/v1/runs/{run_id}").permission is Permission.READ
    assert rule_for("GET", "/api/v1/datasets/{ref}").target is not None


def test_decisions_needing_nothing_stored_are_made_inline(store: SqlStore, tmp_path: Path) -> None:
    auth = AuthService(store)
    for name, role in (("root", Role.ADMIN), ("ed", Role.EDITOR)):
        auth.create_user(name, role=role)
    root, ed = auth.create_token("root")[1], auth.create_token("ed")[1]
    run = store.runs.create(store.experiments.create("e").experiment_id)
    layer = layer_of(store, tmp_path)
    log_metric = "/api/2.0/mlflow/runs/log-metric"
    basic = "Basic " + base64.b64encode(f"root:{root}".encode()).decode()
    ask = {"method": "POST", "template": log_metric, "client": "10.0.0.9"}
    # a bearer token, or Basic credentials not verified yet, are looked up in the store
    assert layer.admit_inline(authorization=f"Bearer {root}", **ask) is None
    assert layer.admit_inline(authorization=basic, **ask) is None
    assert layer.admit(authorization=basic, **ask).status == 200  # verified once, remembered
    admitted = layer.admit_inline(authorization=basic, **ask)
    assert admitted is not None and admitted.principal is not None and admitted.principal.name == "root"
    body = {"run_id": run.run_id}
    assert layer.authorize_inline(admitted, path_params={}, body=body) is None  # run not remembered yet
    assert layer.authorize(admitted, path_params={}, body=body).status == 200
    inline = layer.authorize_inline(admitted, path_params={}, body=body)
    assert inline is not None and (inline.status, inline.target) == (200, f"run:{run.run_id}")
    # an editor's grants are stored; so is whether a named experiment exists
    editor = layer.admit(authorization=f"Bearer {ed}", **ask)
    assert layer.authorize_inline(editor, path_params={}, body=body) is None
    by_name = layer.admit(
        method="POST", template="/api/v1/experiments", authorization=f"Bearer {root}", client=None
    )
    assert layer.authorize_inline(by_name, path_params={}, body={"name": "new"}) is None
    # the role alone decides a route that names no target, whoever asks
    users = layer.admit(method="GET", template="/api/v1/users", authorization=f"Bearer {ed}", client=None)
    refused = layer.authorize_inline(users, path_params={}, body=None)
    assert refused is not None and refused.status == 403 and refused.audit


def test_without_authentication_admission_is_inline(store: SqlStore, tmp_path: Path) -> None:
    layer = SecurityLayer(store, Settings(home=tmp_path), auth_enabled=False)
    admitted = layer.admit_inline(method="POST", template="/api/v1/runs", authorization=None, client=None)
    assert admitted is not None and admitted.principal is not None and admitted.principal.name == "local"
    assert admitted.audit  # a mutation: audited as before
