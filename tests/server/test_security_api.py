"""The security layer through the live API: 401s, 403s naming the permission, grants, 429, audit."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from loopml.config import Settings
from loopml.security.auth import AuthService, Resource, ResourceKind, Role
from loopml.server._security import MUTATING_METHODS, rule_for
from loopml.server.app import create_app
from loopml.server.background import serve_in_thread
from loopml.store.sql import SqlStore, open_store
from loopml.web.routes import RouteIndex

#: Tables a refused request must leave exactly as they were (audit rows and token use are expected).
UNTOUCHED_EXCLUDED = {"audit_events", "tokens", "alembic_version"}


class Fixture:
    """A live server with auth on, its store, and one token per role."""

    def __init__(self, url: str, store: SqlStore, home: Path, tokens: dict[str, str]) -> None:
        self.url = url
        self.store = store
        self.home = home
        self.tokens = tokens

    def client(self, user: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    home = tmp_path_factory.mktemp("secured")
    store = open_store(f"sqlite:///{home / 'store.db'}")
    auth = AuthService(store)
    tokens: dict[str, str] = {}
    for name, role in (
        ("root", Role.ADMIN),
        ("mia", Role.MAINTAINER),
        ("ed", Role.EDITOR),
        ("ed2", Role.EDITOR),
        ("vi", Role.VIEWER),
    ):
        auth.create_user(name, role=role)
        tokens[name] = auth.create_token(name)[1]
    # These tests are about who may do what: a viewer's default write bucket (burst 20) would
    # answer 429 part way through the sweep of every mutating endpoint on a fast machine.
    roomy = {"rate": 1000, "burst": 1000}
    limits = {"viewer": {"read": roomy, "write": roomy, "upload": roomy, "admin": roomy}}
    with serve_in_thread(Settings(home=home, rate_limits=limits), auth_enabled=True) as url:
        yield Fixture(url, store, home, tokens)
    store.close()


def snapshot(home: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the audit log and token bookkeeping."""
    engine = sa.create_engine(f"sqlite:///{home / 'store.db'}")
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return {
                n: sorted(map(tuple, conn.execute(sa.text(f'SELECT * FROM "{n}"')).all()), key=repr)
                for n in names
                if n not in UNTOUCHED_EXCLUDED
            }
    finally:
        engine.dispose()


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]


def test_health_and_readiness_are_open(live: Fixture) -> None:
    assert httpx.get(live.url + "/healthz").status_code == 200
    assert httpx.get(live.url + "/readyz").status_code == 200


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (None, "requires a token"),
        ("Basic YWxhZGRpbjpvcGVuc2VzYW1l", "malformed"),  # Basic: user name + a token as password
        ("Basic not base64!", "not base64"),
        ("Digest abc", "must be 'Bearer <token>'"),
        ("Bearer", "must be 'Bearer <token>'"),
        ("Bearer not-a-token", "malformed"),
        ("Bearer lml_" + "a" * 32 + "_" + "b" * 43, "Unknown token"),
    ],
)
def test_missing_and_malformed_tokens_get_401(live: Fixture, header: str | None, words: str) -> None:
    headers = {"Authorization": header} if header else {}
    before = snapshot(live.home)
    response = httpx.post(live.url + "/api/v1/experiments", json={"name": "nope"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    error = error_of(response)
    assert error["code"] == "unauthorized" and words in error["message"]
    assert snapshot(live.home) == before
    [event] = live.store.identity.list_audit_events(limit=1)
    assert (event.actor, event.result, event.status_code, event.client) == (
        None,
        "unauthorized",
        401,
        "127.0.0.1",
    )
    assert event.action == "experiments.create" and event.details["path"] == "/api/v1/experiments"


def test_expired_revoked_and_disabled_get_401(live: Fixture) -> None:
    past = AuthService(live.store, clock=lambda: 1_000_000)
    _, expired = past.create_token("ed2", expires_in=dt.timedelta(seconds=1))
    auth = AuthService(live.store)
    token, revoked = auth.create_token("ed2")
    auth.revoke_token(token.token_id)
    auth.create_user("gone", role=Role.EDITOR)
    _, disabled = auth.create_token("gone")
    auth.disable_user("gone")
    for text, words in ((expired, "expired at"), (revoked, "was revoked"), (disabled, "is disabled")):
        response = httpx.get(live.url + "/api/v1/experiments", headers={"Authorization": f"Bearer {text}"})
        assert response.status_code == 401 and words in error_of(response)["message"]
        assert text.split("_", 2)[2] not in response.text  # the secret is never echoed
    events = live.store.identity.list_audit_events(limit=3)
    assert [e.result for e in events] == ["unauthorized"] * 3


def test_token_secret_never_reaches_the_audit_log(live: Fixture) -> None:
    with live.client("ed") as api:
        api.post("/experiments", json={"name": "audited-secret"})
    secret = live.tokens["ed"].split("_", 2)[2]
    dump = repr(live.store.identity.list_audit_events(limit=10_000))
    assert secret not in dump


def _fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), "x"), template)


