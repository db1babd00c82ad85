"""Keep PostgreSQL's planner statistics of the store's tables current.

The run search (and most other lookups) relies on the planner knowing how many rows a table has
and how its values spread. PostgreSQL's autovacuum normally refreshes those statistics with
``ANALYZE`` after enough rows changed; with autovacuum off, or on a table bulk-loaded moments ago,
the planner has none and may pick a plan tens of times slower (a nested loop over every run of an
experiment instead of walking the metric index). :func:`analyze_stale_tables` applies autovacuum's
own rule to the store's tables and runs ``ANALYZE`` on those that need it:

* autovacuum off (``autovacuum`` or ``track_counts`` set to off): a table whose rows changed since
  its last analyse by more than ``50 + 10 %`` of its live rows (the server's default
  ``autovacuum_analyze_threshold`` and ``autovacuum_analyze_scale_factor``);
* whatever the setting: a table of at least :data:`NEVER_ANALYZED_MIN_BYTES` that was never
  analysed (``pg_class.reltuples`` is -1: bulk-loaded, restored from a dump, or copied from a
  template; autovacuum gets to it within a minute, but searches in that minute would crawl).

``ANALYZE`` reads a fixed-size sample (fast even on large tables), takes a lock that neither blocks
nor waits for reads and writes, and skips, with a server notice, tables the user does not own.
SQLite needs none of this: its planner works from the indexes' shapes.

When to check: :func:`~loopml.store.sql.open_store` checks once, and afterwards searches poke a
:class:`StatisticsWatch`, which checks again in the background at most every 30 seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from loopml.store._engine import Database
from loopml.store._schema import METADATA

__all__ = ["NEVER_ANALYZED_MIN_BYTES", "StatisticsWatch", "analyze_stale_tables"]

_log = logging.getLogger("loopml.store")

#: A never-analysed table of at least this size (about a thousand runs) is analysed whatever
#: autovacuum's setting.
NEVER_ANALYZED_MIN_BYTES = 128 * 1024
_THRESHOLD = 50
_SCALE = 0.1

_COUNTERS = sa.text(
    """
    SELECT c.relname, c.reltuples < 0 AS never, pg_relation_size(c.oid) AS size,
           coalesce(s.n_live_tup, 0) AS n_live_tup, coalesce(s.n_mod_since_analyze, 0) AS n_mod_since_analyze
    FROM pg_class AS c LEFT JOIN pg_stat_user_tables AS s ON s.relid = c.oid
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
      AND c.relname = ANY(:names)
    """
)
_AUTOVACUUM_ON = sa.text(
    "SELECT current_setting('autovacuum') = 'on' AND current_setting('track_counts') = 'on'"
)


def analyze_stale_tables(db: Database) -> list[str]:
    """``ANALYZE`` the store's tables whose planner statistics are missing or stale (PostgreSQL).

    Returns:
        The tables analysed, sorted (empty on SQLite or when all are current).
    """
    if db.dialect != "postgresql":
        return []
    names = sorted(METADATA.tables)
    with db.read() as conn:
        autovacuum = bool(conn.execute(_AUTOVACUUM_ON).scalar())
        rows = conn.execute(_COUNTERS, {"names": names}).all()
    stale = sorted(row.relname for row in rows if _needs_analyze(row, autovacuum=autovacuum))
    if stale:
        preparer = db.engine.dialect.identifier_preparer
        with db.write() as conn:
            conn.exec_driver_sql("ANALYZE " + ", ".join(preparer.quote(name) for name in stale))
    return stale


def _needs_analyze(row: Any, *, autovacuum: bool) -> bool:
    if row.never and row.size >= NEVER_ANALYZED_MIN_BYTES:
        return True
    return not autovacuum and row.n_mod_since_analyze > _THRESHOLD + _SCALE * row.n_live_tup


class StatisticsWatch:
    """Re-checks the planner statistics now and then, in a worker thread, when a search asks.

    A process that opens the store, loads thousands of runs and then searches them would search
    with the statistics of when it opened (none, on a fresh database) as long as autovacuum is
    off. Each search calls :meth:`poke`; at most every ``interval_s`` seconds that starts
    :func:`analyze_stale_tables` in a daemon thread, so no search waits for it (the search that
    pokes runs with the old plan; the following ones get the new one). Nothing on SQLite.

    Args:
        db: The store's database.
        interval_s: Least time between two checks (each is one catalog query, plus ``ANALYZE``
            of the tables that need it).
        clock: The time source (monotonic seconds); tests pass their own.
    """

    def __init__(
        self, db: Database, *, interval_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._db = db
        self._interval_s = interval_s
        self._clock = clock
        self._checked_at = clock()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def poke(self) -> None:
        """Start a check in the background if the last one is old enough and none is running."""
        if self._db.dialect != "postgresql" or self._clock() - self._checked_at < self._interval_s:
            return
        with self._lock:
            if self._clock() - self._checked_at < self._interval_s:
                return  # another thread started it meanwhile
            self._checked_at = self._clock()
            self._worker = threading.Thread(target=self._check, name="loopml-statistics", daemon=True)
            self._worker.start()

    def _check(self) -> None:
        try:
            analysed = analyze_stale_tables(self._db)
        except Exception as err:  # the database is away for now: the next poke tries again
            _log.warning("Could not refresh PostgreSQL planner statistics: %s", err)
            return
        if analysed:
            _log.info("Refreshed PostgreSQL planner statistics of %s", ", ".join(analysed))

    def wait(self, timeout_s: float | None = None) -> None:
        """Wait for a running check to end (the store does before closing)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout_s)
