"""The web UI benchmark's runs, loaded fast into the store's own tables (``benchmarks/ui.py --bulk``).

The issue's scale (100,000 runs x 20 metrics x 100 steps: 200M metric points) takes days through
``log_batch`` on this machine. Here the database computes the rows itself: the run ids go into a
temporary table, and each metric point is one row of ``INSERT ... SELECT`` over that table crossed
with the metric keys and the steps, in the order ``log_batch`` writes them (run by run, key by key,
step by step), so nothing travels through Python per point.

The big tables are loaded without their indexes, and on PostgreSQL without their primary and
foreign keys; afterwards each index and constraint is created again from the store's own
:data:`~loopml.store._schema.METADATA` (the same names and definitions), so the measured database
has exactly the schema :func:`~loopml.store.sql.open_store` creates. The data are those of the
per-run fill of ``benchmarks/ui.py``: every tenth run the child of the one before, params ``lr``
and ``model``, tag ``team``, metric ``mK`` at step ``s`` of run ``i`` worth ``((7i + 13K + s) mod 97) / 97``,
and the latest value per key.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

from loopml.deploy.records import Deployment
from loopml.deploy.spec import DeploymentSpec
from loopml.monitor import prediction_table, write_prediction_table
from loopml.monitor.alerts import AlertService
from loopml.monitor.feedback import Feedback, FeedbackService
from loopml.monitor.service import MonitorService
from loopml.store._schema import LATEST_METRICS, METADATA, METRICS

#: Loaded without their indexes (and, on PostgreSQL, keys), which are built once at the end.
BIG_TABLES = (METRICS, LATEST_METRICS)
#: Runs per ``INSERT ... SELECT`` (one progress line each).
CHUNK = 2000
#: Start time of run 0 (milliseconds since the epoch); run ``i`` starts ``i`` ms later.
T0 = 1_700_000_000_000


def _value(i: str, k: str, s: str, *, real: str) -> str:
    return f"(({i} * 7 + {k} * 13 + {s}) % 97) {real} / 97"


def _rows_sql(dialect: str, experiment_id: str, metrics: int, steps: int) -> dict[str, str]:
    """The statements that write runs ``:lo <= i < :hi`` from the temporary id table ``bench_ids``."""
    last = steps - 1
    if dialect == "postgresql":
        # One series of the run's points, lateral (it reads r.i) so that runs stay the outer loop:
        # rows come out run by run without a sort (a sort made the load 3.8 times slower).
        k, s = f"(p / {steps})", f"(p % {steps})"
        points = f"CROSS JOIN LATERAL generate_series(r.i * 0, {metrics * steps - 1}) AS p"
        keys, key = f"CROSS JOIN generate_series(0, {metrics - 1}) AS k", "k"
        real, false, json = "::float8", "false", "'{}'::json"
    else:  # SQLite: CROSS JOIN keeps the loops in the written order
        k, s = "bench_k.k", "bench_s.s"
        points, keys, key = "CROSS JOIN bench_k CROSS JOIN bench_s", "CROSS JOIN bench_k", k
        real, false, json = "* 1.0", "0", "'{}'"
    span = "r.i >= :lo AND r.i < :hi"
    latest = _value("r.i", key, str(last), real=real)
    return {
        "runs": (
            "INSERT INTO runs (run_id, experiment_id, name, status, start_time, end_time, parent_run_id,"
            " lifecycle_stage, error, reproducibility)"
            f" SELECT r.run_id, '{experiment_id}', 'run-' || r.i, 'FINISHED', {T0} + r.i, NULL,"
            f" CASE WHEN r.i % 10 = 9 THEN p.run_id END, 'active', NULL, {json}"
            f" FROM bench_ids AS r LEFT JOIN bench_ids AS p ON p.i = r.i - 1 WHERE {span} ORDER BY r.i"
        ),
        "params": (
            "INSERT INTO params (run_id, key, value)"
            f" SELECT r.run_id, 'lr', CAST(r.i % 5 AS VARCHAR(1)) FROM bench_ids AS r WHERE {span}"
            " UNION ALL SELECT r.run_id, 'model', CASE WHEN r.i % 2 = 0 THEN 'a' ELSE 'b' END"
            f" FROM bench_ids AS r WHERE {span}"
        ),
        "tags": (
            "INSERT INTO tags (run_id, key, value)"
            f" SELECT r.run_id, 'team', 't' FROM bench_ids AS r WHERE {span}"
        ),
        "metrics": (
            "INSERT INTO metrics (run_id, key, value, step, timestamp)"
            f" SELECT r.run_id, 'm' || {k}, {_value('r.i', k, s, real=real)}, {s}, {s}"
            f" FROM bench_ids AS r {points} WHERE {span}"
        ),
        "latest_metrics": (
            "INSERT INTO latest_metrics (run_id, key, value, is_nan, step, timestamp)"
            f" SELECT r.run_id, 'm' || {key}, {latest}, {false}, {last}, {last}"
            f" FROM bench_ids AS r {keys} WHERE {span}"
        ),
    }


def _progress(started: float, runs: int, points: int) -> None:
    spent = time.perf_counter() - started
    rate = points / spent if spent else 0.0
    print(f"  loaded {runs} runs, {points:,} points ({spent:.0f} s, {rate:,.0f} points/s)", file=sys.stderr)


def fill_bulk(url: str, experiment_id: str, runs: int, metrics: int, steps: int) -> list[str]:
    """Load ``runs`` runs into the experiment straight in the store's tables; their ids.

    Nothing else may use the store meanwhile (on SQLite the load switches the journal off).
    """
    ids = [uuid.uuid4().hex for _ in range(runs)]
    statements = _rows_sql(
        "postgresql" if url.startswith("postgresql") else "sqlite", experiment_id, metrics, steps
    )
    started = time.perf_counter()
    if url.startswith("postgresql"):
        _load_postgres(url, ids, statements, lambda n: _progress(started, n, n * metrics * steps))
    else:
        _load_sqlite(url.removeprefix("sqlite:///"), ids, metrics, steps, statements, started)
    print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    _check_schema(url)
    return ids


def _check_schema(url: str) -> None:
    """Stop unless the loaded database's tables, indexes and keys are exactly the store's."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), METADATA)
    finally:
        engine.dispose()
    if differences:
        raise SystemExit(f"the loaded schema differs from the store's: {differences}")