def test_viewer_is_refused_every_mutating_endpoint_and_nothing_is_written(live: Fixture) -> None:
    with live.client("ed") as api:
        experiment = api.post("/experiments", json={"name": "viewer-target"}).json()
        run = api.post("/runs", json={"experiment_id": experiment["experiment_id"]}).json()
    values = {
        "experiment_id": experiment["experiment_id"],
        "run_id": run["run_id"],
        "path": "model/file.txt",
        "name": "viewer-target",
    }
    app = create_app(Settings(home=live.home), store=live.store, auth_enabled=True)
    targets = [
        (method, t.path)
        for t in RouteIndex(app.routes).templates
        for method in sorted(t.methods or ())
        if method in MUTATING_METHODS and rule_for(method, t.path).mutates and t.path.startswith("/api/v1/")
    ]  # the UI's forms (/ui) are covered by tests/ui
    assert len(targets) >= 15  # experiments, runs, artifacts, blobs, lineage ... all covered
    before = snapshot(live.home)
    with live.client("vi") as api:
        for method, template in targets:
            response = api.request(method, live.url + _fill(template, values), json={})
            permission = rule_for(method, template).permission.value
            assert response.status_code == 403, (method, template, response.text)
            body = response.json()
            if "error_code" in body:  # the MLflow API answers in MLflow's envelope
                error = {"code": body["error_code"].lower().replace("permission_denied", "forbidden")}
                error["message"] = body["message"]
            else:
                error = error_of(response)
            assert error["code"] == "forbidden" and f"'{permission}'" in error["message"], error
    assert snapshot(live.home) == before
    refused = live.store.identity.list_audit_events(actor="vi", limit=len(targets))
    assert {e.result for e in refused} == {"forbidden"} and len(refused) == len(targets)


def test_editor_writes_are_audited_with_target_and_client(live: Fixture) -> None:
    with live.client("ed") as api:
        experiment = api.post("/experiments", json={"name": "audited"}).json()
        run = api.post("/runs", json={"experiment_id": experiment["experiment_id"]})
        assert run.status_code == 201
        run_id = run.json()["run_id"]
        logged = api.post(
            f"/runs/{run_id}/log-batch",
            json={"metrics": [{"key": "loss", "value": 0.5, "timestamp": 1, "step": 0}]},
        )
        assert logged.status_code == 204, logged.text
        assert api.get(f"/runs/{run_id}").status_code == 200
    events = live.store.identity.list_audit_events(actor="ed", limit=3)
    assert [(e.action, e.status_code, e.result) for e in events] == [
        ("runs.log-batch", 204, "ok"),
        ("runs.create", 201, "ok"),
        ("experiments.create", 201, "ok"),
    ]
    assert events[0].target == f"run:{run_id}"
    assert events[1].target == f"experiment:{experiment['experiment_id']}"
    assert events[2].target == "experiment_name:audited"
    assert {e.client for e in events} == {"127.0.0.1"}
    assert all(e.details["token_id"] for e in events)


def test_failed_mutations_are_audited_too(live: Fixture) -> None:
    with live.client("ed") as api:
        response = api.post("/runs/" + "0" * 32 + "/status", json={"status": "FINISHED"})
    assert response.status_code == 404
    [event] = live.store.identity.list_audit_events(actor="ed", limit=1)
    assert (event.action, event.status_code, event.result) == ("runs.status", 404, "failed")


