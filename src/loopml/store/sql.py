"""The SQL metadata store (SQLite or PostgreSQL): :func:`open_store` and :class:`SqlStore`.

Example:
    >>> store = open_store("sqlite://")
    >>> experiment = store.experiments.create("churn")
    >>> store.runs.create(experiment.experiment_id, name="baseline").status
    <RunStatus.RUNNING: 'RUNNING'>
    >>> store.close()
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.exc import DatabaseError, InterfaceError, OperationalError

from loopml.errors import StoreUnavailable
from loopml.store._alerts import SqlAlertRepository
from loopml.store._artifacts import SqlArtifactRepository
from loopml.store._deployments import SqlDeploymentRepository
from loopml.store._engine import Database, create_database, parse_store_url, unavailable_message
from loopml.store._experiments import SqlExperimentRepository
from loopml.store._identity import SqlIdentityRepository
from loopml.store._lineage import SqlLineageRepository
from loopml.store._maintenance import StatisticsWatch, analyze_stale_tables
from loopml.store._migrate import upgrade
from loopml.store._models import SqlModelRepository
from loopml.store._monitor import SqlFeedbackRepository, SqlMonitorWindowRepository
from loopml.store._observations import SqlObservationRepository
from loopml.store._retrains import SqlRetrainRepository
from loopml.store._runs import SqlRunRepository
from loopml.store._traces import SqlTraceRepository

__all__ = ["SqlStore", "open_store"]


class SqlStore:
    """All repositories over one SQL database; implements :class:`~loopml.store.Store`.

    Build it with :func:`open_store`. Usable as a context manager that closes it.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._statistics = StatisticsWatch(db)
        self._experiments = SqlExperimentRepository(db)
        self._runs = SqlRunRepository(db, on_search=self._statistics.poke)
        self._artifacts = SqlArtifactRepository(db)
        self._lineage = SqlLineageRepository(db)
        self._models = SqlModelRepository(db)
        self._identity = SqlIdentityRepository(db)
        self._deployments = SqlDeploymentRepository(db)
        self._alerts = SqlAlertRepository(db)
        self._retrains = SqlRetrainRepository(db)
        self._feedback = SqlFeedbackRepository(db)
        self._monitor_windows = SqlMonitorWindowRepository(db)
        self._observations = SqlObservationRepository(db)
        self._traces = SqlTraceRepository(db)

    @property
    def url(self) -> str:
        """The store URL with any password hidden."""
        return self._db.display_url

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.dialect

    @property
    def experiments(self) -> SqlExperimentRepository:
        return self._experiments

    @property
    def runs(self) -> SqlRunRepository:
        return self._runs

    @property
    def artifacts(self) -> SqlArtifactRepository:
        return self._artifacts

    @property
    def lineage(self) -> SqlLineageRepository:
        return self._lineage

    @property
    def models(self) -> SqlModelRepository:
        """The model registry: registered models, versions, aliases and their audit trail."""
        return self._models

    @property
    def identity(self) -> SqlIdentityRepository:
        """Users, API tokens, per-resource grants and the audit log."""
        return self._identity

    @property
    def deployments(self) -> SqlDeploymentRepository:
        """Deployments and their history."""
        return self._deployments

    @property
    def observations(self) -> SqlObservationRepository:
        """What serving replicas observed per analysis window, and who decides each analysis."""
        return self._observations

    @property
    def traces(self) -> SqlTraceRepository:
        """Traces of traced applications (MLflow tracing)."""
        return self._traces

    @property
    def alerts(self) -> SqlAlertRepository:
        """Monitoring alerts."""
        return self._alerts

    @property
    def retrains(self) -> SqlRetrainRepository:
        """Retraining runs and their steps."""
        return self._retrains

    @property
    def feedback(self) -> SqlFeedbackRepository:
        """Ground-truth labels of logged predictions."""
        return self._feedback

    @property
    def monitor_windows(self) -> SqlMonitorWindowRepository:
        """Computed monitoring windows."""
        return self._monitor_windows

    def refresh_statistics(self) -> list[str]:
        """Refresh PostgreSQL's planner statistics of tables that have none or stale ones.

        Cheap when nothing is stale (one catalog query). :func:`open_store` calls it, searches
        start it in the background at most every 30 seconds, and the server calls it periodically;
        see :mod:`loopml.store._maintenance` for the rule.

        Returns:
            The tables analysed (always empty on SQLite).
        """
        return analyze_stale_tables(self._db)

    def close(self) -> None:
        """Release the database connections (after a running statistics check, at most 10 s)."""
        self._statistics.wait(timeout_s=10.0)
        self._db.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlStore({self.url!r})"


def open_store(url: str) -> SqlStore:
    """Open (and create or upgrade) the metadata store at ``url``.

    Args:
        url: ``sqlite:///path/to/store.db`` (the folder is created), ``sqlite://`` (in memory) or
            ``postgresql+psycopg://user:password@host:port/database``.

    Returns:
        The store, with its schema at the newest migration (and, on PostgreSQL, planner statistics
        refreshed where missing or stale: :meth:`SqlStore.refresh_statistics`).

    Raises:
        InvalidInput: for an unsupported URL scheme.
        MissingDependency: for PostgreSQL without psycopg installed.
        StoreUnavailable: when the database cannot be reached or opened (password hidden).
    """
    parsed = parse_store_url(url)
    try:
        db = create_database(parsed)
    except OSError as err:
        raise StoreUnavailable(unavailable_message(parsed, err)) from err
    try:
        upgrade(db, url_for_messages=db.display_url)
        analyze_stale_tables(db)
    except (OperationalError, InterfaceError, DatabaseError) as err:
        db.dispose()
        raise StoreUnavailable(unavailable_message(parsed, err)) from err
    except BaseException:
        db.dispose()
        raise
    return SqlStore(db)