def _timed(what: str, execute: Callable[[Any], object], statement: Any) -> None:
    t0 = time.perf_counter()
    execute(statement)
    print(f"  {what}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def _load_postgres(
    url: str, ids: list[str], statements: dict[str, str], progress: Callable[[int], None]
) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for table in BIG_TABLES:
                for fk in table.foreign_key_constraints:
                    conn.execute(DropConstraint(fk))
                for index in table.indexes:
                    conn.execute(DropIndex(index))
                conn.execute(DropConstraint(table.primary_key))
        with engine.connect() as conn:
            conn.exec_driver_sql("SET synchronous_commit = off")
            conn.exec_driver_sql("SET work_mem = '256MB'")
            conn.exec_driver_sql(
                "CREATE TEMPORARY TABLE bench_ids (i integer PRIMARY KEY, run_id varchar(32))"
            )
            conn.execute(
                sa.text("INSERT INTO bench_ids VALUES (:i, :r)"),
                [{"i": i, "r": r} for i, r in enumerate(ids)],
            )
            conn.commit()
            for lo in range(0, len(ids), CHUNK):
                hi = min(lo + CHUNK, len(ids))
                for statement in statements.values():
                    conn.execute(sa.text(statement), {"lo": lo, "hi": hi})
                conn.commit()
                progress(hi)
            conn.exec_driver_sql("SET maintenance_work_mem = '1GB'")
            for table in BIG_TABLES:
                _timed(f"{table.name}: primary key", conn.execute, AddConstraint(table.primary_key))
                for index in table.indexes:
                    _timed(f"{table.name}: {index.name}", conn.execute, CreateIndex(index))
                for fk in table.foreign_key_constraints:
                    _timed(f"{table.name}: {fk.name}", conn.execute, AddConstraint(fk))
                conn.commit()
            conn.commit()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            _timed("VACUUM ANALYZE", conn.exec_driver_sql, "VACUUM ANALYZE")
    finally:
        engine.dispose()


def _load_sqlite(
    path: str, ids: list[str], metrics: int, steps: int, statements: dict[str, str], started: float
) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")  # WAL again at the end, as the store left it
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -1000000")  # 1 GB for the index builds
        conn.execute("PRAGMA temp_store = FILE")
        ddl = sa.create_engine("sqlite://").dialect
        for table in BIG_TABLES:
            for index in table.indexes:
                conn.execute(str(DropIndex(index).compile(dialect=ddl)))
        conn.execute("CREATE TEMPORARY TABLE bench_ids (i INTEGER PRIMARY KEY, run_id TEXT)")
        conn.execute("CREATE TEMPORARY TABLE bench_k (k INTEGER PRIMARY KEY)")
        conn.execute("CREATE TEMPORARY TABLE bench_s (s INTEGER PRIMARY KEY)")
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO bench_ids VALUES (?, ?)", enumerate(ids))
        conn.executemany("INSERT INTO bench_k VALUES (?)", [(k,) for k in range(metrics)])
        conn.executemany("INSERT INTO bench_s VALUES (?)", [(s,) for s in range(steps)])
        conn.execute("COMMIT")
        for lo in range(0, len(ids), CHUNK):
            hi = min(lo + CHUNK, len(ids))
            conn.execute("BEGIN")
            for statement in statements.values():
                conn.execute(statement, {"lo": lo, "hi": hi})
            conn.execute("COMMIT")
            _progress(started, hi, hi * metrics * steps)
        for table in BIG_TABLES:
            for index in table.indexes:
                sql = str(CreateIndex(index).compile(dialect=ddl))
                _timed(f"{table.name}: {index.name}", conn.execute, sql)
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()