def test_grants_restrict_an_experiment(live: Fixture) -> None:
    with live.client("ed") as api:
        experiment = api.post("/experiments", json={"name": "restricted"}).json()
        run_id = api.post("/runs", json={"experiment_id": experiment["experiment_id"]}).json()["run_id"]
    AuthService(live.store).grant("ed", Resource(kind=ResourceKind.EXPERIMENT, key="restricted"), "write")
    with live.client("ed2") as other:
        for response in (
            other.get(f"/runs/{run_id}"),
            other.get(f"/experiments/{experiment['experiment_id']}"),
            other.post("/runs", json={"experiment_id": experiment["experiment_id"]}),
            other.post("/runs/search", json={"experiment_ids": [experiment["experiment_id"]]}),
        ):
            assert response.status_code == 403, response.text
            assert "restricted to granted users" in error_of(response)["message"]
        # by name, a hidden experiment is answered as a missing one, word for word (no id leaks)
        hidden, missing = other.get("/experiments/by-name/restricted"), other.get("/experiments/by-name/nope")
        assert (hidden.status_code, missing.status_code) == (404, 404)
        assert error_of(hidden)["code"] == error_of(missing)["code"] == "not_found"
        assert error_of(hidden)["message"] == error_of(missing)["message"].replace("'nope'", "'restricted'")
        taken = other.post("/experiments", json={"name": "restricted"})
        assert taken.status_code == 403 and experiment["experiment_id"] not in taken.text
    with live.client("ed") as api:
        assert api.get(f"/runs/{run_id}").status_code == 200
        assert api.post("/runs", json={"experiment_id": experiment["experiment_id"]}).status_code == 201
    with live.client("root") as admin:
        assert admin.get(f"/runs/{run_id}").status_code == 200


def test_whoami_and_audit_api(live: Fixture) -> None:
    with live.client("mia") as api:
        me = api.get("/whoami").json()
        assert (me["name"], me["role"]) == ("mia", "maintainer") and "aliases.production" in me["permissions"]
        refused = api.get("/audit")
        assert refused.status_code == 403 and "'audit.read'" in error_of(refused)["message"]
    with live.client("root") as admin:
        events = admin.get("/audit", params={"user": "mia", "since": "1h"}).json()["events"]
    assert [(e["actor"], e["result"], e["status_code"]) for e in events] == [("mia", "forbidden", 403)]


def test_route_rules_cover_every_route(live: Fixture) -> None:
    app = create_app(Settings(home=live.home), store=live.store, auth_enabled=True)
    for template in RouteIndex(app.routes).templates:
        for method in template.methods or ():
            rule = rule_for(method, template.path)
            assert rule.permission.value != "server.admin", (method, template.path)


def test_production_alias_moves_need_maintainers() -> None:
    for template in ("/api/v1/models/{model_name}/aliases/{alias}", "/api/v1/models/{name}/aliases/{alias}"):
        rule = rule_for("PUT", template)
        assert rule.target is not None and rule.target.kind == "model" and rule.alias_field == "alias"
    from loopml.server._security import _effective_permission

    rule = rule_for("PUT", "/api/v1/models/{name}/aliases/{alias}")
    assert _effective_permission(rule, {"alias": "Production"}, None).value == "aliases.production"
    assert _effective_permission(rule, {"alias": "staging"}, None).value == "models.write"
    mlflow = rule_for("POST", "/api/2.0/mlflow/registered-models/alias")  # the alias is in the body
    assert _effective_permission(mlflow, {}, {"name": "m", "alias": "champion"}).value == "aliases.production"
    assert rule_for("POST", "/api/v1/unknown/thing").permission.value == "server.admin"  # closed by default


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, rate_limits={"viewer": {"read": {"rate": 0.01, "burst": 3}}})
    with open_store(settings.resolved_store_url()) as store:
        auth = AuthService(store)
        auth.create_user("vi", role=Role.VIEWER)
        token = auth.create_token("vi")[1]
    with (
        serve_in_thread(settings, auth_enabled=True) as url,
        httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {token}"}) as api,
    ):
        codes = [api.get("/experiments").status_code for _ in range(5)]
        limited = api.get("/experiments")
    assert codes == [200, 200, 200, 429, 429]
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert error_of(limited)["code"] == "rate_limited"


