"""SQL implementation of :class:`~loopml.store.repositories.LineageRepository`.

Executions, the events linking them to artifacts (INPUT / OUTPUT, with a role), and contexts
grouping executions and artifacts.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from loopml.errors import Conflict, InvalidInput, InvalidState, NotFound
from loopml.store._artifacts import to_artifact
from loopml.store._engine import Database
from loopml.store._paging import chunks
from loopml.store._schema import (
    ARTIFACTS,
    CONTEXT_ARTIFACTS,
    CONTEXT_EXECUTIONS,
    CONTEXTS,
    EVENTS,
    EXECUTIONS,
    RUNS,
)
from loopml.store._stamps import new_id, now_ms
from loopml.store.entities import Artifact, Context, Event, EventType, Execution, ExecutionState
from loopml.store.missing import WHERE_LISTED, missing_records
from loopml.store.validation import check_json, check_name

__all__ = ["SqlLineageRepository"]

_EXE = EXECUTIONS
_EVT = EVENTS
_CTX = CONTEXTS
_CTX_EXE = CONTEXT_EXECUTIONS
_CTX_ART = CONTEXT_ARTIFACTS
_ART = ARTIFACTS
_RUNS = RUNS


def _execution_not_found(execution_id: str) -> NotFound:
    return NotFound(f"No execution with id {execution_id!r}; {WHERE_LISTED['execution']}.")


class SqlLineageRepository:
    """Executions, events and contexts in the SQL store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create_execution(
        self,
        *,
        type: str,
        name: str,
        run_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        code_version: str | None = None,
        cache_key: str | None = None,
        state: ExecutionState = ExecutionState.RUNNING,
    ) -> Execution:
        """Record an execution; one created in a final state is ended at once."""
        state = _check_state(state)
        started = now_ms()
        execution_id = new_id()
        values: dict[str, Any] = {
            "execution_id": execution_id,
            "type": check_name(type, kind="execution type"),
            "name": check_name(name, kind="execution name"),
            "state": state.value,
            "started_at": started,
            "ended_at": None if state is ExecutionState.RUNNING else started,
            "run_id": run_id,
            "params": check_json(params, what="execution params"),
            "properties": check_json(properties, what="execution properties"),
            "code_version": code_version,
            "cache_key": None if cache_key is None else check_name(cache_key, kind="cache key"),
            "error": None,
        }
        with self._db.write() as conn:
            if run_id is not None:
                _require(conn, _RUNS.c.run_id, run_id, "run")
            conn.execute(sa.insert(_EXE).values(**values))
        return self.get_execution(execution_id)

    def get_execution(self, execution_id: str) -> Execution:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_EXE).where(_EXE.c.execution_id == execution_id)).first()
        if row is None:
            raise _execution_not_found(execution_id)
        return _to_execution(row)

    def find_run_execution(self, run_id: str) -> Execution | None:
        """The latest execution recorded for a tracked run, if any."""
        return self._find_one(_EXE.c.run_id == run_id)

    def finish_execution(
        self,
        execution_id: str,
        state: ExecutionState,
        *,
        error: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> Execution:
        """End a RUNNING execution; ``properties`` are merged into the stored ones.

        Raises:
            InvalidState: if the execution has already ended.
        """
        state = _check_state(state)
        if state is ExecutionState.RUNNING:
            raise InvalidInput("finish_execution needs a final state: COMPLETE, FAILED or CACHED.")
        extra = check_json(properties, what="execution properties")
        with self._db.write() as conn:
            row = conn.execute(sa.select(_EXE).where(_EXE.c.execution_id == execution_id)).first()
            if row is None:
                raise _execution_not_found(execution_id)
            if row.state != ExecutionState.RUNNING.value:
                raise InvalidState(
                    f"Execution {execution_id} is already {row.state}; it cannot be finished again."
                )
            conn.execute(
                sa.update(_EXE)
                .where(_EXE.c.execution_id == execution_id)
                .values(
                    state=state.value,
                    ended_at=now_ms(),
                    error=error,
                    properties={**(row.properties or {}), **extra},
                )
            )
        return self.get_execution(execution_id)

    def find_cached_execution(self, cache_key: str) -> Execution | None:
        """The latest COMPLETE execution with this cache key, if any."""
        return self._find_one(
            sa.and_(_EXE.c.cache_key == cache_key, _EXE.c.state == ExecutionState.COMPLETE.value)
        )

    def add_events(
        self, execution_id: str, events: Iterable[tuple[str, EventType, str]]
    ) -> builtins.list[Event]:
        """Record ``(artifact_id, INPUT|OUTPUT, role)`` events for an execution."""
        stamp = now_ms()
        rows: builtins.list[dict[str, Any]] = []
        for artifact_id, event_type, role in events:
            rows.append(
                {
                    "execution_id": execution_id,
                    "artifact_id": artifact_id,
                    "type": _check_event_type(event_type).value,
                    "role": check_name(role, kind="event role"),
                    "timestamp": stamp,
                }
            )
        with self._db.write() as conn:
            _require(conn, _EXE.c.execution_id, execution_id, "execution")
            _require_all(conn, _ART.c.artifact_id, [r["artifact_id"] for r in rows], "artifact")
            if rows:
                conn.execute(sa.insert(_EVT), rows)
        return [_to_event(r) for r in rows]

    def list_events(
        self, *, execution_id: str | None = None, artifact_id: str | None = None
    ) -> builtins.list[Event]:
        query = sa.select(_EVT).order_by(_EVT.c.timestamp, _EVT.c.id)
        if execution_id is not None:
            query = query.where(_EVT.c.execution_id == execution_id)
        if artifact_id is not None:
            query = query.where(_EVT.c.artifact_id == artifact_id)
        with self._db.read() as conn:
            return [_to_event(dict(r._mapping)) for r in conn.execute(query)]

    def create_context(self, *, type: str, name: str, properties: Mapping[str, Any] | None = None) -> Context:
        """Create a context; :class:`Conflict` if ``(type, name)`` exists."""
        context_id = new_id()
        values: dict[str, Any] = {
            "context_id": context_id,
            "type": check_name(type, kind="context type"),
            "name": check_name(name, kind="context name"),
            "properties": check_json(properties, what="context properties"),
            "created_at": now_ms(),
        }
        try:
            with self._db.write() as conn:
                conn.execute(sa.insert(_CTX).values(**values))
        except IntegrityError as err:
            raise Conflict(
                f"A context of type {type!r} named {name!r} exists; use find_context to reuse it."
            ) from err
        return self.get_context(context_id)

    def get_context(self, context_id: str) -> Context:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_CTX).where(_CTX.c.context_id == context_id)).first()
        if row is None:
            raise NotFound(f"No context with id {context_id!r}; {WHERE_LISTED['context']}.")
        return _to_context(row)

    def find_context(self, type: str, name: str) -> Context | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_CTX).where(_CTX.c.type == type, _CTX.c.name == name)).first()
        return None if row is None else _to_context(row)

    def attach(
        self, context_id: str, *, execution_ids: Iterable[str] = (), artifact_ids: Iterable[str] = ()
    ) -> None:
        """Attach executions and artifacts to a context (attaching twice is a no-op)."""
        executions, artifacts = builtins.list(execution_ids), builtins.list(artifact_ids)
        with self._db.write() as conn:
            _require(conn, _CTX.c.context_id, context_id, "context")
            _require_all(conn, _EXE.c.execution_id, executions, "execution")
            _require_all(conn, _ART.c.artifact_id, artifacts, "artifact")
            for table, column, ids in (
                (_CTX_EXE, "execution_id", executions),
                (_CTX_ART, "artifact_id", artifacts),
            ):
                if ids:
                    stmt = self._db.insert(table).on_conflict_do_nothing()
                    conn.execute(stmt, [{"context_id": context_id, column: i} for i in dict.fromkeys(ids)])

    def list_context_executions(self, context_id: str) -> builtins.list[Execution]:
        self.get_context(context_id)
        query = (
            sa.select(_EXE)
            .join(_CTX_EXE, _CTX_EXE.c.execution_id == _EXE.c.execution_id)
            .where(_CTX_EXE.c.context_id == context_id)
            .order_by(_EXE.c.started_at, _EXE.c.execution_id)
        )
        with self._db.read() as conn:
            return [_to_execution(r) for r in conn.execute(query)]

    def list_context_artifacts(self, context_id: str) -> builtins.list[Artifact]:
        self.get_context(context_id)
        query = (
            sa.select(_ART)
            .join(_CTX_ART, _CTX_ART.c.artifact_id == _ART.c.artifact_id)
            .where(_CTX_ART.c.context_id == context_id)
            .order_by(_ART.c.created_at, _ART.c.artifact_id)
        )
        with self._db.read() as conn:
            return [to_artifact(r) for r in conn.execute(query)]

    def list_contexts(self, *, type: str | None = None) -> builtins.list[Context]:
        query = sa.select(_CTX).order_by(_CTX.c.created_at, _CTX.c.context_id)
        if type is not None:
            query = query.where(_CTX.c.type == type)
        with self._db.read() as conn:
            return [_to_context(r) for r in conn.execute(query)]

    def _find_one(self, where: sa.ColumnElement[bool]) -> Execution | None:
        query = sa.select(_EXE).where(where).order_by(_EXE.c.started_at.desc(), _EXE.c.execution_id.desc())
        with self._db.read() as conn:
            row = conn.execute(query.limit(1)).first()
        return None if row is None else _to_execution(row)


