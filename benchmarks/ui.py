"""Web UI benchmark: server time, bytes and SQL queries per page, over loopback with auth on.

Usage::

    .venv/bin/python benchmarks/ui.py                                  # SQLite, 2,000 runs
    .venv/bin/python benchmarks/ui.py --runs 100000 --bulk             # the issue's scale, SQLite
    .venv/bin/python benchmarks/ui.py --runs 100000 --backend postgres --bulk

It fills one experiment with N runs x M metrics x S steps (params, tags, every tenth run a
child of the one before; ``--bulk`` computes them in SQL, see ``benchmarks/ui_data.py``) and
monitors D deployments over H hours of prediction log (windows, labels and alerts made through
the domain API), starts the server in process, logs in through the form like a browser and
requests each page R times, printing per page: p50 and p95 of the request time (server time
plus loopback), the bytes of the answer, and the SQL statements the request ran (counted on the
store's engine, authentication and grants included). Chart data is measured too: one metric's
full history downsampled, the compare view of 100 runs with its data, and a monitoring chart.
With ``--browser``, Debian's Chromium (driven by Playwright) logs in through the form and loads
each page 3 times, printing the first contentful paint (median and range) as the browser saw it.
Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from ui_data import fill_bulk, fill_monitoring

from loopml.config import Settings
from loopml.security.auth import AuthService, Role
from loopml.server.background import serve_in_thread
from loopml.store.entities import Metric
from loopml.store.sql import open_store

FILTER = "metrics.m0 > 0.5 and params.model = 'a'"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _fill(store: Any, experiment_id: str, runs: int, metrics: int, steps: int) -> list[str]:
    ids: list[str] = []
    started = time.perf_counter()
    for i in range(runs):
        parent = ids[-1] if i % 10 == 9 else None
        run = store.runs.create(experiment_id, name=f"run-{i}", parent_run_id=parent)
        points = [
            Metric(key=f"m{k}", value=((i * 7 + k * 13 + s) % 97) / 97, step=s, timestamp=s)
            for k in range(metrics)
            for s in range(steps)
        ]
        store.runs.log_batch(
            run.run_id, metrics=points, params={"lr": str(i % 5), "model": "ab"[i % 2]}, tags={"team": "t"}
        )
        ids.append(run.run_id)
        if i and i % 1000 == 0:
            print(f"  filled {i} runs ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return ids


def _filled(store: Any) -> tuple[str, list[str]]:
    """The benchmark experiment of a store filled before, and its first 100 runs."""
    exp = next(e for e in store.experiments.list() if e.name.startswith("bench-"))
    return exp.experiment_id, [
        r.run_id for r in store.runs.search([exp.experiment_id], max_results=100).items
    ]


def _monitored(store: Any, log_root: Path, deployments: int, hours: int, requests: int) -> list[str]:
    """The monitored deployments of the store, made (:func:`fill_monitoring`) when there are none."""
    names = sorted(d.name for d in store.deployments.list() if d.name.startswith("bench-live-"))
    if names:
        return names
    print(f"monitoring {deployments} deployments x {hours} hours", file=sys.stderr)
    return fill_monitoring(store, log_root, deployments, hours, requests)


def _history_reads(store: Any, run_ids: list[str]) -> None:
    """One metric of 100 runs read in the store: one query per run, one for all, one for all as columns."""
    reads = {
        "one query per run": lambda: [store.runs.get_metric_history(r, "m0") for r in run_ids],
        "one query for all runs": lambda: store.runs.get_metric_histories(run_ids, "m0"),
        "one query, as columns (charts)": lambda: store.runs.get_metric_series(run_ids, "m0"),
    }
    timings: dict[str, list[float]] = {name: [] for name in reads}
    for _ in range(3):
        for name, read in reads.items():
            t0 = time.perf_counter()
            read()
            timings[name].append(time.perf_counter() - t0)
    print(f"\n{len(run_ids)} runs' m0 history{'':13} {'median ms':>10} {'range ms':>16}")
    for name, values in timings.items():
        ms = sorted(1000 * v for v in values)
        print(f"{name:35} {statistics.median(ms):10.1f} {ms[0]:7.1f} to {ms[-1]:<7.1f}")


def _measure(client: httpx.Client, path: str, counter: list[int], repeats: int) -> dict[str, float]:
    times, queries = [], []
    size = 0
    for _ in range(repeats):
        counter[0] = 0
        t0 = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - t0)
        queries.append(counter[0])
        if answer.status_code != 200:
            raise SystemExit(f"{path} answered {answer.status_code}: {answer.text[:200]}")
        size = len(answer.content)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {
        "p50_ms": 1000 * statistics.median(times),
        "p95_ms": 1000 * p95,
        "bytes": size,
        "queries": statistics.median(queries),
    }


CHROMIUM = "/usr/bin/chromium"
#: The first contentful paint of the page, waiting for the entry if it is not recorded yet.
_FCP = """new Promise((done) => {
  const seen = () => performance.getEntriesByName("first-contentful-paint")[0];
  if (seen()) { done(seen().startTime); return; }
  new PerformanceObserver(() => seen() && done(seen().startTime)).observe({type: "paint", buffered: true});
})"""


def _first_paints(base: str, token: str, pages: dict[str, str], repeats: int = 3) -> None:
    """First contentful paint of each page in headless Chromium: median and range of ``repeats``."""
    from playwright.sync_api import sync_playwright  # the dev extra; only this option needs it

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(base + "/ui/login")
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        print(f"\n{'page (browser)':22} {'FCP ms':>8} {'range':>16}")
        for name, path in pages.items():
            if path.endswith(".json") or "metric.json" in path:
                continue
            paints = []
            for _ in range(repeats + 1):  # the first load warms the server's caches
                page.goto("about:blank")
                page.goto(base + path, wait_until="load")
                paints.append(float(page.evaluate(_FCP)))
            kept = sorted(paints[1:])
            print(f"{name:22} {statistics.median(kept):8.0f} {kept[0]:7.0f} to {kept[-1]:<6.0f}")
        browser.close()


def _store_url(backend: str, home: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{home / 'store.db'}", None
    name = f"loopml_uibench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--deployments", type=int, default=3, help="monitored deployments")
    parser.add_argument("--hours", type=int, default=168, help="hourly windows per deployment")
    parser.add_argument("--requests", type=int, default=300, help="requests logged per hour")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--bulk", action="store_true", help="load the runs in SQL (benchmarks/ui_data.py)")
    parser.add_argument("--fill-only", action="store_true", help="fill the store, print its URL and stop")
    parser.add_argument("--browser", action="store_true", help="also measure first paint in Chromium")
    parser.add_argument("--reuse", metavar="STORE_URL", help="measure a store an earlier run filled")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="loopml-uibench-"))
    url = args.reuse or _store_url(args.backend, home)[0]  # a PostgreSQL database is left for inspection
    print(f"store: {url}", file=sys.stderr)
    store = open_store(url)
    auth = AuthService(store)
    user = f"bench-{uuid.uuid4().hex[:6]}"
    auth.create_user(user, role=Role.ADMIN)
    token = auth.create_token(user)[1]
    if args.reuse:
        experiment_id, ids = _filled(store)
    else:
        experiment_id = store.experiments.create(f"bench-{uuid.uuid4().hex[:6]}").experiment_id
        if args.bulk:
            store.close()  # the load needs the database to itself
            ids = fill_bulk(url, experiment_id, args.runs, args.metrics, args.steps)
            store = open_store(url)
        else:
            ids = _fill(store, experiment_id, args.runs, args.metrics, args.steps)
    deployments = _monitored(store, home / "predictions", args.deployments, args.hours, args.requests)
    if args.fill_only:
        print(f"filled: {url}")
        return
    counter = [0]
    # every statement of the process (the server runs in a thread of it): auth and grants included
    event.listen(Engine, "before_cursor_execute", lambda *a: counter.__setitem__(0, counter[0] + 1))
    settings = Settings(home=home, store_url=url)
    compare = "&".join(f"run={r}" for r in ids[:100])
    pages = {
        "experiments": "/ui/experiments",
        "runs (50, by metric)": f"/ui/experiments/{experiment_id}?order=metrics.m1+DESC",
        "runs (filtered)": f"/ui/experiments/{experiment_id}?{urlencode({'filter': FILTER})}",
        "run": f"/ui/runs/{ids[len(ids) // 2]}",
        "metric data": f"/ui/runs/{ids[0]}/metric.json?key=m0",
        "compare 100": f"/ui/compare?{compare}",
        "compare 100 data": f"/ui/compare/metric.json?key=m0&{compare}",
        "monitoring": "/ui/monitoring",
        "deployment monitoring": f"/ui/deployments/{deployments[0]}/monitoring",
        "monitoring drift data": f"/ui/deployments/{deployments[0]}/monitoring/drift.json",
    }
    roomy = {"rate": 1_000_000, "burst": 1_000_000}
    limits = {"admin": {kind: dict(roomy) for kind in ("read", "write", "upload", "admin")}}
    served = settings.model_copy(update={"rate_limits": limits})
    with (
        serve_in_thread(served, auth_enabled=True) as base,
        httpx.Client(base_url=base, timeout=120) as client,
    ):
        form = client.get("/ui/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        client.post("/ui/login", data={"token": token, "csrf": csrf.group(1)})
        print(f"{'page':22} {'p50 ms':>8} {'p95 ms':>8} {'KB':>8} {'queries':>8}")
        for name, path in pages.items():
            client.get(path)  # warm
            m = _measure(client, path, counter, args.repeats)
            kb = m["bytes"] / 1024
            print(f"{name:22} {m['p50_ms']:8.1f} {m['p95_ms']:8.1f} {kb:8.1f} {m['queries']:8.0f}")
        if args.browser:
            _first_paints(base, token, pages)
    _history_reads(store, ids[:100])
    store.close()


if __name__ == "__main__":
    main()
