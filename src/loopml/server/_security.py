"""The server's security layer: authentication, rate limits, authorisation and audit, in one place.

How the app factory installs it (S: this is the seam)::

    from loopml.server._security import SecurityLayer

    layer = SecurityLayer.from_settings(store, settings, auth_enabled=auth_enabled)
    app = FastAPI(...)              # or Starlette
    ...                             # add every route (with path templates, see below)
    app.include_router(layer.router())   # optional: /api/v1/whoami, /api/v1/audit (admins)
    layer.install(app)              # adds SecurityMiddleware; call it LAST so it runs FIRST

What the app must do:

* Register routes with Starlette/FastAPI path templates (``/api/v1/runs/{run_id}/metrics``); on
  the first request the middleware compiles every template of ``app.routes`` (FastAPI's included
  routers too) and matches each request itself, so it knows the template and its path
  parameters before any handler runs. Name path parameters after what they hold:
  ``experiment_id``, ``run_id``, ``execution_id``, ``model_name`` (or ``name`` under
  ``/models``), ``dataset`` (or ``name`` under ``/datasets``), ``alias``. A run and an execution
  are authorised through the experiment they belong to (an execution through its run; one of no
  run is open, like any record of no run), and so is an MLflow trace (target kind ``trace``).
  :func:`rule_for` turns (method, template) into the permission, the target resource and the
  rate-limit class; :data:`ROUTE_RULES` lists the
  routes whose rule is not the default one (POST searches that only read, uploads, alias moves,
  admin routes). A test asserts every route of the app gets a rule.
* Put a target that is not in the path in the JSON body under the field named in
  :data:`ROUTE_RULES` (``experiment_id`` for ``POST /api/v1/runs``, ``name`` for
  ``POST /api/v1/models``, ``run_id`` for ``POST /api/v1/artifacts`` and ``/executions``); a rule
  may name further targets (:attr:`Rule.also`: the ``run_id`` a model version is registered
  from, the ``parent_run_id`` of a new run), each checked like the first. Only those routes
  have their body read here (at most the server's JSON body limit, then replayed unchanged to
  the handler).
* Handlers read the caller with :func:`principal_of(request) <principal_of>` (for
  ``created_by`` / alias ``actor`` fields); they never check permissions themselves.
* ``/healthz`` and ``/readyz`` are open; everything else (the OpenAPI document included) needs
  ``Authorization: Bearer <token>`` when ``auth_enabled``. Without auth every request acts as the
  local admin (loopback only), is not rate-limited, and mutations are still audited (actor
  ``local``).
* Install :class:`~loopml.server._security_middleware.SecurityMiddleware` outside the body-limit
  middleware (so refused requests are answered before any body is read) and preferably inside the
  security-headers middleware; its own error responses carry ``nosniff`` and ``no-store`` either way.
* Listings (``GET /experiments``, ``/datasets``, ``/artifacts``, ``/models``) hide restricted
  resources the caller holds no grant on: their handlers filter through
  :func:`~loopml.server._visibility.visibility_of` (:class:`~loopml.server._visibility.Visibility`
  decides, in one place; this layer builds it from the caller's grants).
* Lineage names records by id outside the path (events, context members, the walk's nodes), so
  its handlers filter through the same :class:`~loopml.server._visibility.Visibility`: hidden
  artifacts and executions of hidden runs are left out of ``GET /events``, context listings and
  ``GET /lineage/{node_id}`` (never stepped through), and linking one (events, context
  attachments, a model version's Blessing) answers 404 in the words of a missing record.
* Content-addressed blob reads (``GET /blobs/{sha256}``) name no resource in the path, so the
  handler asks :meth:`~loopml.server._visibility.Visibility.shows_blob`: the caller must see at
  least one artifact holding the blob's bytes — a record with that hash, or a dataset version /
  model version whose index blob lists it (:mod:`loopml.server._blob_referrers`). A blob only
  hidden resources reference answers 404 exactly like a missing one.
* Recording an artifact that holds a stored blob (``POST /artifacts``, or a model version built
  from a files map, ``POST /models/{name}/versions``) is a claim on the blob's bytes, so the
  handler asks :meth:`~loopml.server._visibility.Visibility.may_claim_blob` of every hash: the
  caller must already read the blob or have uploaded it (proof of possession, kept by
  :func:`record_upload` when ``PUT /blobs`` stores it); a refused claim answers 404 as a missing
  blob, so knowing a hash is not enough to read the bytes.

Responses made here: 401 ``{"error": {"code": "unauthorized", ...}}`` with
``WWW-Authenticate: Bearer``; 403 ``{"error": {"code": "forbidden", ...}}`` naming the missing
permission and the resource; 429 ``{"error": {"code": "rate_limited", ...}}`` with
``Retry-After`` (whole seconds); 413 when an inspected body is too large. Every mutating request
(POST/PUT/PATCH/DELETE that is not a read-only search) and every 401/403 is written to the audit
log with who, action, target, client address, result and status code, committed before the answer
leaves; a mutation's row is committed by the mutation's own transaction (:meth:`SecurityLayer.audit_rider`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any, Protocol, runtime_checkable

import anyio.to_thread
from fastapi import APIRouter, Query
from starlette.middleware import Middleware
from starlette.requests import Request

from loopml.config import Settings
from loopml.data.versions import DATASET_TYPE
from loopml.errors import Forbidden, LoopmlError, Unauthorized
from loopml.security.audit import AuditLog
from loopml.security.auth import (
    LOCAL_PRINCIPAL,
    PRODUCTION_ALIASES,
    AuthService,
    GrantLevel,
    IdentityStore,
    Permission,
    Principal,
    Resource,
    ResourceKind,
    permissions_of,
)
from loopml.security.ratelimit import EndpointClass, InProcessLimiter, RateLimiter, rate_limiter_from_settings
from loopml.server._blob_referrers import IndexCache
from loopml.server._route_rules import API, MUTATING_METHODS, ROUTE_RULES, Rule, Target, rule_for
from loopml.server._security_middleware import MAX_INSPECTED_BODY, STATE_PRINCIPAL, SecurityMiddleware
from loopml.server._visibility import EVERYTHING, STATE_VISIBILITY, Visibility
from loopml.server.mlflow.basic_auth import BasicAuthenticator
from loopml.store import missing_dataset, missing_experiment, missing_model
from loopml.store.entities import AuditEvent, every_item
from loopml.store.repositories import ModelRepository, TraceRepository
from loopml.store.riders import Rider
from loopml.web.audit import record_request
from loopml.web.authentication import bearer_challenge, split_authorization
from loopml.web.rate_limits import retry_after_headers, retry_after_seconds

__all__ = [
    "OPEN_PATHS",
    "ROUTE_RULES",
    "Rule",
    "SecurityLayer",
    "Target",
    "principal_of",
    "record_upload",
    "require",
    "rule_for",
]


_log = logging.getLogger(__name__)

OPEN_PATHS: frozenset[str] = frozenset({"/healthz", "/readyz"})
#: Most audit events one ``GET /api/v1/audit`` returns (the audit log's own cap).
MAX_AUDIT_PAGE = 10_000
#: Attribute of ``app.state`` holding the installed :class:`SecurityLayer`.
STATE_LAYER = "security_layer"
#: Run → experiment ids (and execution → run ids) remembered to authorise run and execution
#: routes without loading the run (or the execution) each time.
RUN_CACHE_SIZE = 100_000


@runtime_checkable
class _ModelStore(Protocol):
    """A store holding the model registry (the SQL store does)."""

    @property
    def models(self) -> ModelRepository: ...


@runtime_checkable
class _TraceStore(Protocol):
    """A store holding traces (the SQL store does)."""

    @property
    def traces(self) -> TraceRepository: ...


#: Target kinds whose key is the resource's own (no lookup needed to authorise it).
_KEYED_KINDS = frozenset({"experiment", "model", "dataset"})
#: Target kinds that name a resource by its name; a hidden one answers reads as missing.
_NAMED_KINDS = frozenset({"experiment_name", "model", "dataset"})
_MISSING: Mapping[str, Callable[[str], LoopmlError]] = {
    "experiment_name": lambda name: missing_experiment(name=name),
    "model": missing_model,
    "dataset": missing_dataset,
}


def principal_of(request: Request) -> Principal:
    """The caller of ``request`` as set by the middleware (the local admin without auth)."""
    principal = request.scope.get("state", {}).get(STATE_PRINCIPAL)
    return principal if isinstance(principal, Principal) else LOCAL_PRINCIPAL


def record_upload(request: Request, sha256: str) -> None:
    """Remember that the caller of ``request`` uploaded the blob ``sha256`` (its proof of possession).

    Nothing is recorded without the security layer or for a caller that is no user (the local
    admin of a server without auth). Sync: call it from a worker thread.
    """
    layer = getattr(request.app.state, STATE_LAYER, None)
    user_id = principal_of(request).user_id
    if isinstance(layer, SecurityLayer) and user_id is not None:
        layer.store.identity.record_upload(user_id, sha256)


def require(request: Request, permission: Permission, resource: Resource | None = None) -> None:
    """Check one more permission that depends on stored state (e.g. what a version's aliases are).

    The route's own rule was checked before the handler ran; this covers the rare request whose
    needs only the stored data reveals (force-archiving a version that holds a production alias).

    Raises:
        Forbidden: naming the permission and the resource.
    """
    layer = getattr(request.app.state, STATE_LAYER, None)
    if isinstance(layer, SecurityLayer):
        layer.auth.authorize(principal_of(request), permission, resource)


@dataclass(slots=True, kw_only=True)
class _Verdict:
    """What the layer decided about one request before the app sees it."""

    principal: Principal | None = None
    rule: Rule | None = None
    target: str | None = None
    status: int = 200
    code: str = ""
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    audit: bool = False
    #: The target this request creates (kind, key); its creator gets a grant once it succeeded.
    creates: tuple[str, str] | None = None


_DATE = "[1-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
_CLOCK = "(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]{1,6})?)?"
#: What ``GET /audit?since=`` takes: a duration ago or an ISO 8601 time (days 29 to 31 aside,
#: which not every month has).
SINCE_PATTERN = (
    f"^(?:[1-9][0-9]{{0,7}}[smhdwSMHDW]|{_DATE}(?:T{_CLOCK}(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?)?)$"
)


class SecurityLayer:
    """Authentication, rate limits, authorisation and audit for the platform server.

    Args:
        store: The SQL store (``store.identity`` for users and tokens, ``store.runs`` to find the
            experiment of a run).
        settings: Server settings (token pepper, rate limits).
        auth_enabled: When False every request acts as the local admin (loopback servers only);
            rate limits and audit still apply.
        limiter: Rate limiter (default from settings: Redis when ``redis_url`` is set).
        audit: Audit log (default: the store's).
        open_paths: Paths served without authentication.
        auth: The identity service (the app factory passes ``Services.auth``, which carries the
            token pepper; default: one over ``store`` with ``settings.token_pepper``).
    """

    def __init__(
        self,
        store: IdentityStore,
        settings: Settings,
        *,
        auth_enabled: bool,
        limiter: RateLimiter | None = None,
        audit: AuditLog | None = None,
        open_paths: Iterable[str] = OPEN_PATHS,
        auth: AuthService | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.auth_enabled = auth_enabled
        pepper = settings.token_pepper.get_secret_value() if settings.token_pepper else None
        ungranted = settings.ungranted_access
        self.auth = auth if auth is not None else AuthService(store, pepper=pepper, ungranted=ungranted)
        self.basic = BasicAuthenticator(self.auth)  # MLflow clients: user + token as password
        self.limiter = limiter if limiter is not None else rate_limiter_from_settings(settings)
        self.audit = audit if audit is not None else AuditLog(store)
        self.open_paths = frozenset(open_paths)
        self._run_experiments: OrderedDict[str, str] = OrderedDict()
        self._execution_runs: OrderedDict[str, str] = OrderedDict()
        self._logged_model_runs: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        self._index_cache = IndexCache()

    @classmethod
    def from_settings(cls, store: IdentityStore, settings: Settings, *, auth_enabled: bool) -> SecurityLayer:
        """The layer with its limiter and audit log built from ``settings``."""
        return cls(store, settings, auth_enabled=auth_enabled)

    def middleware(self) -> Middleware:
        """The middleware entry for ``Starlette(middleware=[...])`` / ``FastAPI(middleware=[...])``."""
        return Middleware(SecurityMiddleware, layer=self)

    def install(self, app: Any, *, max_body_bytes: int = MAX_INSPECTED_BODY) -> None:
        """Add :class:`SecurityMiddleware` to a Starlette/FastAPI ``app`` (outermost so far).

        The layer is also kept on ``app.state`` for :func:`require`, :func:`record_upload` and
        :func:`~loopml.server._visibility.visibility_of`.

        Args:
            app: The application.
            max_body_bytes: Largest JSON body read to find a target in it (the app's own JSON
                body limit, so no request the app would take is refused here).
        """
        setattr(app.state, STATE_LAYER, self)
        setattr(app.state, STATE_VISIBILITY, self)
        app.add_middleware(SecurityMiddleware, layer=self, max_body_bytes=max_body_bytes)

    def visibility(self, principal: Principal) -> Visibility:
        """What ``principal`` may see in listings (admins and the local admin: everything)."""
        if principal.is_admin or not self.auth_enabled:
            return EVERYTHING
        hidden: dict[ResourceKind, frozenset[str]] = {}
        hides_ungranted = not self.auth.ungranted.allows(Permission.READ, role=principal.role)
        for kind in ResourceKind:
            grants = self.store.identity.list_grants(resource_kind=kind.value)
            restricted = {g.resource for g in grants if GrantLevel(g.level).restricts}
            if hides_ungranted:  # ungranted_access 'none': everything not granted to the caller
                restricted |= self._every_key(kind)
            mine = {g.resource for g in grants if g.user_name == principal.name}
            hidden[kind] = frozenset(restricted - mine)
        uploaded = (
            None
            if principal.user_id is None
            else partial(self.store.identity.has_uploaded, principal.user_id)
        )
        return Visibility(
            hidden,
            self._experiment_of_run,
            self._index_cache,
            uploaded,
            run_of_execution=self._run_of_execution,
        )

    def visibility_for(self, request: Request) -> Visibility:
        """What the caller of ``request`` may see (:class:`~loopml.server._visibility.VisibilitySource`)."""
        return self.visibility(principal_of(request))

    def router(self) -> APIRouter:
        """Routes this layer serves itself: ``GET /api/v1/whoami`` and ``GET /api/v1/audit`` (admins).

        Their permissions come from :data:`ROUTE_RULES` like every other route's.
        """
        router = APIRouter(tags=["security"])
        audit = self.audit

        @router.get(f"{API}/whoami")
        def whoami(request: Request) -> dict[str, Any]:
            principal = principal_of(request)
            return {
                "name": principal.name,
                "role": principal.role.value,
                "token_id": principal.token_id,
                "permissions": sorted(p.value for p in permissions_of(principal.role)),
            }

        @router.get(f"{API}/audit")
        def list_audit(
            user: Annotated[str | None, Query(max_length=1_000)] = None,
            since: Annotated[
                str | None,
                Query(
                    pattern=SINCE_PATTERN,
                    description="A duration ago (`1h`, `7d`; unit s, m, h, d or w) or a UTC time "
                    "(`2026-11-28T09:00:00Z`, an offset such as `+02:00`, or none for UTC).",
                ),
            ] = None,
            action: Annotated[str | None, Query(max_length=1_000)] = None,
            limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_PAGE)] = 100,
        ) -> dict[str, Any]:
            events = audit.list(user=user, since=since, action=action, limit=limit)
            return {"events": [dataclasses.asdict(e) for e in events]}

        return router

    # --- decisions (sync, run in a worker thread) ---

    def decide(
        self,
        *,
        method: str,
        template: str | None,
        path_params: Mapping[str, Any],
        body: Any,
        authorization: str | None,
        client: str | None,
    ) -> _Verdict:
        """Authenticate, rate-limit and authorise one request (no response is sent here)."""
        verdict = self.admit(method=method, template=template, authorization=authorization, client=client)
        if verdict.status >= 400:
            return verdict
        return self.authorize(verdict, path_params=path_params, body=body)

    def admit(
        self, *, method: str, template: str | None, authorization: str | None, client: str | None
    ) -> _Verdict:
        """Authenticate and rate-limit (before any request body is read)."""
        rule = rule_for(method, template) if template is not None else None
        # Read-only POST searches are not audited (their rule says so); an unmatched path is if its
        # method could mutate.
        audited = rule.mutates if rule is not None else method in MUTATING_METHODS
        verdict = _Verdict(rule=rule, audit=audited)
        try:
            principal = self._authenticate(authorization)
        except Unauthorized as err:
            limited = self.limiter.check(
                f"client:{client}", role=None, endpoint_class=EndpointClass.AUTH_FAILURE
            )
            if not limited.allowed:
                return _too_many(verdict, limited.retry_after_s, audit=False)
            return _fail(
                verdict,
                401,
                "unauthorized",
                str(err),
                audit=True,
                headers={"WWW-Authenticate": bearer_challenge(authorization)},
            )
        verdict.principal = principal
        if self.auth_enabled:  # limits are per token; a loopback server without auth has none
            endpoint_class = rule.endpoint_class if rule is not None else EndpointClass.READ
            limited = self.limiter.check(
                principal.rate_key, role=principal.role, endpoint_class=endpoint_class
            )
            if not limited.allowed:
                return _too_many(verdict, limited.retry_after_s, audit=False)
        return verdict

    def authorize(self, verdict: _Verdict, *, path_params: Mapping[str, Any], body: Any) -> _Verdict:
        """Check the admitted caller's permission on the request's targets (403 when refused).

        A resource named in the path by its name (an experiment by name, a model, a dataset) that
        the caller may not read answers a read with 404 in the words of a missing one, and never
        reveals an id.
        """
        rule, principal = verdict.rule, verdict.principal
        if rule is None or principal is None:  # no route matched: the app answers 404/405
            return verdict
        permission = _effective_permission(rule, path_params, body)
        checks: list[tuple[Target, str, Resource | None]] = []
        shown: list[str] = []
        for target in (rule.target, *rule.also):
            if target is not None:
                keys = _keys(target, path_params, body)
                shown += [f"{target.kind}:{k}" for k in keys]
                checks += [(target, k, self._resource(target, k)) for k in keys]
        verdict.target = ",".join(shown) or None
        resources: list[tuple[Target, str, Resource]] = []
        for target, key, resource in checks:
            if target is rule.target and rule.creates and not self._exists(target, resource):
                verdict.creates = (target.kind, key)  # a new resource: the role decides
            elif resource is not None:
                resources.append((target, key, resource))
        try:
            if not resources:
                self.auth.authorize(principal, permission, None)
        except Forbidden as err:
            return _fail(verdict, 403, "forbidden", str(err), audit=True)
        for target, key, resource in resources:
            needed = Permission.READ if target is rule.target and rule.reads_existing else permission
            try:
                self.auth.authorize(principal, needed, resource)
            except Forbidden as err:
                return self._refused(verdict, principal, needed, (target, key, resource), err)
        return verdict

    # --- the same decisions on the event loop, when they need nothing stored or remote ---

    def admit_inline(
        self, *, method: str, template: str | None, authorization: str | None, client: str | None
    ) -> _Verdict | None:
        """:meth:`admit`, when it reads nothing stored or remote; None otherwise (call it in a worker thread).

        That is on a server without authentication, or for HTTP Basic credentials (MLflow
        clients) verified moments ago when rate limits are kept in this process. Bearer tokens
        are looked up in the store each time, and limits kept in Redis are remote.
        """
        if self.auth_enabled:
            if not isinstance(self.limiter.backend, InProcessLimiter):
                return None
            scheme, credentials = split_authorization(authorization)
            if scheme != "basic" or not credentials or not self.basic.remembers(credentials):
                return None
        return self.admit(method=method, template=template, authorization=authorization, client=client)

    def authorize_inline(
        self, verdict: _Verdict, *, path_params: Mapping[str, Any], body: Any
    ) -> _Verdict | None:
        """:meth:`authorize`, when it reads nothing stored; None otherwise (call it in a worker thread).

        That is when the role alone decides (the rule names no target, or the request names
        none), or the caller is an admin (grants do not restrict admins) and every target is
        known without the store: an experiment, model or dataset named in the request, or a run
        (an execution, a logged model) whose experiment is remembered. The decision is
        :meth:`authorize`'s own either way.
        """
        if self._needs_store(verdict, path_params, body):
            return None
        return self.authorize(verdict, path_params=path_params, body=body)

    def _needs_store(self, verdict: _Verdict, path_params: Mapping[str, Any], body: Any) -> bool:
        rule, principal = verdict.rule, verdict.principal
        if rule is None or principal is None:
            return False  # no route matched: nothing to decide
        named = [
            (target, key)
            for target in (rule.target, *rule.also)
            if target is not None
            for key in _keys(target, path_params, body)
        ]
        if not named:
            return False  # the role alone decides
        if rule.creates or not principal.is_admin:  # whether it exists, the caller's grants: stored
            return True
        return not all(self._remembers(target.kind, key) for target, key in named)

    def _remembers(self, kind: str, key: str) -> bool:
        """Whether the resource of a target is known without reading the store."""
        if kind in _KEYED_KINDS:
            return True
        with self._lock:
            if kind == "run":
                return key in self._run_experiments
            runs = {"execution": self._execution_runs, "logged_model": self._logged_model_runs}.get(kind)
            run_id = runs.get(key) if runs is not None else None
            return run_id is not None and (run_id == "" or run_id in self._run_experiments)

    def _refused(
        self,
        verdict: _Verdict,
        principal: Principal,
        permission: Permission,
        refused: tuple[Target, str, Resource],
        err: Forbidden,
    ) -> _Verdict:
        """The answer to a refused target: 404 as missing for a hidden one named by its name."""
        target, key, resource = refused
        if target.kind not in _NAMED_KINDS or self.auth.may_read(principal, resource):
            return _fail(verdict, 403, "forbidden", str(err), audit=True)
        if verdict.rule is not None and not verdict.rule.mutates:  # a read: answered as missing
            missing = _MISSING[target.kind](key)
            return _fail(verdict, 404, "not_found", str(missing), audit=True)
        if target.kind == "experiment_name":  # its id is not the caller's to learn
            message = (
                f"Permission '{permission.value}' on the experiment named {key!r} is refused: that "
                f"name is taken by an experiment {principal.name!r} may not see. Choose another name."
            )
            return _fail(verdict, 403, "forbidden", message, audit=True)
        return _fail(verdict, 403, "forbidden", str(err), audit=True)

    def _exists(self, target: Target, resource: Resource | None) -> bool:
        """Whether the resource a creating request names exists already."""
        if resource is None:  # an experiment name that resolves to nothing
            return False
        if resource.kind is ResourceKind.DATASET:
            return self.store.artifacts.find_version(DATASET_TYPE, resource.key) is not None
        if resource.kind is ResourceKind.MODEL and isinstance(self.store, _ModelStore):
            return self.store.models.find_model(resource.key) is not None
        return True

    def _every_key(self, kind: ResourceKind) -> set[str]:
        """Every experiment id, dataset name or model name recorded (for ``ungranted_access='none'``)."""
        if kind is ResourceKind.EXPERIMENT:
            return {e.experiment_id for e in self.store.experiments.list(include_deleted=True)}
        if kind is ResourceKind.DATASET:
            fetch = partial(self.store.artifacts.list, type=DATASET_TYPE)
            return {a.name for a in every_item(lambda token: fetch(page_token=token))}
        if isinstance(self.store, _ModelStore):
            models = self.store.models
            return {m.name for m in every_item(lambda token: models.search_models(page_token=token))}
        return set()

    def grant_creator(self, verdict: _Verdict) -> None:
        """Give the caller an ``owner`` grant on what its successful request created."""
        if verdict.creates is None or verdict.principal is None:
            return
        kind, key = verdict.creates
        if kind == "experiment_name":
            found = self.store.experiments.find_by_name(key)
            if found is None:
                return
            resource = Resource(kind=ResourceKind.EXPERIMENT, key=found.experiment_id)
        else:
            resource = Resource(kind=ResourceKind(kind), key=key.split("@", 1)[0])
        self.auth.grant_creator(verdict.principal, resource)

    def _authenticate(self, authorization: str | None) -> Principal:
        if not self.auth_enabled:
            return LOCAL_PRINCIPAL
        if not authorization:
            raise Unauthorized(
                "This server requires a token: send 'Authorization: Bearer <token>' "
                "(create one with `loopml tokens create --user NAME`)."
            )
        scheme, credentials = split_authorization(authorization)
        if scheme == "basic" and credentials:
            return self.basic.authenticate(credentials)
        if scheme != "bearer" or not credentials:
            raise Unauthorized(
                "The Authorization header must be 'Bearer <token>' (or HTTP Basic with a token as "
                "password); got another scheme or no token."
            )
        return self.auth.authenticate(credentials)

    def _experiment_of_run(self, run_id: str) -> str | None:
        """The run's experiment id (cached: a run never changes experiment), None if unknown."""
        return self._remembered(
            self._run_experiments, run_id, lambda: self.store.runs.get(run_id).experiment_id
        )

    def _run_of_execution(self, execution_id: str) -> str | None:
        """The execution's run id, ``""`` when it has none (cached: it never changes), None if unknown."""
        return self._remembered(
            self._execution_runs,
            execution_id,
            lambda: self.store.lineage.get_execution(execution_id).run_id or "",
        )

    def _remembered(self, cache: OrderedDict[str, str], key: str, load: Callable[[], str]) -> str | None:
        """``cache[key]``, loaded once (an unknown record, whose lookup fails, is not remembered)."""
        with self._lock:
            cached = cache.get(key)
        if cached is not None:
            return cached
        try:
            value = load()
        except LoopmlError:
            return None  # the handler answers 404 for an unknown record
        with self._lock:
            cache[key] = value
            if len(cache) > RUN_CACHE_SIZE:
                cache.popitem(last=False)
        return value

    def _run_of_logged_model(self, model_id: str) -> str | None:
        """The source run of an MLflow logged model (``m-<artifact id>``; cached), None if unknown."""
        return self._remembered(
            self._logged_model_runs,
            model_id,
            lambda: self.store.artifacts.get(model_id.removeprefix("m-")).run_id or "",
        )

    def _experiment_of_trace(self, trace_id: str) -> str | None:
        """The trace's experiment id, None if unknown (not cached: a deleted trace's id may come back)."""
        if not isinstance(self.store, _TraceStore):
            return None
        return self.store.traces.find_experiment_id(trace_id)

    def _resource(self, target: Target, key: str) -> Resource | None:
        if target.kind == "trace":  # a trace is read and written under its experiment's grants
            experiment_id = self._experiment_of_trace(key)
            return (
                None if experiment_id is None else Resource(kind=ResourceKind.EXPERIMENT, key=experiment_id)
            )
        if target.kind in ("run", "execution", "logged_model"):
            run_of = {"run": lambda k: k, "execution": self._run_of_execution}
            run_id = run_of.get(target.kind, self._run_of_logged_model)(key)
            experiment_id = self._experiment_of_run(run_id) if run_id else None  # no run: open
            return (
                None if experiment_id is None else Resource(kind=ResourceKind.EXPERIMENT, key=experiment_id)
            )
        if target.kind == "experiment_name":
            try:
                found = self.store.experiments.find_by_name(key)
            except LoopmlError:
                return None
            return None if found is None else Resource(kind=ResourceKind.EXPERIMENT, key=found.experiment_id)
        if target.kind == "dataset":
            key = key.split("@", 1)[0]  # a dataset ref: name@version
        return Resource(kind=ResourceKind(target.kind), key=key)

    async def record(
        self, verdict: _Verdict, *, method: str, path: str, client: str | None, status: int
    ) -> None:
        """Write the audit row of a finished request (errors are logged, never raised)."""
        await record_request(
            self.audit, status_code=status, **self._audit_fields(verdict, method, path, client)
        )

    def audit_rider(
        self, verdict: _Verdict, *, method: str, path: str, client: str | None, status: int
    ) -> Rider:
        """The audit row of an admitted request, to commit with the request's first write.

        ``status`` is the answer expected (:meth:`settle` makes the row say the real one). See
        :meth:`AuditLog.rider <loopml.security.audit.AuditLog.rider>`.
        """
        fields = self._audit_fields(verdict, method, path, client)
        return self.audit.rider(status_code=status, **fields)

    async def settle(
        self,
        rider: Rider,
        verdict: _Verdict,
        *,
        method: str,
        path: str,
        client: str | None,
        status: int,
    ) -> None:
        """Make the request's audit row say ``status`` once it is answered (errors logged, never raised).

        A request that wrote nothing has its row written now, as :meth:`record` does; one whose
        write carried the row keeps it, with its status corrected when the answer is not the one
        expected (a handler that failed after writing).
        """
        taken = rider.try_take()
        if taken is None:  # a write carrying the row is still running: wait for it elsewhere
            taken = await anyio.to_thread.run_sync(rider.take)
        if taken:
            await self.record(verdict, method=method, path=path, client=client, status=status)
            return
        event: AuditEvent = rider.result
        if event.status_code == status:
            return
        try:
            await anyio.to_thread.run_sync(partial(self.audit.set_outcome, event, status))
        except Exception:
            _log.exception("Could not set the status of audit event %s to %s", event.event_id, status)

    @staticmethod
    def _audit_fields(verdict: _Verdict, method: str, path: str, client: str | None) -> dict[str, Any]:
        rule = verdict.rule
        principal = verdict.principal
        details: dict[str, Any] = {"method": method, "path": path}
        if principal is not None and principal.token_id:
            details["token_id"] = principal.token_id
        if verdict.message:
            details["message"] = verdict.message
        return {
            "actor": principal.name if principal is not None else None,
            "action": rule.action if rule is not None else f"{method.lower()} {path}",
            "target": verdict.target,
            "client": client,
            "details": details,
        }


def _keys(target: Target, path_params: Mapping[str, Any], body: Any) -> list[str]:
    """The keys a target names: one path parameter, or a body field holding a string or a list.

    A dotted body field names a field nested in objects (``trace.trace_info.experiment_id``).
    """
    value: Any = body if target.in_body else path_params
    for name in target.field.split(".") if target.in_body else (target.field,):
        value = value.get(name) if isinstance(value, Mapping) else None
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return [v for v in values if isinstance(v, str) and v]


def _effective_permission(rule: Rule, path_params: Mapping[str, Any], body: Any) -> Permission:
    if rule.alias_field is not None:
        alias = path_params.get(rule.alias_field)
        if alias is None and isinstance(body, Mapping):  # the MLflow API names it in the body
            alias = body.get(rule.alias_field)
        aliases = alias if isinstance(alias, list) else [alias]  # a repeated query parameter
        if any(isinstance(a, str) and a.lower() in PRODUCTION_ALIASES for a in aliases):
            return Permission.ALIASES_PRODUCTION
    return rule.permission


def _fail(
    verdict: _Verdict,
    status: int,
    code: str,
    message: str,
    *,
    audit: bool,
    headers: dict[str, str] | None = None,
) -> _Verdict:
    verdict.status, verdict.code, verdict.message = status, code, message
    verdict.audit = audit
    verdict.headers = headers or {}
    return verdict


def _too_many(verdict: _Verdict, retry_after_s: float, *, audit: bool) -> _Verdict:
    seconds = retry_after_seconds(retry_after_s)
    return _fail(
        verdict,
        429,
        "rate_limited",
        f"Too many requests; retry after {seconds} s (limits are per token and endpoint class).",
        audit=audit,
        headers=retry_after_headers(retry_after_s),
    )
