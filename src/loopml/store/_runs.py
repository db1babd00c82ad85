"""SQL implementation of :class:`~loopml.store.repositories.RunRepository`.

``log_batch`` is one transaction: metric points go in with one ``executemany``; the latest value
of each key is upserted once per batch (``ON CONFLICT ... DO UPDATE WHERE`` newer).
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.types import NullType

from loopml.errors import Conflict, InvalidInput, InvalidState, NotFound
from loopml.store._engine import Database
from loopml.store._paging import check_max_results, chunks, decode_token, encode_token
from loopml.store._run_names import generate_run_name
from loopml.store._schema import (
    EXPERIMENTS,
    LATEST_METRICS,
    METRICS,
    PARAMS,
    RUN_INPUTS,
    RUN_TAGS,
    RUNS,
)
from loopml.store._search_sql import (
    MetricWalk,
    filter_clause,
    metric_first,
    metric_walk,
    ordered_segments,
    pins_run_ids,
    recent_walk,
)
from loopml.store._stamps import new_id, now_ms
from loopml.store.dataset_inputs import dataset_inputs
from loopml.store.entities import LifecycleStage, Metric, MetricSeries, Page, Run, RunStatus
from loopml.store.search import FilterNode, OrderKey, parse_filter, parse_order_by
from loopml.store.validation import (
    check_json,
    check_metric_value,
    check_name,
    check_param_value,
    check_record_key,
    check_step,
    check_tag_value,
    check_timestamp,
    shorten,
)

__all__ = ["SqlRunRepository"]

_RUNS = RUNS
_EXP = EXPERIMENTS
_PARAMS = PARAMS
_TAGS = RUN_TAGS
_METRICS = METRICS
_LATEST = LATEST_METRICS
_INPUTS = RUN_INPUTS
_ACTIVE = LifecycleStage.ACTIVE.value
# Statements of the logging path, built once: constructing them cost more CPU per ``log_metric``
# than SQLite's write (SQLAlchemy still caches their compiled form by structure).
_LOOKUP = sa.select(_RUNS.c.status, _RUNS.c.lifecycle_stage).where(_RUNS.c.run_id == sa.bindparam("run_id"))


def _run_not_found(run_id: str) -> NotFound:
    return NotFound(f"No run with id {run_id!r}; `loopml runs list` lists runs.")


class SqlRunRepository:
    """Runs, their params, tags and metrics in the SQL store.

    Args:
        db: The store's database.
        on_search: Called at the start of every search (the store keeps its planner statistics
            current from there; see :class:`~loopml.store._maintenance.StatisticsWatch`).
    """

    def __init__(self, db: Database, *, on_search: Callable[[], None] | None = None) -> None:
        self._db = db
        self._on_search = on_search

    def create(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        parent_run_id: str | None = None,
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Run:
        """Create a RUNNING run in an active experiment."""
        name = generate_run_name() if name is None else check_name(name, kind="run name")
        start = now_ms() if start_time is None else check_timestamp(start_time, what="start_time")
        checked_tags = _check_tags(tags or {})
        run_id = new_id()
        values: dict[str, Any] = {
            "run_id": run_id,
            "experiment_id": experiment_id,
            "name": name,
            "status": RunStatus.RUNNING.value,
            "start_time": start,
            "end_time": None,
            "parent_run_id": parent_run_id,
            "lifecycle_stage": _ACTIVE,
            "error": None,
            "reproducibility": {},
        }
        with self._db.write() as conn:
            if parent_run_id is not None:
                self._lookup(conn, parent_run_id)
            # One round trip: the row goes in only if the experiment exists and is active.
            source = sa.select(
                *(sa.literal(v, type_=_RUNS.c[k].type).label(k) for k, v in values.items())
            ).where(_EXP.c.experiment_id == experiment_id, _EXP.c.lifecycle_stage == _ACTIVE)
            insert = sa.insert(_RUNS).from_select(list(values), source).returning(_RUNS.c.run_id)
            if conn.execute(insert).first() is None:
                _raise_unusable_experiment(conn, experiment_id)
            if checked_tags:
                conn.execute(
                    sa.insert(_TAGS),
                    [{"run_id": run_id, "key": k, "value": v} for k, v in checked_tags.items()],
                )
        return Run(
            run_id=run_id,
            experiment_id=experiment_id,
            name=name,
            status=RunStatus.RUNNING,
            start_time=start,
            end_time=None,
            parent_run_id=parent_run_id,
            lifecycle_stage=LifecycleStage.ACTIVE,
            params={},
            metrics={},
            tags=checked_tags,
            error=None,
            reproducibility={},
        )

    def get(self, run_id: str) -> Run:
        with self._db.read() as conn:
            runs = self._load(conn, [run_id])
        if not runs:
            raise _run_not_found(run_id)
        return runs[0]

    def set_status(
        self, run_id: str, status: RunStatus, *, end_time: int | None = None, error: str | None = None
    ) -> Run:
        """Move a run to ``status``; a terminal status sets ``end_time`` (now by default)."""
        try:
            status = RunStatus(status)
        except ValueError as err:
            valid = ", ".join(s.value for s in RunStatus)
            raise InvalidInput(f"Unknown run status {status!r}; use one of {valid}.") from err
        if end_time is not None:
            check_timestamp(end_time, what="end_time")
        if error is not None and not isinstance(error, str):
            raise InvalidInput(f"The run error must be a string; got {type(error).__name__}.")
        values: dict[str, Any] = {"status": status.value, "error": error}
        if status.is_terminal:
            values["end_time"] = now_ms() if end_time is None else end_time
        else:
            values["end_time"] = None
        with self._db.write() as conn:
            updated = conn.execute(
                sa.update(_RUNS)
                .where(_RUNS.c.run_id == run_id, _RUNS.c.lifecycle_stage == _ACTIVE)
                .values(**values)
            ).rowcount
            if updated != 1:
                self._lookup(conn, run_id)  # NotFound for an unknown run
                raise InvalidState(
                    f"Run {run_id} is deleted; restore it with `loopml runs restore {run_id}` first."
                )
            runs = self._load(conn, [run_id])
        return runs[0]

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Write metrics, params and tags in one transaction (all or nothing).

        Raises:
            InvalidInput: for a bad key or value (nothing is written).
            Conflict: for a param already logged with another value.
            InvalidState: when the run is finished or deleted.
            NotFound: for an unknown run.
        """
        metric_rows = _metric_rows(run_id, metrics)
        checked_params = {
            check_record_key(k, kind="param key"): check_param_value(k, v) for k, v in (params or {}).items()
        }
        checked_tags = _check_tags(tags or {})
        with self._db.write() as conn:
            self._require_running(conn, run_id)
            if checked_params:
                self._write_params(conn, run_id, checked_params)
            if checked_tags:
                stmt = self._db.insert(_TAGS)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["run_id", "key"], set_={"value": stmt.excluded.value}
                )
                conn.execute(
                    stmt, [{"run_id": run_id, "key": k, "value": v} for k, v in checked_tags.items()]
                )
            if metric_rows:
                self._db.bulk_insert(conn, _METRICS, metric_rows)
                self._upsert_latest(conn, metric_rows)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove tag ``key`` of a RUNNING run.

        Raises:
            NotFound: for an unknown run or a tag the run does not have.
            InvalidState: when the run is finished or deleted.
        """
        with self._db.write() as conn:
            self._require_running(conn, run_id)
            result = conn.execute(sa.delete(_TAGS).where(_TAGS.c.run_id == run_id, _TAGS.c.key == key))
            if result.rowcount == 0:
                raise NotFound(
                    f"Run {run_id} has no tag {key!r}; `loopml runs show {run_id}` lists its tags."
                )

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of metric ``key`` of a run, by step then time."""
        with self._db.read() as conn:
            self._lookup(conn, run_id)
            rows = conn.execute(
                sa.select(_METRICS.c.key, _METRICS.c.value, _METRICS.c.step, _METRICS.c.timestamp)
                .where(_METRICS.c.run_id == run_id, _METRICS.c.key == key)
                .order_by(_METRICS.c.step, _METRICS.c.timestamp, _METRICS.c.id)
            ).all()
        return [Metric(key=r.key, value=r.value, step=r.step, timestamp=r.timestamp) for r in rows]

    def get_metric_histories(self, run_ids: Sequence[str], key: str) -> dict[str, list[Metric]]:
        """Every point of metric ``key`` of each run, by step then time, read in one query per 500 runs.

        Runs that do not exist or never logged ``key`` are left out of the answer (no error): a
        chart of many runs asks once instead of once per run.
        """
        return {
            run_id: [
                Metric(key=key, value=v, step=s, timestamp=t)
                for s, v, t in zip(series.steps, series.values, series.timestamps, strict=True)
            ]
            for run_id, series in self.get_metric_series(run_ids, key).items()
        }

    def get_metric_series(self, run_ids: Sequence[str], key: str) -> dict[str, MetricSeries]:
        """:meth:`get_metric_histories` as columns, with no object per point (a chart's read).

        Rows are fetched at once, values read as plain doubles (NULL is SQLite's NaN, as
        MetricValue reads it) and unpacked by position into each run's lists: a compare of 100
        runs x 100 steps reads 10,000 points, and a ``Metric`` per point cost as much as the query.
        """
        found: dict[str, MetricSeries] = {}
        value: sa.ColumnElement[float] = sa.type_coerce(_METRICS.c.value, sa.Double())
        nan = math.nan
        with self._db.read() as conn:
            for part in chunks(list(dict.fromkeys(run_ids))):
                rows = conn.execute(
                    sa.select(_METRICS.c.run_id, value, _METRICS.c.step, _METRICS.c.timestamp)
                    .where(_METRICS.c.run_id.in_(list(part)), _METRICS.c.key == key)
                    .order_by(_METRICS.c.run_id, _METRICS.c.step, _METRICS.c.timestamp, _METRICS.c.id)
                ).all()
                for run_id, points in itertools.groupby(rows, key=operator.itemgetter(0)):
                    run_rows = list(points)
                    found[run_id] = MetricSeries(
                        steps=[r[2] for r in run_rows],
                        values=[nan if r[1] is None else r[1] for r in run_rows],
                        timestamps=[r[3] for r in run_rows],
                    )
        return found

    def set_reproducibility(self, run_id: str, record: Mapping[str, Any]) -> None:
        """Replace the reproducibility record of a run (a JSON-serialisable mapping).

        The dataset inputs it names are indexed for ``datasets.*`` search
        (:mod:`loopml.store.dataset_inputs`).
        """
        checked = check_json(record, what="reproducibility record")
        with self._db.write() as conn:
            row = self._lookup(conn, run_id)
            if row.lifecycle_stage != _ACTIVE:
                raise InvalidState(
                    f"Run {run_id} is deleted; restore it with `loopml runs restore {run_id}` first."
                )
            conn.execute(sa.update(_RUNS).where(_RUNS.c.run_id == run_id).values(reproducibility=checked))
            conn.execute(sa.delete(_INPUTS).where(_INPUTS.c.run_id == run_id))
            inputs = [
                {"run_id": run_id, "position": i, "name": d.name, "digest": d.digest, "context": d.context}
                for i, d in enumerate(dataset_inputs(checked))
            ]
            if inputs:
                conn.execute(sa.insert(_INPUTS), inputs)

    def delete(self, run_id: str) -> None:
        self._set_stage(run_id, LifecycleStage.DELETED)

    def restore(self, run_id: str) -> None:
        self._set_stage(run_id, LifecycleStage.ACTIVE)

    def search(
        self,
        experiment_ids: Sequence[str],
        *,
        filter: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> Page[Run]:
        """Search runs of ``experiment_ids`` (all experiments when empty) with the filter grammar.

        Raises:
            InvalidInput: for a bad filter, order_by, max_results or page_token.
        """
        limit = check_max_results(max_results)
        offset = decode_token(page_token)
        if self._on_search is not None:
            self._on_search()
        if isinstance(experiment_ids, str):
            experiment_ids = [experiment_ids]
        plan = _SearchPlan(
            dialect=self._db.dialect,
            experiment_ids=tuple(experiment_ids),
            filter=filter,
            order_by=tuple(order_by),
            include_deleted=include_deleted,
        )
        with self._db.read() as conn:
            walk = _walk_of(plan, offset + limit + 1)
            found = None if walk is None else walk.page(_run_walk(conn, walk))
            if found is not None:
                ids = found[offset:]
            else:
                ids = _page_of_ids(conn, _segments_of(plan), offset=offset, count=limit + 1)
            has_more = len(ids) > limit
            runs = self._load(conn, ids[:limit])
        return Page(items=runs, next_page_token=encode_token(offset + limit) if has_more else None)

    def _set_stage(self, run_id: str, stage: LifecycleStage) -> None:
        with self._db.write() as conn:
            result = conn.execute(
                sa.update(_RUNS).where(_RUNS.c.run_id == run_id).values(lifecycle_stage=stage.value)
            )
            if result.rowcount == 0:
                raise _run_not_found(run_id)

    def _lookup(self, conn: Connection, run_id: str) -> Any:
        row = conn.execute(_LOOKUP, {"run_id": run_id}).first()
        if row is None:
            raise _run_not_found(run_id)
        return row

    def _require_running(self, conn: Connection, run_id: str) -> None:
        row = self._lookup(conn, run_id)
        if row.lifecycle_stage != _ACTIVE:
            raise InvalidState(
                f"Run {run_id} is deleted; nothing can be logged to it. Start a new run, or restore "
                f"it with `loopml runs restore {run_id}`."
            )
        if row.status != RunStatus.RUNNING.value:
            raise InvalidState(f"Run {run_id} is {row.status}; start a new run to log more.")

    def _write_params(self, conn: Connection, run_id: str, params: dict[str, str]) -> None:
        # Insert what is new, then read every key back: a key logged before (or by a racing
        # writer) with another value is a Conflict, which rolls the whole batch back.
        stmt = self._db.insert(_PARAMS).on_conflict_do_nothing(index_elements=["run_id", "key"])
        conn.execute(stmt, [{"run_id": run_id, "key": k, "value": v} for k, v in params.items()])
        _check_param_conflicts(run_id, params, self._params_of(conn, run_id, list(params)))

    def _load(self, conn: Connection, run_ids: list[str]) -> list[Run]:
        if self._db.dialect == "postgresql":
            return _load_runs_postgres(conn, run_ids)
        return _load_runs(conn, run_ids)

    @staticmethod
    def _params_of(conn: Connection, run_id: str, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for part in chunks(keys):
            rows = conn.execute(
                sa.select(_PARAMS.c.key, _PARAMS.c.value).where(
                    _PARAMS.c.run_id == run_id, _PARAMS.c.key.in_(list(part))
                )
            )
            found.update({r.key: r.value for r in rows})
        return found

    def _upsert_latest(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        latest: dict[str, dict[str, Any]] = {}
        for row in rows:  # a later point wins ties, as in the upsert's WHERE below
            best = latest.get(row["key"])
            if best is None or (row["step"], row["timestamp"]) >= (best["step"], best["timestamp"]):
                latest[row["key"]] = row
        conn.execute(
            self._latest_upsert, [{**row, "is_nan": math.isnan(row["value"])} for row in latest.values()]
        )

    @functools.cached_property
    def _latest_upsert(self) -> Any:
        """``INSERT`` a metric's latest point, replacing the stored one only by a newer point."""
        stmt = self._db.insert(_LATEST)
        newer = sa.or_(
            stmt.excluded.step > _LATEST.c.step,
            sa.and_(stmt.excluded.step == _LATEST.c.step, stmt.excluded.timestamp >= _LATEST.c.timestamp),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["run_id", "key"],
            set_={
                "value": stmt.excluded.value,
                "is_nan": stmt.excluded.is_nan,
                "step": stmt.excluded.step,
                "timestamp": stmt.excluded.timestamp,
            },
            where=newer,
        )
        return stmt


@dataclass(frozen=True, slots=True)
class _SearchPlan:
    """What a search's statements depend on (not the page asked for): their cache key."""

    dialect: str
    experiment_ids: tuple[str, ...]
    filter: str | None
    order_by: tuple[str, ...]
    include_deleted: bool


# Building a search's SQLAlchemy statements costs 1-2 ms of CPU, as much as PostgreSQL needs
# to run them; a dashboard or a pager repeats the same search, so the built statements (values
# bound as parameters) are kept for the most recent searches.
@functools.lru_cache(maxsize=256)
def _conditions_of(
    plan: _SearchPlan,
) -> tuple[tuple[sa.ColumnElement[bool], ...], FilterNode | None, list[OrderKey]]:
    """The run-level conditions, the parsed filter and the parsed order (filter not applied)."""
    node = parse_filter(plan.filter)
    keys = parse_order_by(list(plan.order_by))
    conditions = [_in_experiments(plan, by_run_id=pins_run_ids(node))]
    if not plan.include_deleted:
        conditions.append(_RUNS.c.lifecycle_stage == _ACTIVE)
    return tuple(conditions), node, keys  # cached: shared by every later search, so immutable


@functools.lru_cache(maxsize=256)
def _segments_of(plan: _SearchPlan) -> list[sa.Select[Any]]:
    """The planner's ordered queries for ``plan`` (see :func:`ordered_segments`)."""
    conditions, node, keys = _conditions_of(plan)
    if node is not None:
        conditions = (*conditions, filter_clause(node, correlated=metric_first(keys)))
    return ordered_segments(sa.select(_RUNS.c.run_id).where(*conditions), keys)


@functools.lru_cache(maxsize=256)
def _walk_of(plan: _SearchPlan, wanted: int) -> MetricWalk | None:
    """A bounded walk of an index in the page's order, when one serves it.

    Ordered by one metric, on PostgreSQL: that metric's index (:func:`metric_walk`; SQLite's
    planner already reads that index in order). Filtered in the default order within one
    experiment, on both backends: its runs newest first (:func:`recent_walk`).
    """
    conditions, node, keys = _conditions_of(plan)
    if len(keys) == 1 and metric_first(keys):
        return metric_walk(list(conditions), node, keys[0], wanted) if plan.dialect == "postgresql" else None
    if keys or node is None or len(plan.experiment_ids) != 1 or pins_run_ids(node):
        return None
    return recent_walk(_in_one_experiment(plan), node, wanted, dialect=plan.dialect)


def _in_one_experiment(plan: _SearchPlan) -> list[sa.ColumnElement[bool]]:
    """Runs of the plan's only experiment, by equality (so its ``(experiment_id, start_time)`` index
    serves the order), with the experiment's own lifecycle tested once (an uncorrelated ``EXISTS``)."""
    (experiment_id,) = plan.experiment_ids
    conditions = [_RUNS.c.experiment_id == experiment_id]
    if not plan.include_deleted:
        active = sa.exists().where(_EXP.c.experiment_id == experiment_id, _EXP.c.lifecycle_stage == _ACTIVE)
        conditions += [active, _RUNS.c.lifecycle_stage == _ACTIVE]
    return conditions


def _run_walk(conn: Connection, walk: MetricWalk) -> list[str]:
    """Run ids from a walk, as a prepared statement on the driver's cursor (PostgreSQL)."""
    if walk.dialect != "postgresql":
        return [row[0] for row in conn.exec_driver_sql(walk.sql, dict(walk.params))]
    return [row[0] for row in Database.driver_rows(conn, walk.sql, walk.params, prepare=True)]


def _in_experiments(plan: _SearchPlan, *, by_run_id: bool = False) -> sa.ColumnElement[bool]:
    """Runs of the plan's experiments (all when none), of active experiments unless deleted ones count.

    ``by_run_id``: the filter names the runs. SQLite, which keeps no statistics, would then still
    walk the experiments' ``(experiment_id, start_time)`` index (every run of the experiment, 110 ms
    at 100,000 runs) to spare the sort of a hundred rows; testing the experiment on an expression
    leaves it the primary key.
    """
    experiment_ids = list(plan.experiment_ids)
    experiment: sa.ColumnElement[Any] = _RUNS.c.experiment_id
    if by_run_id and plan.dialect == "sqlite":
        experiment = experiment + ""  # ``runs.experiment_id || ''``: no index serves it
    if plan.include_deleted:
        return experiment.in_(experiment_ids) if experiment_ids else sa.true()
    experiments = sa.select(_EXP.c.experiment_id).where(_EXP.c.lifecycle_stage == _ACTIVE)
    if experiment_ids:
        experiments = experiments.where(_EXP.c.experiment_id.in_(experiment_ids))
    if plan.dialect == "postgresql":
        # ``= ANY(ARRAY(subquery))`` is computed once before the join; as a semi-join the
        # experiments table would join the planner's search (a third of its planning time).
        return _RUNS.c.experiment_id == sa.any_(sa.func.array(experiments.scalar_subquery()))
    return experiment.in_(experiments)


def _page_of_ids(conn: Connection, segments: list[sa.Select[Any]], *, offset: int, count: int) -> list[str]:
    """Up to ``count`` ids from ``offset`` of the concatenated, ordered ``segments``."""
    ids: list[str] = []
    for segment in segments:
        # Rows before ``offset`` may lie in this segment or in earlier ones: read from the start
        # of the segment until the page is full, then drop what precedes the offset.
        found = list(conn.execute(segment.limit(offset + count - len(ids))).scalars())
        skip = min(offset, len(found))
        offset -= skip
        ids += found[skip:]
        if len(ids) >= count:
            break
    return ids


def _raise_unusable_experiment(conn: Connection, experiment_id: str) -> None:
    experiment = conn.execute(
        sa.select(_EXP.c.lifecycle_stage).where(_EXP.c.experiment_id == experiment_id)
    ).first()
    if experiment is None:
        raise NotFound(f"No experiment with id {experiment_id!r}; `loopml experiments list` lists them.")
    raise InvalidState(
        f"Experiment {experiment_id} is deleted; restore it with "
        f"`loopml experiments restore {experiment_id}` or use another experiment."
    )


def _check_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {check_record_key(k, kind="tag key"): check_tag_value(k, v) for k, v in tags.items()}


def _check_param_conflicts(run_id: str, params: Mapping[str, str], existing: Mapping[str, str]) -> None:
    for key, value in params.items():
        old = existing.get(key)
        if old is not None and old != value:
            raise Conflict(
                f"Param {shorten(key)!r} of run {run_id} is already {shorten(old)!r}; it cannot change "
                f"to {shorten(value)!r}. Params are immutable: start a new run or use another key."
            )


def _metric_rows(run_id: str, metrics: Sequence[Metric]) -> list[dict[str, Any]]:
    rows = []
    seen: set[str] = set()
    for metric in metrics:
        if not isinstance(metric, Metric):
            raise InvalidInput(
                f"log_batch metrics must be Metric objects; got {type(metric).__name__} {metric!r:.60}."
            )
        key = metric.key
        if key not in seen:
            check_record_key(key, kind="metric key")
            seen.add(key)
        rows.append(
            {
                "run_id": run_id,
                "key": key,
                "value": check_metric_value(key, metric.value),
                "step": check_step(key, metric.step),
                "timestamp": check_timestamp(metric.timestamp, what="metric timestamp"),
            }
        )
    return rows


def _load_runs(conn: Connection, run_ids: list[str]) -> list[Run]:
    """Full runs for ``run_ids``, in that order (unknown ids are skipped)."""
    rows: dict[str, Any] = {}
    params: dict[str, dict[str, str]] = {}
    tags: dict[str, dict[str, str]] = {}
    metrics: dict[str, dict[str, float]] = {}
    for part in chunks(run_ids):
        ids = list(part)
        rows.update({r.run_id: r for r in conn.execute(sa.select(_RUNS).where(_RUNS.c.run_id.in_(ids)))})
        for table, target in ((_PARAMS, params), (_TAGS, tags)):
            query = sa.select(table.c.run_id, table.c.key, table.c.value).where(table.c.run_id.in_(ids))
            for r in conn.execute(query):
                target.setdefault(r.run_id, {})[r.key] = r.value
        query = sa.select(_LATEST.c.run_id, _LATEST.c.key, _LATEST.c.value).where(_LATEST.c.run_id.in_(ids))
        for r in conn.execute(query):
            metrics.setdefault(r.run_id, {})[r.key] = r.value
    return [
        _to_run(rows[i]._mapping, params.get(i, {}), metrics.get(i, {}), tags.get(i, {}))
        for i in run_ids
        if i in rows
    ]


@functools.cache
def _postgres_page_sql() -> str:
    """The SQL of :func:`_load_runs_postgres`, compiled once (``%(ids)s`` is bound per call).

    The ids are unnested in order and each run is fetched through a ``LATERAL`` primary-key probe
    (a plain ``run_id = ANY(ids)``, or the probe merged into a join, was planned as a scan of
    every run). Params, tags and latest
    metrics are read once per run by one ``LATERAL`` aggregate per table giving keys and values
    as parallel arrays.
    """
    from sqlalchemy.dialects import postgresql  # imported by PostgreSQL stores only
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    ids = sa.bindparam("ids", type_=postgresql.ARRAY(sa.String))
    page = sa.func.unnest(ids).table_valued("run_id", with_ordinality="n").render_derived(name="page")
    # OFFSET 0 keeps the probe per id: merged into a join, it was planned as a hash join over a
    # scan of every run (1.2 of 2.3 ms for a page of 100 out of 10,000 runs, even with statistics).
    run = sa.select(_RUNS).where(_RUNS.c.run_id == page.c.run_id).offset(sa.literal_column("0")).lateral("r")
    columns: list[Any] = [run.c[c.name] for c in _RUNS.c]
    joined: Any = page.join(run, sa.true())
    for name, table in (("params", _PARAMS), ("tags", _TAGS), ("metrics", _LATEST)):
        # Untyped: psycopg already returns lists; no per-item processing.
        aggregates = (
            sa.func.array_agg(aggregate_order_by(table.c[part], table.c.key), type_=NullType()).label(part)
            for part in ("key", "value")
        )
        arrays = sa.select(*aggregates).where(table.c.run_id == run.c.run_id).lateral(name)
        joined = joined.outerjoin(arrays, sa.true())
        columns += [arrays.c.key.label(f"{name}_keys"), arrays.c.value.label(f"{name}_values")]
    query = sa.select(*columns).select_from(joined).order_by(page.c.n)
    return str(query.compile(dialect=postgresql.psycopg.dialect()))  # type: ignore[no-untyped-call]


def _load_runs_postgres(conn: Connection, run_ids: list[str]) -> list[Run]:
    """Full runs for ``run_ids``, in that order, in one round trip (unknown ids are skipped).

    Runs on the driver's cursor: SQLAlchemy's result processing cost more than the query itself
    for a page of 100 runs; the columns are read by position, in ``runs`` table order.
    """
    if not run_ids:
        return []
    rows = Database.driver_rows(conn, _postgres_page_sql(), {"ids": run_ids})
    width = len(_RUNS.c)
    runs = []
    for row in rows:
        run = dict(zip(_RUN_COLUMNS, row[:width], strict=True))
        params_keys, params_values, tags_keys, tags_values, metrics_keys, metrics_values = row[width:]
        metrics = {
            k: math.nan if v is None else float(v)
            for k, v in zip(metrics_keys or (), metrics_values or (), strict=True)
        }
        runs.append(
            _to_run(
                run,
                dict(zip(params_keys or (), params_values or (), strict=True)),
                metrics,
                dict(zip(tags_keys or (), tags_values or (), strict=True)),
            )
        )
    return runs


_RUN_COLUMNS = tuple(c.name for c in _RUNS.c)


def _to_run(
    row: Mapping[str, Any], params: dict[str, str], metrics: dict[str, float], tags: dict[str, str]
) -> Run:
    """A :class:`Run` from a ``runs`` row (column name to value) and its keyed values."""
    return Run(
        run_id=row["run_id"],
        experiment_id=row["experiment_id"],
        name=row["name"],
        status=RunStatus(row["status"]),
        start_time=row["start_time"],
        end_time=row["end_time"],
        parent_run_id=row["parent_run_id"],
        lifecycle_stage=LifecycleStage(row["lifecycle_stage"]),
        params=params,
        metrics=metrics,
        tags=tags,
        error=row["error"],
        reproducibility=dict(row["reproducibility"] or {}),
    )