def _check_state(state: object) -> ExecutionState:
    try:
        return ExecutionState(str(state))
    except ValueError as err:
        valid = ", ".join(s.value for s in ExecutionState)
        raise InvalidInput(f"Unknown execution state {state!r}; use one of {valid}.") from err


def _check_event_type(event_type: object) -> EventType:
    try:
        return EventType(str(event_type))
    except ValueError as err:
        raise InvalidInput(f"Unknown event type {event_type!r}; use INPUT or OUTPUT.") from err


def _require(conn: Connection, column: Any, value: str, what: str) -> None:
    if conn.execute(sa.select(column).where(column == value)).first() is None:
        raise NotFound(f"No {what} with id {value!r}; {WHERE_LISTED[what]}.")


def _require_all(conn: Connection, column: Any, values: builtins.list[str], what: str) -> None:
    wanted = set(values)
    found: set[str] = set()
    for part in chunks(sorted(wanted)):
        found.update(conn.execute(sa.select(column).where(column.in_(builtins.list(part)))).scalars())
    if wanted - found:
        raise missing_records(what, builtins.list(wanted - found))


def _to_execution(row: Any) -> Execution:
    return Execution(
        execution_id=row.execution_id,
        type=row.type,
        name=row.name,
        state=ExecutionState(row.state),
        started_at=row.started_at,
        ended_at=row.ended_at,
        run_id=row.run_id,
        params=dict(row.params or {}),
        properties=dict(row.properties or {}),
        code_version=row.code_version,
        cache_key=row.cache_key,
        error=row.error,
    )


def _to_event(row: Mapping[str, Any]) -> Event:
    return Event(
        execution_id=row["execution_id"],
        artifact_id=row["artifact_id"],
        type=EventType(row["type"]),
        role=row["role"],
        timestamp=row["timestamp"],
    )


def _to_context(row: Any) -> Context:
    return Context(
        context_id=row.context_id,
        type=row.type,
        name=row.name,
        properties=dict(row.properties or {}),
        created_at=row.created_at,
    )
