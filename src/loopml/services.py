"""The composition root: the store, blob store, registry and auth that one :class:`Settings` describe.

Adapters (CLI commands, the server's app factory, serving) build one :class:`Services` at their
entry point and ask it for what they need; they never assemble these themselves. So the artifact
encryption key, the trust store, the promotion policy and the token pepper reach every place that
uses the artifact root, the registry or API tokens, and a server cannot skip one by accident.

Example:
    >>> import tempfile
    >>> from loopml.config import Settings
    >>> with Services(Settings(home=tempfile.mkdtemp(), artifacts_encryption_key="11" * 32)) as services:
    ...     services.blobs.is_encrypted, services.registry.blobs is services.blobs
    (True, True)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from loopml.artifacts import BlobStore, blob_store_for
from loopml.config import Settings
from loopml.errors import InvalidInput, InvalidState
from loopml.registry import KeyRing, ModelRegistry, PromotionPolicy, TrustStore
from loopml.security.audit import AuditLog
from loopml.security.auth import AuthService
from loopml.store.repositories import DeploymentStore, IdentityStore, MonitorStore, RegistryStore, Store
from loopml.store.sql import open_store

if TYPE_CHECKING:
    from loopml.deploy.service import DeploymentService
    from loopml.monitor.alerts import AlertRules, AlertService, Channel
    from loopml.monitor.feedback import FeedbackService
    from loopml.monitor.records import WindowRecord
    from loopml.monitor.retrain import RetrainLoop, RetrainPolicy
    from loopml.monitor.service import MonitorService

__all__ = ["Services"]


class Services:
    """Builds, on first use, and holds the services of one :class:`Settings`.

    Args:
        settings: Where everything lives and the secrets it needs.
        store: An open metadata store to use instead of opening ``settings.resolved_store_url()``
            (the caller keeps owning it).
        blobs: A blob store to use instead of :func:`~loopml.artifacts.blob_store_for` (tests).
    """

    def __init__(
        self, settings: Settings, *, store: Store | None = None, blobs: BlobStore | None = None
    ) -> None:
        self.settings = settings
        self._store = store
        self._owns_store = store is None
        self._blobs = blobs
        self._registry: ModelRegistry | None = None
        self._auth: AuthService | None = None
        self._lock = threading.RLock()

    @property
    def home(self) -> Path:
        """The absolute state folder (``settings.home``)."""
        return self.settings.home.expanduser().absolute()

    @property
    def store(self) -> Store:
        """The metadata store, opened on first use."""
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings.resolved_store_url())
            return self._store

    @property
    def blobs(self) -> BlobStore:
        """The artifact root, encrypted at rest when ``artifacts_encryption_key`` is set."""
        with self._lock:
            if self._blobs is None:
                self._blobs = blob_store_for(self.settings)
            return self._blobs

    @property
    def trust_store(self) -> TrustStore:
        """The public keys trusted to sign models (``<home>/trust``)."""
        return TrustStore(self.home / "trust")

    @property
    def key_ring(self) -> KeyRing:
        """The private signing keys of this installation (``<home>/keys``)."""
        return KeyRing(self.home / "keys")

    @property
    def policy(self) -> PromotionPolicy:
        """The promotion policy aliases are checked against."""
        return PromotionPolicy()

    @property
    def registry(self) -> ModelRegistry:
        """The model registry over :attr:`store` and :attr:`blobs`, trusting :attr:`trust_store`.

        Raises:
            InvalidState: the store holds no model registry (e.g. a remote store).
        """
        with self._lock:
            if self._registry is None:
                store = self.store
                if not isinstance(store, RegistryStore):
                    raise InvalidState(f"The store {store.url} holds no model registry; use a SQL store URL.")
                self._registry = ModelRegistry(
                    store,
                    self.blobs,
                    trust_store=self.trust_store,
                    policy=self.policy,
                    cache_dir=self.home / "cache" / "models",
                )
            return self._registry

    @property
    def identity_store(self) -> IdentityStore:
        """:attr:`store` as a store of users, tokens, grants and the audit log.

        Raises:
            InvalidState: the store has no identity tables (e.g. a remote store).
        """
        store = self.store
        if not isinstance(store, IdentityStore):
            raise InvalidState(
                f"The store {store.url} has no users, tokens or audit log; point LOOPML_STORE_URL at the "
                "server's SQL store."
            )
        return store

    @property
    def token_pepper(self) -> bytes | None:
        """The server secret mixed into API-token hashes (``LOOPML_TOKEN_PEPPER``), if set."""
        pepper = self.settings.token_pepper
        return pepper.get_secret_value().encode() if pepper else None

    @property
    def auth(self) -> AuthService:
        """Users, tokens and grants over :attr:`identity_store`, hashing with :attr:`token_pepper`;
        ungranted resources get ``settings.ungranted_access``."""
        with self._lock:
            if self._auth is None:
                self._auth = AuthService(
                    self.identity_store, pepper=self.token_pepper, ungranted=self.settings.ungranted_access
                )
            return self._auth

    @property
    def audit(self) -> AuditLog:
        """The audit log of :attr:`identity_store`."""
        return AuditLog(self.identity_store)

    @property
    def deployments(self) -> DeploymentService:
        """Deployments over :attr:`store`, verified against :attr:`registry`, audited in :attr:`audit`.

        Raises:
            InvalidState: the store holds no deployments (e.g. a remote store).
        """
        # The rollout gates import the data package (statistics engines, drift): only when used,
        # so `loopml serve` without deployments starts without them.
        from loopml.deploy.service import DeploymentService

        store = self.store
        if not isinstance(store, DeploymentStore):
            raise InvalidState(f"The store {store.url} holds no deployments; use a SQL store URL.")
        return DeploymentService(store.deployments, self.registry, audit=self.audit)

    @property
    def prediction_log(self) -> Path:
        """The default prediction-log folder (``<home>/predictions``), where ``loopml serve`` writes."""
        return self.home / "predictions"

    @property
    def monitor_store(self) -> MonitorStore:
        """:attr:`store` as a store of feedback labels and monitoring windows.

        Raises:
            InvalidState: the store holds none (e.g. a remote store).
        """
        store = self.store
        if not isinstance(store, MonitorStore):
            raise InvalidState(
                f"The store {store.url} holds no feedback labels or monitoring windows; use a SQL store URL."
            )
        return store

    def feedback(self, log_root: Path | None = None) -> FeedbackService:
        """Feedback labels in :attr:`monitor_store`, typed by the prediction log at ``log_root``
        (default :attr:`prediction_log`)."""
        from loopml.monitor.feedback import FeedbackService  # Parquet: only where labels are used

        return FeedbackService(self.monitor_store.feedback, log_root=log_root or self.prediction_log)

    def alerts(
        self,
        *,
        rules: Callable[[str], AlertRules] | None = None,
        channels: Sequence[Channel] = (),
    ) -> AlertService:
        """Monitoring alerts stored in :attr:`monitor_store`, evaluated with ``rules`` (default: the
        default rules) and delivered to ``channels``."""
        from loopml.monitor.alerts import AlertService  # its channels import httpx: only when used

        return AlertService(self.monitor_store.alerts, rules=rules, channels=channels)

    def monitor(self, log_root: Path | None = None) -> MonitorService:
        """Monitoring windows of the prediction log at ``log_root`` (default :attr:`prediction_log`),
        stored in :attr:`monitor_store`, with skew against the training statistics in the registry;
        closed hours of the log are registered as dataset versions with lineage to model versions."""
        # Windows, statistics and dataset versions (pyarrow.dataset, the data package): only when
        # monitoring, not in every command that builds Services.
        from loopml.data.versions import DatasetVersions
        from loopml.monitor.log_versions import PredictionLogVersions, registry_model_artifacts
        from loopml.monitor.service import MonitorService
        from loopml.monitor.training import registry_training_statistics

        store = self.monitor_store
        return MonitorService(
            store,
            log_root=log_root or self.prediction_log,
            deployments=store.deployments if isinstance(store, DeploymentStore) else None,
            training_statistics=registry_training_statistics(store, self.blobs)
            if isinstance(store, RegistryStore)
            else None,
            log_versions=PredictionLogVersions(
                store,
                DatasetVersions(store, self.blobs),
                model_artifacts=registry_model_artifacts(store) if isinstance(store, RegistryStore) else None,
            ),
        )

    def retrain_loop(
        self,
        policy: RetrainPolicy,
        *,
        monitor: MonitorService | None = None,
        window: str = "hour",
        alerts: AlertService | None = None,
    ) -> RetrainLoop:
        """The retrain loop of a deployment with ``policy``, acting as its ``action`` says.

        Retrainings are recorded in :attr:`monitor_store`; the pipeline runs on :attr:`store` and
        :attr:`blobs`; candidates are judged against the champion on the labelled rows of the
        prediction log and canaried through :attr:`deployments`.

        Args:
            policy: The deployment's policy; its ``action`` names the pipeline.
            monitor: Whose windows (of kind ``window``) feed the data-quality gate and whose log the
                labelled rows come from (default :meth:`monitor`).
            window: The window kind the triggers and the gate read.
            alerts: Where a failed pipeline raises its alert (default :meth:`alerts`).

        Raises:
            InvalidInput: the policy has no ``action``.
        """
        from loopml.monitor.retrain import (  # pipelines and evaluation: only when retraining
            ChampionChallengerEvaluator,
            PipelineRetrainer,
            RetrainLoop,
        )
        from loopml.monitor.retrain.labelled import labelled_log_rows
        from loopml.monitor.retrain.quality import WindowQualityGate

        action = policy.action
        if action is None:
            raise InvalidInput(
                "The retrain policy names no pipeline; add `action: {pipeline: FILE.py:NAME}` to it "
                "(or pass --pipeline to `loopml monitor retrain`)."
            )
        watched = monitor or self.monitor()
        store = self.monitor_store

        def model_of(deployment: str) -> str:
            return watched.target(deployment).log

        def windows(deployment: str) -> list[WindowRecord]:
            return watched.windows(watched.target(deployment), window=window)

        labelled = labelled_log_rows(
            watched.log_root, store.feedback, model_of=model_of, key_field=action.key_field
        )
        return RetrainLoop(
            store.retrains,
            deployments=self.deployments,
            retrainer=PipelineRetrainer(action.pipeline, store=self.store, blobs=self.blobs),
            evaluator=ChampionChallengerEvaluator(
                self.registry, data=labelled, label="label", task=action.task, slices=action.guard_slices
            ),
            policies=lambda _name: policy,
            quality_gate=WindowQualityGate(windows, max_anomalies=policy.guards.max_anomalies),
            alerts=alerts or self.alerts(),
        )

    def close(self) -> None:
        """Close the store if it was opened here."""
        with self._lock:
            store, self._store = self._store, None
            self._registry = self._auth = None
        if store is not None and self._owns_store:
            store.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Services(home={str(self.home)!r})"