# --- monitoring: deployments with a prediction log, labels, windows and alerts ---

#: The first hour of the simulated prediction logs.
LOG_T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def fill_monitoring(store: Any, log_root: Path, deployments: int, hours: int, rows: int) -> list[str]:
    """``deployments`` new deployments, each monitored by :func:`monitor_deployment`; their names."""
    names = []
    for d in range(deployments):
        name = f"bench-live-{d}"
        spec = DeploymentSpec(name=name, primary=f"models:/bench-{d}/1")
        store.deployments.create(name, Deployment(spec=spec).to_document(), actor="bench", models=[])
        started = time.perf_counter()
        windows = monitor_deployment(store, log_root, name, hours=hours, rows=rows, seed=d)
        print(f"  {name}: {windows} windows ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        names.append(name)
    return names


def monitor_deployment(store: Any, log_root: Path, name: str, *, hours: int, rows: int, seed: int = 0) -> int:
    """``hours`` hours of ``name``'s prediction log of ``rows`` requests each, monitored; the windows.

    Everything goes through the domain API, as ``loopml serve`` and ``loopml monitor run`` would
    leave it: the log written in the serving format under the deployment's name, labels posted
    for the hours up to the end of the drift (part of each hour, as labels arrive late), hourly
    windows computed by :class:`MonitorService` (drift against the previous window and the first,
    realised and estimated accuracy, label coverage) and the default alert rules evaluated over
    them. ``x`` drifts for six hours from the middle on, and the labels turn against the model
    meanwhile, so the accuracy falls (an open ``accuracy-drop`` alert; drift alerts resolved).
    """
    feedback = FeedbackService(store.feedback, log_root=log_root)
    for hour in range(hours):
        shifted = hours // 2 <= hour < hours // 2 + 6
        ids, truth = _log_hour(log_root, name, hour, rows, shift=1.5 if shifted else 0.0, seed=seed)
        if hour < hours // 2 + 6:
            labels = [Feedback(key=i, label=int(t)) for i, t in zip(ids, truth, strict=True)]
            feedback.add(name, labels[: rows * (1 + hour % 4) // 4])
    monitor = MonitorService(store, log_root=log_root, deployments=store.deployments)
    records = monitor.run(monitor.target(name), now=LOG_T0 + dt.timedelta(hours=hours, days=2))
    AlertService(store.alerts).evaluate(records)
    return len(records)


def _log_hour(root: Path, model: str, hour: int, n: int, *, shift: float, seed: int) -> tuple[list[str], Any]:
    """``n`` one-row requests of a binary classifier during ``hour``: request ids and true labels."""
    rng = np.random.default_rng(seed * 100_000 + hour)
    x = rng.normal(loc=shift, size=n)
    city = rng.choice(np.array(["nice", "lyon", "paris"], dtype=object), size=n, p=[0.5, 0.3, 0.2])
    p1 = 1 / (1 + np.exp(-2 * x))
    truth = (rng.random(n) < (p1 if shift == 0 else 1 - p1)).astype(np.int64)  # the drift flips the labels
    start = np.datetime64((LOG_T0 + dt.timedelta(hours=hour)).replace(tzinfo=None), "ms")
    times = start + np.sort(rng.integers(0, 3_600_000, size=n)).astype("timedelta64[ms]")
    ids = [f"h{hour}-r{i}" for i in range(n)]
    predicted = (p1 > 0.5).astype(np.int64)
    write_prediction_table(
        root,
        prediction_table(
            model=model,
            version="1",
            request_ids=ids,
            times=times,
            protocols=["v2"] * n,
            principals=[None] * n,
            latency_ms=list(rng.gamma(2.0, 2.0, size=n)),
            sizes=[1] * n,
            inputs={"x": x, "city": city},
            outputs={"predict": predicted, "predict_proba": np.c_[1 - p1, p1]},
            flags=[("out_of_range:x",) if abs(v) > 3 else () for v in x],
        ),
    )
    return ids, truth