@pytest.mark.slow
def test_burst_of_ten_thousand_requests_is_bounded(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, rate_limits={"viewer": {"read": {"rate": 0.01, "burst": 50}}})
    with open_store(settings.resolved_store_url()) as store:
        auth = AuthService(store)
        auth.create_user("vi", role=Role.VIEWER)
        token = auth.create_token("vi")[1]
    counts: dict[int, int] = {}
    lock = threading.Lock()

    def hammer(url: str) -> None:
        with httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {token}"}) as api:
            for _ in range(1250):
                code = api.get("/experiments").status_code
                with lock:
                    counts[code] = counts.get(code, 0) + 1

    with serve_in_thread(settings, auth_enabled=True) as url:
        threads = [threading.Thread(target=hammer, args=(url,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert counts == {200: 50, 429: 9950}


def test_without_auth_requests_act_as_the_local_admin(tmp_path: Path) -> None:
    with (
        serve_in_thread(Settings(home=tmp_path), auth_enabled=False) as url,
        httpx.Client(base_url=url + "/api/v1") as api,
    ):
        assert api.get("/whoami").json()["name"] == "local"
        created = api.post("/experiments", json={"name": "open"})
        assert created.status_code == 201
        run_id = api.post("/runs", json={"experiment_id": created.json()["experiment_id"]}).json()["run_id"]
        for step in range(2):  # decided on the event loop once the run's experiment is remembered
            metric = {"run_id": run_id, "key": "m", "value": step, "timestamp": 1, "step": step}
            assert api.post(url + "/api/2.0/mlflow/runs/log-metric", json=metric).status_code == 200
        assert api.get(f"/runs/{run_id}").json()["metrics"] == {"m": 1.0}
    with open_store(Settings(home=tmp_path).resolved_store_url()) as store:
        events = store.identity.list_audit_events()
    assert [(e.actor, e.action, e.result, e.status_code, e.target) for e in events] == [
        *[("local", rule_for("POST", "/api/2.0/mlflow/runs/log-metric").action, "ok", 200, f"run:{run_id}")]
        * 2,
        ("local", "runs.create", "ok", 201, f"experiment:{created.json()['experiment_id']}"),
        ("local", "experiments.create", "ok", 201, "experiment_name:open"),
    ]


@pytest.mark.parametrize(
    "content",
    [b"[" * 100_000, b"\xff\xfe not utf-8", b'{"name": ', b'"just a string"', b"x" * (2 * 1024 * 1024)],
)
def test_bad_bodies_on_inspected_routes_get_4xx(live: Fixture, content: bytes) -> None:
    before = snapshot(live.home)
    with live.client("ed") as api:
        for path in ("/experiments", "/runs", "/experiments/get-or-create"):
            response = api.post(path, content=content, headers={"content-type": "application/json"})
            assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
            assert "error" in response.json()
    assert snapshot(live.home) == before


def test_bodies_are_not_read_before_authentication(live: Fixture) -> None:
    big = b'{"experiment_id": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = httpx.post(
        live.url + "/api/v1/runs", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 401  # refused on the header alone, before the 2 MiB body


def test_read_only_searches_are_not_audited(live: Fixture) -> None:
    with live.client("ed") as api:
        experiment = api.post("/experiments", json={"name": "searched-not-audited"}).json()
        before = len(live.store.identity.list_audit_events(actor="ed", limit=10_000))
        body = {"experiment_ids": [experiment["experiment_id"]]}
        for _ in range(3):
            assert api.post("/runs/search", json=body).status_code == 200
    after = live.store.identity.list_audit_events(actor="ed", limit=10_000)
    assert len(after) == before


def test_a_mutation_is_never_kept_without_its_audit_row(
    live: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live.client("ed") as api:
        experiment = api.post("/experiments", json={"name": "audit-or-nothing"}).json()
        run_id = api.post("/runs", json={"experiment_id": experiment["experiment_id"]}).json()["run_id"]
        before = len(live.store.identity.list_audit_events(limit=10_000))

        def unwritable(conn: object, values: object) -> None:
            raise RuntimeError("the audit table cannot be written")

        monkeypatch.setattr("loopml.store._identity._insert_audit_event", unwritable)
        response = api.post(f"/runs/{run_id}/log-batch", json={"params": {"kept": "no"}})
        monkeypatch.undo()
        assert response.status_code == 500, response.text
    assert live.store.runs.get(run_id).params == {}  # rolled back with its row
    assert len(live.store.identity.list_audit_events(limit=10_000)) == before


def test_a_handler_failing_after_its_write_leaves_one_row_with_its_answer(live: Fixture) -> None:
    mlflow = httpx.Client(
        base_url=live.url + "/api/2.0/mlflow", headers={"Authorization": f"Bearer {live.tokens['ed']}"}
    )
    with live.client("ed") as api, mlflow:
        experiment = api.post("/experiments", json={"name": "half-updated"}).json()
        run_id = api.post("/runs", json={"experiment_id": experiment["experiment_id"]}).json()["run_id"]
        for status in ("RUNNING", "NOT-A-STATUS"):  # the second renames the run, then fails on its status
            answer = mlflow.post(
                "/runs/update", json={"run_id": run_id, "run_name": status, "status": status}
            )
        assert answer.status_code == 400, answer.text
        renamed = mlflow.get("/runs/get", params={"run_id": run_id}).json()["run"]["info"]["run_name"]
        assert renamed == "NOT-A-STATUS"  # the rename was committed before the status was refused
    action = rule_for("POST", "/api/2.0/mlflow/runs/update").action
    events = live.store.identity.list_audit_events(actor="ed", action=action, limit=10)
    assert [(e.status_code, e.result, e.target) for e in events] == [
        (400, "failed", f"run:{run_id}"),
        (200, "ok", f"run:{run_id}"),
    ]
