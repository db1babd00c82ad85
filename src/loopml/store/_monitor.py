"""SQL implementation of the monitoring repositories: feedback labels and monitoring windows.

Labels are upserted by ``(model, key_field, key, row)``. Of two labels for one key the one with
the later ``observed_at`` wins, ties going to the larger canonical JSON value, so the stored label
does not depend on the order in which duplicates arrive.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from loopml.store._engine import Database
from loopml.store._schema import FEEDBACK_LABELS, MONITOR_WINDOWS
from loopml.store._stamps import now_ms
from loopml.store.entities import LabelWrite, StoredLabel, StoredWindow

__all__ = ["SqlFeedbackRepository", "SqlMonitorWindowRepository"]

_LABELS = FEEDBACK_LABELS
_WINDOWS = MONITOR_WINDOWS
_CHUNK = 400


def _rank(observed_at: int, value: Any) -> tuple[int, str]:
    return observed_at, json.dumps(value, sort_keys=True)


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _to_label(row: Any) -> StoredLabel:
    return StoredLabel(
        model=row.model,
        key_field=row.key_field,
        key=row.key,
        row=int(row.row),
        value=row.value,
        observed_at=int(row.observed_at),
        received_at=int(row.received_at),
        updated_at=int(row.updated_at),
    )


class SqlFeedbackRepository:
    """Feedback labels in the SQL store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert(self, labels: Sequence[StoredLabel]) -> LabelWrite:
        """Store ``labels`` (one transaction); a key already labelled keeps the winning label.

        Duplicates within ``labels`` are resolved by the same rule as against stored ones.
        """
        best: dict[tuple[str, str, str, int], StoredLabel] = {}
        duplicates = 0
        for label in labels:
            key = (label.model, label.key_field, label.key, label.row)
            seen = best.get(key)
            if seen is not None:
                duplicates += 1
                if _rank(label.observed_at, label.value) <= _rank(seen.observed_at, seen.value):
                    continue
            best[key] = label
        try:
            with self._db.write() as conn:
                result = self._upsert(conn, best)
        except IntegrityError:  # a concurrent writer inserted one of the keys first: decide again
            with self._db.write() as conn:
                result = self._upsert(conn, best)
        return replace(result, unchanged=result.unchanged + duplicates)

    def _upsert(self, conn: Connection, best: dict[tuple[str, str, str, int], StoredLabel]) -> LabelWrite:
        at = now_ms()
        inserted = replaced = unchanged = 0
        keys = list(best)
        cols = sa.tuple_(_LABELS.c.model, _LABELS.c.key_field, _LABELS.c.key, _LABELS.c.row)
        for chunk in _chunks(keys):
            stored = {
                (r.model, r.key_field, r.key, int(r.row)): r
                for r in conn.execute(sa.select(_LABELS).where(cols.in_(chunk)))
            }
            new_rows = []
            for key in chunk:
                label = best[key]
                old = stored.get(key)
                if old is None:
                    new_rows.append(
                        {
                            "model": label.model,
                            "key_field": label.key_field,
                            "key": label.key,
                            "row": label.row,
                            "value": label.value,
                            "observed_at": label.observed_at,
                            "received_at": at,
                            "updated_at": at,
                        }
                    )
                elif _same(label.value, old.value):  # a repeat: keep the latest observation time
                    if label.observed_at > int(old.observed_at):
                        conn.execute(
                            _LABELS.update().where(cols == key).values(observed_at=label.observed_at)
                        )
                    unchanged += 1
                elif _rank(label.observed_at, label.value) > _rank(int(old.observed_at), old.value):
                    conn.execute(
                        _LABELS.update()
                        .where(cols == key)
                        .values(value=label.value, observed_at=label.observed_at, updated_at=at)
                    )
                    replaced += 1
                else:
                    unchanged += 1
            if new_rows:
                conn.execute(_LABELS.insert(), new_rows)
                inserted += len(new_rows)
        return LabelWrite(inserted=inserted, replaced=replaced, unchanged=unchanged)

    def find(self, model: str, *, key_field: str, keys: Sequence[str]) -> builtins.list[StoredLabel]:
        """The labels of ``model`` whose key is one of ``keys`` (any row)."""
        found: list[StoredLabel] = []
        unique = sorted(set(keys))
        with self._db.read() as conn:
            for chunk in _chunks(unique):
                query = sa.select(_LABELS).where(
                    _LABELS.c.model == model, _LABELS.c.key_field == key_field, _LABELS.c.key.in_(chunk)
                )
                found.extend(_to_label(r) for r in conn.execute(query))
        return found

    def list(self, model: str, *, key_field: str | None = None) -> builtins.list[StoredLabel]:
        """Every label of ``model`` (of one key field when given), in key order."""
        query = sa.select(_LABELS).where(_LABELS.c.model == model)
        if key_field is not None:
            query = query.where(_LABELS.c.key_field == key_field)
        query = query.order_by(_LABELS.c.key_field, _LABELS.c.key, _LABELS.c.row)
        with self._db.read() as conn:
            return [_to_label(r) for r in conn.execute(query)]

    def state(self, model: str) -> tuple[int, int]:
        """How many labels ``model`` has and when one last changed (ms; 0 when none)."""
        query = sa.select(sa.func.count(), sa.func.max(_LABELS.c.updated_at)).where(_LABELS.c.model == model)
        with self._db.read() as conn:
            count, last = conn.execute(query).one()
        return int(count or 0), int(last or 0)


