"""Translate the search AST (:mod:`loopml.store.search`) to SQLAlchemy expressions.

Every value becomes a bound parameter; no SQL is built from strings. Metric conditions are
``run_id IN (SELECT run_id FROM latest_metrics WHERE key = ? AND value > ?)``, served by the
``(key, value)`` index; NaN matches only ``!=``. Sorting by a metric, param or tag puts runs lacking it last.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from loopml.errors import InvalidInput
from loopml.store._schema import LatestMetricRow, ParamRow, RunRow, RunTagRow
from loopml.store.search import BoolOp, Comparison, Entity, FilterNode, OrderKey

__all__ = ["filter_clause", "order_query"]

_RUNS = cast(sa.Table, RunRow.__table__)
_ATTRIBUTE_COLUMNS = {
    "status": _RUNS.c.status,
    "run_name": _RUNS.c.name,
    "run_id": _RUNS.c.run_id,
    "experiment_id": _RUNS.c.experiment_id,
    "start_time": _RUNS.c.start_time,
    "end_time": _RUNS.c.end_time,
}
_KEYED_TABLES: dict[Entity, Any] = {
    Entity.METRIC: LatestMetricRow,
    Entity.PARAM: ParamRow,
    Entity.TAG: RunTagRow,
}


def filter_clause(node: FilterNode) -> sa.ColumnElement[bool]:
    """The ``WHERE`` condition on the ``runs`` table for a parsed filter."""
    if isinstance(node, BoolOp):
        parts = [filter_clause(operand) for operand in node.operands]
        return sa.and_(*parts) if node.op == "AND" else sa.or_(*parts)
    if node.entity is Entity.ATTRIBUTE:
        return _compare(_ATTRIBUTE_COLUMNS[node.key], node)
    model = aliased(_KEYED_TABLES[node.entity])
    condition = _compare(model.value, node)
    if node.entity is Entity.METRIC:
        if node.op == "!=":
            condition = sa.or_(model.is_nan.is_(True), condition)
        else:
            condition = sa.and_(model.is_nan.is_(False), condition)
    matching = sa.select(model.run_id).where(model.key == node.key, condition)
    return _RUNS.c.run_id.in_(matching)


def _compare(column: Any, node: Comparison) -> sa.ColumnElement[bool]:
    value = node.value
    match node.op:
        case "=":
            return column == value  # type: ignore[no-any-return]
        case "!=":
            return column != value  # type: ignore[no-any-return]
        case "<":
            return column < value  # type: ignore[no-any-return]
        case "<=":
            return column <= value  # type: ignore[no-any-return]
        case ">":
            return column > value  # type: ignore[no-any-return]
        case ">=":
            return column >= value  # type: ignore[no-any-return]
        case "LIKE":
            return column.like(value)  # type: ignore[no-any-return]
        case "ILIKE":
            return column.ilike(value)  # type: ignore[no-any-return]
        case "IN":
            return column.in_(value)  # type: ignore[no-any-return]
        case "NOT IN":
            return column.not_in(value)  # type: ignore[no-any-return]
    raise InvalidInput(f"Unsupported search operator {node.op!r}.")  # pragma: no cover


def order_query(query: sa.Select[Any], keys: list[OrderKey]) -> sa.Select[Any]:
    """Add the joins and ``ORDER BY`` for ``keys``, then start time (newest first) and run id."""
    clauses: list[Any] = []
    for key in keys:
        if key.entity is Entity.ATTRIBUTE:
            column = _ATTRIBUTE_COLUMNS[key.key]
            clauses.append(sa.case((column.is_(None), 1), else_=0))
            clauses.append(column.desc() if key.descending else column.asc())
            continue
        model = aliased(_KEYED_TABLES[key.entity])
        query = query.outerjoin(model, sa.and_(model.run_id == _RUNS.c.run_id, model.key == key.key))
        if key.entity is Entity.METRIC:
            rank = sa.case((model.run_id.is_(None), 2), (model.is_nan.is_(True), 1), else_=0)
        else:
            rank = sa.case((model.run_id.is_(None), 1), else_=0)
        clauses.append(rank)
        clauses.append(model.value.desc() if key.descending else model.value.asc())
    clauses += [_RUNS.c.start_time.desc(), _RUNS.c.run_id.asc()]
    return query.order_by(*clauses)
