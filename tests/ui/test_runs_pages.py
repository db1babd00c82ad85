"""Experiments, the run table, a run's page, chart data and compare — with grants applied."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import httpx
import pytest

from loopml.store.entities import Metric
from tests.ui._world import XSS, World, login


@pytest.fixture
def root(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url) as client:
        login(client, world.tokens["root"])
        yield client


@pytest.fixture
def viewer(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url) as client:
        login(client, world.tokens["vi"])
        yield client


def test_markup_in_names_params_tags_and_records_is_escaped(root: httpx.Client, world: World) -> None:
    pages = [
        root.get("/ui/experiments"),
        root.get(f"/ui/experiments/{world.ids['experiment']}?cols=params.model,tags.note"),
        root.get(f"/ui/runs/{world.ids['parent']}"),
        root.get(f"/ui/compare?run={world.ids['parent']}&run={world.ids['child']}"),
    ]
    for answer in pages:
        assert answer.status_code == 200
        assert "<script>window" not in answer.text and "<img src=x" not in answer.text
        assert "&lt;img src=x onerror=" in answer.text  # shown, as text


def test_run_table_nests_children_and_keeps_columns_in_the_url(root: httpx.Client, world: World) -> None:
    answer = root.get(
        f"/ui/experiments/{world.ids['experiment']}", params={"col": ["metrics.loss", "params.lr"]}
    )
    html = answer.text
    assert html.index(world.ids["parent"]) < html.index(world.ids["child"])
    assert 'class="depth-1"' in html
    assert "cols=metrics.loss%2Cparams.lr" in html  # sort links keep the chosen columns
    assert ">params.lr<" in html and ">tags.note<" not in html.split("<tbody>")[1]


def test_run_table_filters_with_the_search_grammar_and_reports_bad_filters(
    root: httpx.Client, world: World
) -> None:
    path = f"/ui/experiments/{world.ids['experiment']}"
    only_child = root.get(path, params={"filter": "params.lr = '0.2'"}).text
    assert f'value="{world.ids["child"]}"' in only_child
    assert f'value="{world.ids["parent"]}"' not in only_child  # its link as the parent is shown
    bad = root.get(path, params={"filter": "metrics.loss >>> 1"})
    assert bad.status_code == 200 and 'role="alert"' in bad.text


def test_run_table_pages_on_the_server(root: httpx.Client, world: World) -> None:
    first = root.get(
        f"/ui/experiments/{world.ids['experiment']}", params={"size": 1, "order": "attributes.run_name ASC"}
    )
    assert 'rel="next"' in first.text and first.text.count('name="run" value=') == 1


def test_metric_data_is_downsampled_keeping_extremes(root: httpx.Client, world: World) -> None:
    data = root.get(
        f"/ui/runs/{world.ids['parent']}/metric.json", params={"key": "loss", "points": 100}
    ).json()
    series = data["runs"][0]
    assert series["total"] == 2000 and series["downsampled"] and len(series["steps"]) <= 100
    assert max(series["values"]) == 1.0 and min(series["values"]) == pytest.approx(1 / 2000)
    csv = root.get(f"/ui/runs/{world.ids['parent']}/metric.csv", params={"key": "loss"})
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("step,value")


def test_chart_data_carries_nan_and_infinities_as_null(root: httpx.Client, world: World) -> None:
    experiment = world.store.experiments.get_or_create("odd values")
    run = world.store.runs.create(experiment.experiment_id, name="odd")
    values = [1.0, math.nan, math.inf, -math.inf]
    world.store.runs.log_batch(
        run.run_id, metrics=[Metric(key="loss", value=v, step=i, timestamp=i) for i, v in enumerate(values)]
    )
    single = root.get(f"/ui/runs/{run.run_id}/metric.json", params={"key": "loss"})
    runs = [run.run_id, world.ids["child"]]
    both = root.get("/ui/compare/metric.json", params={"key": "loss", "run": runs})
    # JSON has no NaN nor infinity: both answered 500 (the encoder refused them)
    assert single.status_code == both.status_code == 200, (single.text, both.text)
    assert single.json()["runs"][0]["values"] == both.json()["runs"][0]["values"] == [1.0, None, None, None]
    assert both.json()["runs"][1]["total"] == 100


def test_compare_shows_only_differing_params(root: httpx.Client, world: World) -> None:
    html = root.get(f"/ui/compare?run={world.ids['parent']}&run={world.ids['child']}").text
    diff = html.split("Parameters that differ")[1].split("</table>")[0]
    assert ">lr<" in diff and ">model<" not in diff  # the same XSS value in both runs


def test_compare_names_the_runs_once_for_its_charts_and_downloads(root: httpx.Client, world: World) -> None:
    # Every chart's JSON, CSV and data links repeated the ids (60 copies of 100 ids: two thirds
    # of a compare of 100 runs); they now submit one form of hidden inputs.
    ids = [world.ids["parent"], world.ids["child"]]
    html = root.get("/ui/compare", params={"run": ids}).text
    form = html.split('<form id="compare-runs"')[1].split("</form>")[0]
    assert [form.count(f'name="run" value="{i}"') for i in ids] == [1, 1]
    figures = [f.split("</figure>")[0] for f in html.split('<figure class="chart">')[1:]]
    assert len(figures) == 2  # the parallel coordinates and the loss chart
    for figure in figures:
        assert not any(i in figure for i in ids), figure
        assert 'form="compare-runs"' in figure
    chart = re.search(r'<div class="plot" data-src="([^"]+)" data-form="compare-runs" data-lazy', html)
    assert chart is not None and chart.group(1) == "/ui/compare/metric.json?key=loss"
    # what the script asks for: the chart's link with the form's fields
    data = root.get(chart.group(1) + "&" + "&".join(f"run={i}" for i in ids)).json()
    assert [r["run_id"] for r in data["runs"]] == ids and data["runs"][1]["total"] == 100
    buttons = re.findall(r'<button type="submit" class="link" form="compare-runs" formaction="([^"]+)"', html)
    assert buttons == ["/ui/compare/parallel.csv", "/ui/compare/metric.json", "/ui/compare/metric.csv"]


def test_a_viewer_sees_no_restricted_experiment(viewer: httpx.Client, world: World) -> None:
    listing = viewer.get("/ui/experiments").text
    assert world.ids["experiment"] in listing and world.ids["secret"] not in listing
    refused = viewer.get(f"/ui/experiments/{world.ids['secret']}")
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    assert viewer.get(f"/ui/runs/{world.ids['hidden']}").status_code == 403
    assert viewer.get(f"/ui/runs/{world.ids['hidden']}/metric.json?key=loss").status_code == 403


def test_compare_leaves_out_runs_the_caller_may_not_see(viewer: httpx.Client, world: World) -> None:
    html = viewer.get(f"/ui/compare?run={world.ids['parent']}&run={world.ids['hidden']}").text
    assert "Compare 1 runs" in html and "hidden-run" not in html
    data = viewer.get(
        f"/ui/compare/metric.json?key=loss&run={world.ids['parent']}&run={world.ids['hidden']}"
    ).json()
    assert [r["run_id"] for r in data["runs"]] == [world.ids["parent"]]


def test_an_editor_with_a_grant_sees_the_restricted_experiment(world: World) -> None:
    with httpx.Client(base_url=world.url) as client:
        login(client, world.tokens["ed"])
        assert world.ids["secret"] in client.get("/ui/experiments").text
        assert "hidden-run" in client.get(f"/ui/experiments/{world.ids['secret']}").text


def test_unknown_records_answer_a_404_page(root: httpx.Client) -> None:
    answer = root.get("/ui/runs/0123456789abcdef0123456789abcdef")
    assert answer.status_code == 404 and "<h1>Not found</h1>" in answer.text
    assert XSS not in answer.text