def _to_window(row: Any) -> StoredWindow:
    return StoredWindow(
        deployment=row.deployment,
        window=row.window,
        start=int(row.start),
        end=int(row.end),
        model=row.model,
        version=row.version,
        complete=bool(row.complete),
        rows=int(row.rows),
        metrics=dict(row.metrics),
        details=dict(row.details),
        statistics=row.statistics,
        computed_at=int(row.computed_at),
    )


class SqlMonitorWindowRepository:
    """Computed monitoring windows in the SQL store, one per deployment, window kind and start."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def put(self, window: StoredWindow) -> None:
        """Insert the window, or replace the one stored for the same deployment, kind and start."""
        values = {
            "deployment": window.deployment,
            "window": window.window,
            "start": window.start,
            "end": window.end,
            "model": window.model,
            "version": window.version,
            "complete": window.complete,
            "rows": window.rows,
            "metrics": dict(window.metrics),
            "details": dict(window.details),
            "statistics": window.statistics,
            "computed_at": window.computed_at or now_ms(),
        }
        where = (
            (_WINDOWS.c.deployment == window.deployment)
            & (_WINDOWS.c.window == window.window)
            & (_WINDOWS.c.start == window.start)
        )
        with self._db.write() as conn:
            if conn.execute(_WINDOWS.update().where(where).values(**values)).rowcount == 0:
                conn.execute(_WINDOWS.insert().values(**values))

    def list(
        self,
        deployment: str,
        *,
        window: str | None = None,
        since: int | None = None,
        until: int | None = None,
        with_statistics: bool = False,
    ) -> builtins.list[StoredWindow]:
        """The windows of ``deployment`` (of one kind, starting in ``[since, until)``), oldest first."""
        columns = [c for c in _WINDOWS.c if with_statistics or c.name != "statistics"]
        query = sa.select(*columns).where(_WINDOWS.c.deployment == deployment)
        if window is not None:
            query = query.where(_WINDOWS.c.window == window)
        if since is not None:
            query = query.where(_WINDOWS.c.start >= since)
        if until is not None:
            query = query.where(_WINDOWS.c.start < until)
        query = query.order_by(_WINDOWS.c.start, _WINDOWS.c.window)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        if with_statistics:
            return [_to_window(r) for r in rows]
        return [_to_window(_WithStatistics(r)) for r in rows]

    def find(self, deployment: str, window: str, start: int) -> StoredWindow | None:
        """The stored window (with its statistics), or None."""
        query = sa.select(_WINDOWS).where(
            (_WINDOWS.c.deployment == deployment)
            & (_WINDOWS.c.window == window)
            & (_WINDOWS.c.start == start)
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _to_window(row)

    def counts(self) -> dict[str, dict[str, int]]:
        """How many windows of each kind every deployment has, in one query."""
        query = sa.select(_WINDOWS.c.deployment, _WINDOWS.c.window, sa.func.count()).group_by(
            _WINDOWS.c.deployment, _WINDOWS.c.window
        )
        found: dict[str, dict[str, int]] = {}
        with self._db.read() as conn:
            for deployment, window, count in conn.execute(query):
                found.setdefault(str(deployment), {})[str(window)] = int(count)
        return found

    def latest(self, kinds: Mapping[str, str]) -> dict[str, StoredWindow]:
        """The latest window (without statistics) of the given kind of each deployment, in one query.

        Args:
            kinds: The window kind wanted per deployment; deployments without such a window are
                left out of the answer.
        """
        if not kinds:
            return {}
        newest = (
            sa.select(_WINDOWS.c.deployment, _WINDOWS.c.window, sa.func.max(_WINDOWS.c.start).label("start"))
            .where(sa.tuple_(_WINDOWS.c.deployment, _WINDOWS.c.window).in_(list(kinds.items())))
            .group_by(_WINDOWS.c.deployment, _WINDOWS.c.window)
            .subquery()
        )
        columns = [c for c in _WINDOWS.c if c.name != "statistics"]
        query = sa.select(*columns).join(
            newest,
            (_WINDOWS.c.deployment == newest.c.deployment)
            & (_WINDOWS.c.window == newest.c.window)
            & (_WINDOWS.c.start == newest.c.start),
        )
        with self._db.read() as conn:
            return {str(r.deployment): _to_window(_WithStatistics(r)) for r in conn.execute(query)}

    def deployments(self) -> builtins.list[str]:
        """Every deployment with stored windows, by name."""
        query = sa.select(_WINDOWS.c.deployment).distinct().order_by(_WINDOWS.c.deployment)
        with self._db.read() as conn:
            return [str(r[0]) for r in conn.execute(query)]


class _WithStatistics:
    """A row read without its statistics column, which reads as empty."""

    def __init__(self, row: Any) -> None:
        self._row = row

    def __getattr__(self, name: str) -> Any:
        return "" if name == "statistics" else getattr(self._row, name)
