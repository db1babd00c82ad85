"""Monitoring pages over windows computed from a real prediction log; deployments filtered by grants."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from loopml.deploy.records import Deployment
from loopml.deploy.spec import DeploymentSpec
from loopml.monitor.service import MonitorService
from loopml.security.auth import AuthService, Resource, ResourceKind
from loopml.store.entities import StoredWindow
from tests.ui._world import World, login

PAGE = "/ui/deployments/churn-live/monitoring"
HOUR_MS = 3_600_000


@pytest.fixture
def root(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url) as client:
        login(client, world.tokens["root"])
        yield client


def _windows(world: World) -> list:  # type: ignore[type-arg]
    monitor = MonitorService(
        world.store, log_root=world.home / "predictions", deployments=world.store.deployments
    )
    return monitor.windows(monitor.target("churn-live"))


def _inert(html: str) -> bool:
    return "<script>" not in html and "<img src=x" not in html


def test_the_windows_table_shows_each_window_newest_first(root: httpx.Client, world: World) -> None:
    html = root.get(PAGE).text
    table = html.split('<table class="windows">')[1].split("</table>")[0]
    body = table.split("<tbody>")[1]
    assert body.count("<tr") == 8 and "8 of 8 windows, newest first" in table
    starts = [f"2026-03-01 0{h}:00" for h in range(8)]
    assert [body.index(s) for s in reversed(starts)] == sorted(body.index(s) for s in starts)
    first = body.split("<tr")[-1]  # the oldest window: a quarter of its rows labelled
    accuracy = _windows(world)[0].metrics
    assert "25.0%" in first and "(100)" in first
    assert f"{accuracy['accuracy']:.4f}" in first
    assert f"[{accuracy['accuracy_low']:.4f}, {accuracy['accuracy_high']:.4f}]" in first
    assert f"{accuracy['estimated_accuracy']:.4f}" in first
    shifted = body.split("<tr")[
        5
    ]  # hour 3, where x moved: drift against the previous window and the baseline
    assert "2026-03-01 03:00" in shifted and 'class="warn">drift, baseline<' in shifted
    assert ">x <span" in shifted  # the most drifted feature
    assert "Realised accuracy [95 %]" in table and "Estimated accuracy [95 %]" in table


def test_the_page_draws_drift_performance_and_coverage_charts(root: httpx.Client) -> None:
    html = root.get(PAGE).text
    for chart in ("drift", "baseline_drift", "performance", "coverage"):
        assert f'data-src="{PAGE}/{chart}.json?window=hour"' in html
        assert f'href="{PAGE}/{chart}.csv?window=hour"' in html
    assert "/ui/static/uplot.iife.min.js" in html and "skew.json" not in html  # no training statistics


def test_alerts_are_listed_open_and_resolved_with_their_evidence(root: httpx.Client) -> None:
    html = root.get(PAGE).text
    section = html.split('id="alerts-h"')[1].split("</section>")[0]
    open_table, resolved_table = section.split('<table class="alerts">')[1:]
    assert "1 open" in open_table and "retrain-failed" in open_table and "critical" in open_table
    assert "Retraining failed &lt;script&gt;" in open_table and _inert(html)
    assert "<dt>error</dt><dd>&lt;script&gt;" in open_table  # evidence the rule engine does not know
    assert "2 resolved" in resolved_table and "baseline_drift.x" in resolved_table
    assert "<dt>threshold</dt><dd>0.1</dd>" in resolved_table and "<dt>window</dt>" in resolved_table


def test_chart_data_are_the_stored_figures(root: httpx.Client, world: World) -> None:
    records = _windows(world)
    data = root.get(f"{PAGE}/performance.json").json()
    names = [r["name"] for r in data["runs"]]
    assert names[:3] == ["realised accuracy", "realised accuracy (high)", "realised accuracy (low)"]
    assert names[3] == "estimated accuracy" and data["bands"] == [
        {"upper": 1, "lower": 2},
        {"upper": 4, "lower": 5},
    ]
    assert data["runs"][0]["steps"] == [r.start.timestamp() for r in records]
    assert data["runs"][0]["values"] == [r.metrics.get("accuracy") for r in records]
    assert data["runs"][3]["values"] == [r.metrics["estimated_accuracy"] for r in records]
    drift = root.get(f"{PAGE}/drift.json").json()
    assert {r["name"] for r in drift["runs"]} == {"x", "city"} and drift["x"]["time"] is True
    rows = list(csv.reader(io.StringIO(root.get(f"{PAGE}/coverage.csv").text)))
    assert rows[0] == ["window_start", "label coverage"] and len(rows) == 9
    assert rows[1] == ["2026-03-01T00:00:00+00:00", "0.25"]


def test_unknown_charts_formats_and_deployments_answer_404(root: httpx.Client) -> None:
    assert root.get(f"{PAGE}/latency.json").status_code == 404
    assert root.get(f"{PAGE}/drift.xml").status_code == 404
    missing = root.get("/ui/deployments/nope/monitoring")
    assert missing.status_code == 404 and "No deployment named" in missing.text


def test_linked_from_the_deployment_page_the_list_and_the_nav(root: httpx.Client) -> None:
    assert f'href="{PAGE}"' in root.get("/ui/deployments/churn-live").text
    listing = root.get("/ui/deployments").text
    assert f'href="{PAGE}"' in listing and 'href="/ui/monitoring"' in listing
    overview = root.get("/ui/monitoring").text
    row = overview.split(f'href="{PAGE}"')[1].split("</tr>")[0]
    assert '<td class="num">8</td>' in row and "2026-03-01 07:00 (hour)" in row
    assert '<td class="num fail">1</td>' in row  # the open alert


def test_a_deployment_nothing_monitors_yet_says_how_to_start(root: httpx.Client, world: World) -> None:
    spec = DeploymentSpec(name="quiet", primary="models:/quiet/1")
    world.store.deployments.create(spec.name, Deployment(spec=spec).to_document(), actor="root", models=[])
    html = root.get("/ui/deployments/quiet/monitoring").text
    assert "Nothing is monitored yet" in html and "loopml monitor run" in html
    assert "quiet" in root.get("/ui/monitoring").text


def test_the_monitoring_of_a_restricted_models_deployment_is_hidden_without_a_grant(world: World) -> None:
    auth = AuthService(world.store)
    churn = Resource(kind=ResourceKind.MODEL, key="churn")
    auth.grant("ed", churn, "read")
    paths = (PAGE, f"{PAGE}/drift.json", f"{PAGE}/coverage.csv")
    try:
        with httpx.Client(base_url=world.url) as client:
            login(client, world.tokens["vi"])
            assert "churn-live" not in client.get("/ui/monitoring").text
            for path in paths:
                refused = client.get(path)
                assert refused.status_code == 404, path
                assert "No deployment named &#39;churn-live&#39;" in refused.text  # as if it did not exist
        with httpx.Client(base_url=world.url) as client:
            login(client, world.tokens["ed"])  # the grant holder sees it
            assert "churn-live" in client.get("/ui/monitoring").text
            assert all(client.get(path).status_code == 200 for path in paths)
    finally:
        auth.revoke_grant("ed", churn)


def test_the_overview_reads_as_many_statements_whatever_the_number_of_deployments(
    root: httpx.Client, world: World
) -> None:
    # It read each deployment, its windows in full and its labels: three statements per row.
    def statements_of_the_overview() -> tuple[int, str]:
        seen: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen.append(statement)

        sa.event.listen(Engine, "before_cursor_execute", count)  # the server runs in this process
        try:
            html = root.get("/ui/monitoring").text
        finally:
            sa.event.remove(Engine, "before_cursor_execute", count)
        return len(seen), html

    before, _ = statements_of_the_overview()
    for i in range(6):
        spec = DeploymentSpec(name=f"extra-{i}", primary="models:/churn/1")
        document = Deployment(spec=spec).to_document()
        world.store.deployments.create(spec.name, document, actor="root", models=[])
        for hour, kind in ((0, "hour"), (1, "hour"), (2, "hour"), (0, "day")):
            world.store.monitor_windows.put(
                StoredWindow(
                    deployment=spec.name, window=kind, start=hour * HOUR_MS, end=(hour + 1) * HOUR_MS,
                    model="churn", version="1", complete=True, rows=10 + hour + i,
                    metrics={"label_coverage": 0.5},
                )
            )  # fmt: skip
    after, html = statements_of_the_overview()
    assert after <= before + 1, (before, after)  # at most a session refresh apart
    row = html.split('href="/ui/deployments/extra-4/monitoring"')[1].split("</tr>")[0]
    # 4 windows; the latest of the main kind (hour: most windows) is the third hour's, 10 + 2 + 4 rows
    assert '<td class="num">4</td>' in row and "(hour)" in row and "1970-01-01 02:00" in row
    assert '<td class="num">16</td>' in row and "50.0%" in row and "<td>churn</td>" in row


def _statements_of(client: httpx.Client, path: str) -> list[str]:
    """The SQL statements the server ran to answer ``path`` (it runs in this process)."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(Engine, "before_cursor_execute", count)
    try:
        assert client.get(path).status_code == 200
    finally:
        sa.event.remove(Engine, "before_cursor_execute", count)
    return seen


@pytest.mark.parametrize(
    "path", [PAGE, PAGE + "?window=hour", PAGE + "/drift.json", PAGE + "/performance.csv"]
)
def test_a_deployment_page_and_its_charts_read_the_windows_once(root: httpx.Client, path: str) -> None:
    # They read every window for the status, then the shown kind's windows again.
    reads = [s for s in _statements_of(root, path) if re.search(r"FROM monitor_windows\b", s)]
    assert len(reads) == 1, reads


def test_listing_captions_count_in_the_singular_and_the_plural(root: httpx.Client) -> None:
    for path, noun in (
        ("/ui/deployments", "deployment"),
        ("/ui/monitoring", "deployment"),
        ("/ui/models", "model"),
    ):
        caption = re.search(r"<caption>(\d+) (\w+)</caption>", root.get(path).text)
        assert caption is not None, path
        count, word = int(caption.group(1)), caption.group(2)
        assert word == (noun if count == 1 else noun + "s"), caption.group(0)
