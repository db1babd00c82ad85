"""SQL implementation of :class:`~loopml.store.repositories.TraceRepository`.

A trace is one row of ``traces`` with its tags and request metadata in two key/value tables; its
span data lives in the blob store, the row keeping its content address once uploaded. Searches
are one query: conditions on tags and metadata are ``EXISTS`` subqueries, pages are offsets.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from loopml.errors import Conflict, InvalidInput, InvalidState, NotFound
from loopml.store._engine import Database
from loopml.store._paging import check_max_results, chunks, decode_token, encode_token
from loopml.store._schema import EXPERIMENTS, TRACE_METADATA, TRACE_TAGS, TRACES
from loopml.store._stamps import new_id
from loopml.store.entities import LifecycleStage, Page, Trace, TraceStatus
from loopml.store.missing import missing_experiment, missing_trace
from loopml.store.trace_queries import TraceCondition, TraceField, TraceOrder
from loopml.store.validation import check_record_key, check_tag_value

__all__ = ["SqlTraceRepository"]

_T = TRACES
_TAGS = TRACE_TAGS
_META = TRACE_METADATA
_MAX_ID = 100


def _checked(items: Mapping[str, str] | None, kind: str) -> dict[str, str]:
    return {
        check_record_key(k, kind=f"trace {kind} key"): check_tag_value(k, v) for k, v in (items or {}).items()
    }


class SqlTraceRepository:
    """Traces, their tags and request metadata in the SQL store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        *,
        experiment_id: str,
        timestamp_ms: int,
        trace_id: str | None = None,
        status: TraceStatus = TraceStatus.IN_PROGRESS,
        execution_time_ms: int | None = None,
        request_metadata: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        request_preview: str | None = None,
        response_preview: str | None = None,
        client_request_id: str | None = None,
    ) -> Trace:
        """Record a trace of an active experiment (a new ``tr-<hex>`` id unless one is given).

        Raises:
            NotFound: no such experiment.
            InvalidState: the experiment is deleted.
            Conflict: a trace with ``trace_id`` exists.
            InvalidInput: a bad id, key or value.
        """
        trace_id = trace_id or f"tr-{new_id()}"
        if not 1 <= len(trace_id) <= _MAX_ID or not trace_id.isprintable() or "/" in trace_id:
            raise InvalidInput(
                f"A trace id has 1 to {_MAX_ID} printable characters and no '/'; got {trace_id!r:.60}."
            )
        metadata, checked_tags = _checked(request_metadata, "metadata"), _checked(tags, "tag")
        row = {
            "trace_id": trace_id,
            "experiment_id": experiment_id,
            "timestamp_ms": int(timestamp_ms),
            "execution_time_ms": execution_time_ms,
            "status": TraceStatus(status).value,
            "request_preview": request_preview,
            "response_preview": response_preview,
            "client_request_id": client_request_id,
        }
        try:
            with self._db.write() as conn:
                _check_active(conn, experiment_id)
                conn.execute(sa.insert(_T).values(**row))
                _put(conn, _TAGS, trace_id, checked_tags)
                _put(conn, _META, trace_id, metadata)
        except IntegrityError as err:
            raise Conflict(f"A trace with id {trace_id!r} is already recorded; start a new trace.") from err
        return self.get(trace_id)

    def get(self, trace_id: str) -> Trace:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_T).where(_T.c.trace_id == trace_id)).first()
            if row is None:
                raise missing_trace(trace_id)
            return _loaded(conn, [row])[0]

    def find_experiment_id(self, trace_id: str) -> str | None:
        """The experiment of a trace, None when no such trace is recorded."""
        with self._db.read() as conn:
            found = conn.execute(sa.select(_T.c.experiment_id).where(_T.c.trace_id == trace_id)).scalar()
        return None if found is None else str(found)

    def end(
        self,
        trace_id: str,
        *,
        end_ms: int,
        status: TraceStatus,
        request_metadata: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Trace:
        """Record how a trace ended: execution time (``end_ms`` - start), status, more metadata and tags."""
        metadata, checked_tags = _checked(request_metadata, "metadata"), _checked(tags, "tag")
        with self._db.write() as conn:
            start = conn.execute(sa.select(_T.c.timestamp_ms).where(_T.c.trace_id == trace_id)).scalar()
            if start is None:
                raise missing_trace(trace_id)
            conn.execute(
                _T.update()
                .where(_T.c.trace_id == trace_id)
                .values(execution_time_ms=max(0, int(end_ms) - int(start)), status=TraceStatus(status).value)
            )
            self._upsert(conn, _TAGS, trace_id, checked_tags)
            self._upsert(conn, _META, trace_id, metadata)
        return self.get(trace_id)

    def set_tag(self, trace_id: str, key: str, value: str) -> None:
        checked = _checked({key: value}, "tag")
        with self._db.write() as conn:
            _check_exists(conn, trace_id)
            self._upsert(conn, _TAGS, trace_id, checked)

    def delete_tag(self, trace_id: str, key: str) -> None:
        """Delete a tag; :class:`NotFound` if the trace has no such tag."""
        with self._db.write() as conn:
            _check_exists(conn, trace_id)
            gone = conn.execute(_TAGS.delete().where(_TAGS.c.trace_id == trace_id, _TAGS.c.key == key))
            if gone.rowcount == 0:
                raise NotFound(f"Trace {trace_id!r} has no tag {key!r}; its tags are listed with the trace.")

    def attach_data(self, trace_id: str, *, sha256: str, size: int) -> None:
        """Record where the trace's span data is stored (replacing what was recorded before)."""
        with self._db.write() as conn:
            done = conn.execute(
                _T.update().where(_T.c.trace_id == trace_id).values(data_sha256=sha256, data_size=size)
            )
            if done.rowcount == 0:
                raise missing_trace(trace_id)

    def search(
        self,
        experiment_ids: Sequence[str],
        *,
        conditions: Sequence[TraceCondition] = (),
        order_by: Sequence[TraceOrder] = (),
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[Trace]:
        """Traces of ``experiment_ids`` passing every condition; newest first unless ordered otherwise."""
        check_max_results(max_results)
        offset = decode_token(page_token)
        query = sa.select(_T).where(_T.c.experiment_id.in_(list(experiment_ids)))
        for condition in conditions:
            query = query.where(_clause(condition))
        keys = [(_T.c[o.key].asc() if o.ascending else _T.c[o.key].desc()) for o in order_by]
        query = (
            query.order_by(*keys, _T.c.timestamp_ms.desc(), _T.c.trace_id)
            .offset(offset)
            .limit(max_results + 1)
        )
        with self._db.read() as conn:
            rows = list(conn.execute(query))
            items = _loaded(conn, rows[:max_results])
        more = len(rows) > max_results
        return Page(items=items, next_page_token=encode_token(offset + max_results) if more else None)

    def delete(
        self,
        experiment_id: str,
        *,
        max_timestamp_ms: int | None = None,
        max_traces: int | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> int:
        """Delete traces of ``experiment_id``: those named, or those started at or before
        ``max_timestamp_ms``, the oldest ``max_traces`` at most. Returns how many were deleted."""
        query = sa.select(_T.c.trace_id).where(_T.c.experiment_id == experiment_id)
        if max_timestamp_ms is not None:
            query = query.where(_T.c.timestamp_ms <= max_timestamp_ms)
        if trace_ids is not None:
            query = query.where(_T.c.trace_id.in_(list(trace_ids)))
        if max_traces is not None:
            query = query.order_by(_T.c.timestamp_ms, _T.c.trace_id).limit(max_traces)
        deleted = 0
        with self._db.write() as conn:
            ids = list(conn.execute(query).scalars())
            for part in chunks(ids):
                for table in (_TAGS, _META):
                    conn.execute(table.delete().where(table.c.trace_id.in_(part)))
                deleted += conn.execute(_T.delete().where(_T.c.trace_id.in_(part))).rowcount
        return deleted

    def _upsert(self, conn: Connection, table: sa.Table, trace_id: str, items: Mapping[str, str]) -> None:
        for key, value in items.items():
            conn.execute(
                self._db.insert(table)
                .values(trace_id=trace_id, key=key, value=value)
                .on_conflict_do_update(index_elements=["trace_id", "key"], set_={"value": value})
            )


def _check_active(conn: Connection, experiment_id: str) -> None:
    stage = conn.execute(
        sa.select(EXPERIMENTS.c.lifecycle_stage).where(EXPERIMENTS.c.experiment_id == experiment_id)
    ).scalar()
    if stage is None:
        raise missing_experiment(experiment_id=experiment_id)
    if stage != LifecycleStage.ACTIVE.value:
        raise InvalidState(f"Experiment {experiment_id!r} is deleted; restore it before tracing into it.")


def _check_exists(conn: Connection, trace_id: str) -> None:
    if conn.execute(sa.select(_T.c.trace_id).where(_T.c.trace_id == trace_id)).first() is None:
        raise missing_trace(trace_id)


def _put(conn: Connection, table: sa.Table, trace_id: str, items: Mapping[str, str]) -> None:
    if items:
        conn.execute(
            sa.insert(table), [{"trace_id": trace_id, "key": k, "value": v} for k, v in items.items()]
        )


def _compare(column: Any, op: str, value: str | int | tuple[str, ...]) -> Any:
    if op == "IN":
        return column.in_(list(value) if isinstance(value, tuple) else [value])
    if op == "NOT IN":
        return column.not_in(list(value) if isinstance(value, tuple) else [value])
    operators: dict[str, Any] = {
        "=": column.__eq__,
        "!=": column.__ne__,
        "<": column.__lt__,
        "<=": column.__le__,
        ">": column.__gt__,
        ">=": column.__ge__,
    }
    return operators[op](value)


def _clause(condition: TraceCondition) -> Any:
    """The SQL of one condition; a tag or metadata condition needs the key to be there."""
    if condition.field is TraceField.ATTRIBUTE:
        return _compare(_T.c[condition.key], condition.op, condition.value)
    table = _TAGS if condition.field is TraceField.TAG else _META
    return sa.exists(
        sa.select(table.c.trace_id).where(
            table.c.trace_id == _T.c.trace_id,
            table.c.key == condition.key,
            _compare(table.c.value, condition.op, condition.value),
        )
    )


def _pairs(conn: Connection, table: sa.Table, ids: Sequence[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {i: {} for i in ids}
    for part in chunks(ids):
        query = sa.select(table.c.trace_id, table.c.key, table.c.value).where(table.c.trace_id.in_(part))
        for trace_id, key, value in conn.execute(query):
            found[trace_id][key] = value
    return found


def _loaded(conn: Connection, rows: Iterable[Row[Any]]) -> builtins.list[Trace]:
    rows = list(rows)
    ids = [r.trace_id for r in rows]
    tags, metadata = _pairs(conn, _TAGS, ids), _pairs(conn, _META, ids)
    return [
        Trace(
            trace_id=r.trace_id,
            experiment_id=r.experiment_id,
            timestamp_ms=int(r.timestamp_ms),
            execution_time_ms=None if r.execution_time_ms is None else int(r.execution_time_ms),
            status=TraceStatus(r.status),
            request_metadata=metadata[r.trace_id],
            tags=tags[r.trace_id],
            request_preview=r.request_preview,
            response_preview=r.response_preview,
            client_request_id=r.client_request_id,
            data_sha256=r.data_sha256,
            data_size=None if r.data_size is None else int(r.data_size),
        )
        for r in rows
    ]
