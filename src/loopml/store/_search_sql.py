"""Translate the search AST (:mod:`loopml.store.search`) to SQLAlchemy expressions.

Every value becomes a bound parameter; no SQL is built from strings. A metric condition is
``run_id IN (SELECT run_id FROM latest_metrics WHERE key = ? AND is_nan = false AND value > ?)``,
served by the ``(key, is_nan, value, run_id)`` index, or the same test as a correlated ``EXISTS``
(see :func:`filter_clause`); NaN matches only ``!=``. Sorting by a metric, param or tag puts runs
lacking it last (and NaN metrics after the numbers).

When the first sort key is a metric, :func:`ordered_segments` splits the search into three queries
read one after another: runs whose metric is a number (ordered straight off the index, so a page
is found without sorting every match), runs whose metric is NaN, and runs lacking it.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa

from loopml.errors import InvalidInput
from loopml.store._schema import LatestMetricRow, ParamRow, RunRow, RunTagRow
from loopml.store.search import BoolOp, Comparison, Entity, FilterNode, OrderKey

__all__ = ["filter_clause", "metric_first", "order_query", "ordered_segments"]

_RUNS = cast(sa.Table, RunRow.__table__)
_ATTRIBUTE_COLUMNS = {
    "status": _RUNS.c.status,
    "run_name": _RUNS.c.name,
    "run_id": _RUNS.c.run_id,
    "experiment_id": _RUNS.c.experiment_id,
    "start_time": _RUNS.c.start_time,
    "end_time": _RUNS.c.end_time,
}
# Core tables, aliased per condition with ``Table.alias()``: building statements from ORM
# ``aliased()`` classes cost several milliseconds per search in attribute adaptation.
_KEYED_TABLES: dict[Entity, sa.Table] = {
    Entity.METRIC: cast(sa.Table, LatestMetricRow.__table__),
    Entity.PARAM: cast(sa.Table, ParamRow.__table__),
    Entity.TAG: cast(sa.Table, RunTagRow.__table__),
}


def filter_clause(node: FilterNode, *, correlated: bool = False) -> sa.ColumnElement[bool]:
    """The ``WHERE`` condition on the ``runs`` table for a parsed filter.

    Args:
        node: The parsed filter.
        correlated: Test metric, param and tag conditions with ``EXISTS`` probes through the
            ``(run_id, key)`` primary keys (best when runs are visited in index order and a page
            fills early, see :func:`ordered_segments`) instead of ``run_id IN (matching ids)``
            (best for a selective filter). PostgreSQL plans a semi-join for both; SQLite follows
            the form literally.
    """
    if isinstance(node, BoolOp):
        parts = [filter_clause(operand, correlated=correlated) for operand in node.operands]
        return sa.and_(*parts) if node.op == "AND" else sa.or_(*parts)
    if node.entity is Entity.ATTRIBUTE:
        return _compare(_ATTRIBUTE_COLUMNS[node.key], node)
    model = _KEYED_TABLES[node.entity].alias().c
    condition = _compare(model.value, node)
    if node.entity is Entity.METRIC:
        # ``is_nan = false`` (not ``IS FALSE``) so the (key, is_nan, value) index serves it.
        if node.op == "!=":
            condition = sa.or_(model.is_nan == sa.true(), condition)
        else:
            condition = sa.and_(model.is_nan == sa.false(), condition)
    if correlated:
        return sa.exists().where(model.run_id == _RUNS.c.run_id, model.key == node.key, condition)
    return _RUNS.c.run_id.in_(sa.select(model.run_id).where(model.key == node.key, condition))


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
        table = _KEYED_TABLES[key.entity].alias()
        model = table.c
        query = query.outerjoin(table, sa.and_(model.run_id == _RUNS.c.run_id, model.key == key.key))
        if key.entity is Entity.METRIC:
            rank = sa.case((model.run_id.is_(None), 2), (model.is_nan.is_(True), 1), else_=0)
        else:
            rank = sa.case((model.run_id.is_(None), 1), else_=0)
        clauses.append(rank)
        clauses.append(model.value.desc() if key.descending else model.value.asc())
    clauses += [_RUNS.c.start_time.desc(), _RUNS.c.run_id.asc()]
    return query.order_by(*clauses)


def ordered_segments(query: sa.Select[Any], keys: list[OrderKey]) -> list[sa.Select[Any]]:
    """Ordered queries whose concatenation is ``order_query(query, keys)``'s result.

    One query unless the first key is a metric; then: numeric values ordered by value, NaN
    values, runs lacking the metric, each ordered further by the remaining keys.
    """
    if not metric_first(keys):
        return [order_query(query, keys)]
    first, rest = keys[0], keys[1:]
    table = _KEYED_TABLES[Entity.METRIC].alias()
    model = table.c
    joined = query.join(table, sa.and_(model.run_id == _RUNS.c.run_id, model.key == first.key))
    by_value = model.value.desc() if first.descending else model.value.asc()
    numbers = order_query(joined.where(model.is_nan == sa.false()).order_by(by_value), rest)
    nans = order_query(joined.where(model.is_nan == sa.true()), rest)
    has_metric = sa.exists().where(model.run_id == _RUNS.c.run_id, model.key == first.key)
    lacking = order_query(query.where(~has_metric), rest)
    return [numbers, nans, lacking]


def metric_first(keys: list[OrderKey]) -> bool:
    """Whether the first sort key is a metric (:func:`ordered_segments` then walks the index)."""
    return bool(keys) and keys[0].entity is Entity.METRIC
