"""What a caller may see: :class:`Visibility` hides restricted resources it holds no grant on.

The security layer (:mod:`loopml.server._security`) builds one per request from the caller's
grants; handlers ask :func:`visibility_of(request) <visibility_of>` for it and filter through it
listings, blob reads and claims, and lineage (events, contexts, the lineage walk, artifacts
linked into executions or attached as blessings), so this module is the one place that decides
what is shown. A record the caller may not see answers 404 in the very words of a missing one
(:func:`loopml.store.missing_artifact`, :func:`loopml.store.missing_records`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, runtime_checkable

from starlette.requests import Request

from loopml.artifacts import BlobStore
from loopml.deploy.records import Deployment
from loopml.deploy.service import DeploymentService
from loopml.errors import InvalidInput, NotFound
from loopml.registry.uris import parse_model_uri
from loopml.security.auth import ResourceKind
from loopml.server._blob_referrers import BlobReferrers, IndexCache
from loopml.store.entities import Artifact, Event, Execution
from loopml.store.missing import missing_deployment
from loopml.store.repositories import Store

__all__ = [
    "EVERYTHING",
    "STATE_VISIBILITY",
    "Visibility",
    "VisibilitySource",
    "visibility_of",
    "visible_deployment",
]

#: Attribute of ``app.state`` holding the :class:`VisibilitySource` (the installed security layer).
STATE_VISIBILITY = "visibility_source"


class Visibility:
    """Which listed resources a caller may see: restricted ones it holds no grant on are hidden.

    The listing handlers (``GET /experiments``, ``/datasets``, ``/artifacts``, ``/models`` ...)
    filter what they return through :func:`visibility_of`; this is the one place that decides.
    A resource with no grant is open; an admin sees everything; anyone else sees a restricted
    resource only with a grant on it (any level permits reading). An artifact is hidden when its
    run belongs to a hidden experiment, or when it carries the name of a hidden dataset or model
    (dataset versions, statistics, model packages and blessings are named after them). An
    execution is hidden when its run belongs to a hidden experiment (one of no run is open), and
    a lineage event when its execution or its artifact is. A deployment is hidden when it routes
    traffic to a hidden model.

    A caller who sees everything (admins, servers without auth, no grants anywhere) is answered
    without a single lookup.

    Args:
        hidden: Resource kind → keys hidden from the caller (experiment ids, dataset and model names).
        experiment_of_run: Finds the experiment id of a run (None when unknown).
        index_cache: What index blobs list (shared by the server process); a fresh one if None.
        has_uploaded: Whether the caller uploaded a blob, by hash (None: the caller has no uploads).
        run_of_execution: Finds the run id of an execution (``""`` when it has none, None when
            the execution is unknown); the store is asked when None.
    """

    __slots__ = (
        "_experiment_of_run",
        "_has_uploaded",
        "_hidden",
        "_index_cache",
        "_named",
        "_run_of_execution",
    )

    def __init__(
        self,
        hidden: Mapping[ResourceKind, frozenset[str]] | None = None,
        experiment_of_run: Callable[[str], str | None] | None = None,
        index_cache: IndexCache | None = None,
        has_uploaded: Callable[[str], bool] | None = None,
        *,
        run_of_execution: Callable[[str], str | None] | None = None,
    ) -> None:
        self._hidden = {kind: keys for kind, keys in (hidden or {}).items() if keys}
        # Dataset and model artifacts carry the name of their dataset or model.
        self._named = self._hidden.get(ResourceKind.DATASET, frozenset()) | self._hidden.get(
            ResourceKind.MODEL, frozenset()
        )
        self._experiment_of_run = experiment_of_run
        self._index_cache = index_cache
        self._has_uploaded = has_uploaded
        self._run_of_execution = run_of_execution

    @property
    def hides_anything(self) -> bool:
        """Whether any resource is hidden from this caller."""
        return bool(self._hidden)

    def shows(self, kind: ResourceKind, key: str) -> bool:
        """Whether ``kind``/``key`` is visible (a dataset ``name@version`` counts as ``name``)."""
        if kind is ResourceKind.DATASET:
            key = key.split("@", 1)[0]
        return key not in self._hidden.get(kind, frozenset())

    def shows_deployment(self, model_uris: Iterable[str]) -> bool:
        """Whether a deployment routing to ``model_uris`` is visible: one that serves a hidden model is not.

        Deployments carry no grant of their own; their routes, versions, verdicts and monitoring
        name the models they serve, so they are shown to whoever sees every one of those models.
        """
        hidden = self._hidden.get(ResourceKind.MODEL)
        if not hidden:
            return True
        for uri in model_uris:
            try:
                name = parse_model_uri(uri).name
            except InvalidInput:
                continue  # not a registry URI: names no model
            if name in hidden:
                return False
        return True

    def shows_artifact(self, artifact: Artifact) -> bool:
        """Whether an artifact is visible (see the class docstring)."""
        if not self._hidden:
            return True
        if artifact.name in self._named:
            return False
        return self.shows_run(artifact.run_id)

    def shows_run(self, run_id: str | None) -> bool:
        """Whether the records of a run are visible (those of no run, ``None``, always are)."""
        hidden_experiments = self._hidden.get(ResourceKind.EXPERIMENT)
        if run_id is None or not hidden_experiments or self._experiment_of_run is None:
            return True
        return self._experiment_of_run(run_id) not in hidden_experiments

    def shows_execution(self, execution: Execution) -> bool:
        """Whether an execution is visible: one recorded in a run of a hidden experiment is not."""
        return self.shows_run(execution.run_id)

    def visible_events(self, events: Iterable[Event], *, store: Store) -> list[Event]:
        """The lineage events whose execution and artifact the caller both sees, in order.

        Args:
            events: Events as the store lists them.
            store: The metadata store (asked for each distinct artifact and execution, only when
                something is hidden).
        """
        found = list(events)
        if not self._hidden:
            return found
        executions: dict[str, bool] = {}
        artifacts: dict[str, bool] = {}
        shown = []
        for event in found:
            if event.execution_id not in executions:
                executions[event.execution_id] = self._shows_execution_id(event.execution_id, store)
            if executions[event.execution_id] and event.artifact_id not in artifacts:
                artifacts[event.artifact_id] = self._shows_artifact_id(event.artifact_id, store)
            if executions[event.execution_id] and artifacts[event.artifact_id]:
                shown.append(event)
        return shown

    def unseen_artifacts(self, artifact_ids: Iterable[str], *, store: Store) -> list[str]:
        """The artifact ids among ``artifact_ids`` the caller may not see or that do not exist, sorted.

        Empty, without a lookup, when nothing is hidden (the store then reports missing ones).
        Link an artifact (an event, a blessing, a context) only when this is empty, and answer
        otherwise as for missing ids, so a hidden artifact cannot be told from a missing one.
        """
        if not self._hidden:
            return []
        return sorted(i for i in set(artifact_ids) if not self._shows_artifact_id(i, store))

    def unseen_executions(self, execution_ids: Iterable[str], *, store: Store) -> list[str]:
        """The execution ids the caller may not see or that do not exist, sorted.

        As :meth:`unseen_artifacts`: empty, without a lookup, when no experiment is hidden.
        """
        if not self._hidden.get(ResourceKind.EXPERIMENT):
            return []
        return sorted(i for i in set(execution_ids) if not self._shows_execution_id(i, store))

    def _shows_artifact_id(self, artifact_id: str, store: Store) -> bool:
        """Whether the artifact exists and is visible."""
        try:
            return self.shows_artifact(store.artifacts.get(artifact_id))
        except NotFound:
            return False

    def _shows_execution_id(self, execution_id: str, store: Store) -> bool:
        """Whether the execution exists and is visible."""
        if not self._hidden.get(ResourceKind.EXPERIMENT):
            return True
        if self._run_of_execution is not None:
            run_id = self._run_of_execution(execution_id)
        else:
            try:
                run_id = store.lineage.get_execution(execution_id).run_id or ""
            except NotFound:
                run_id = None
        return run_id is not None and self.shows_run(run_id or None)

    def shows_blob(self, sha256: str, *, store: Store, blobs: BlobStore) -> bool:
        """Whether the caller may read the blob ``sha256``: it sees an artifact holding those bytes.

        A caller who sees everything reads any blob, without a lookup. Anyone else needs a visible
        artifact whose hash is ``sha256``, or a visible dataset or model artifact whose index blob
        lists it. A blob nobody visible references is not shown (whether it is stored or not).
        """
        if not self._hidden:
            return True
        referrers = BlobReferrers(store, blobs, self._index_cache or IndexCache())
        if any(self.shows_artifact(a) for a in referrers.direct(sha256)):
            return True
        return any(
            referrers.lists(index, sha256) for index in referrers.indexes() if self.shows_artifact(index)
        )

    def may_claim_blob(self, sha256: str, *, store: Store, blobs: BlobStore) -> bool:
        """Whether the caller may record an artifact holding the blob ``sha256``.

        A new record makes the blob readable to whoever sees the record, so claiming it needs
        proof of possession: the caller uploaded those bytes themselves, or may read the blob
        already (:meth:`shows_blob`). A caller who sees everything claims any blob, without a lookup.

        Args:
            sha256: The blob's hash.
            store: The metadata store.
            blobs: The blob store.

        Returns:
            Whether the claim is allowed; a refused one is answered like a missing blob.
        """
        if not self._hidden:
            return True
        if self._has_uploaded is not None and self._has_uploaded(sha256):
            return True
        return self.shows_blob(sha256, store=store, blobs=blobs)


#: Sees everything: the local admin of a server without auth, and admins.
EVERYTHING = Visibility()


@runtime_checkable
class VisibilitySource(Protocol):
    """What decides the visibility of a request's caller (the security layer installs itself)."""

    def visibility_for(self, request: Request) -> Visibility:
        """What the caller of ``request`` may see."""
        ...


def visibility_of(request: Request) -> Visibility:
    """What the caller of ``request`` may see in listings (everything without the security layer)."""
    source = getattr(request.app.state, STATE_VISIBILITY, None)
    if not isinstance(source, VisibilitySource):
        return EVERYTHING
    return source.visibility_for(request)


def visible_deployment(request: Request, deployments: DeploymentService, name: str) -> Deployment:
    """The deployment ``name`` if the caller may see it.

    A deployment serving a model hidden from the caller answers as a missing one
    (:meth:`Visibility.shows_deployment`), so its existence does not show.

    Raises:
        NotFound: no such deployment, or one hidden from the caller (same words).
    """
    deployment = deployments.get(name)
    if not visibility_of(request).shows_deployment(deployment.spec.model_uris()):
        raise missing_deployment(name)
    return deployment
