"""The UI's pure helpers: downsampling, nesting, diffs, graphs, previews, evaluation and deployment tables."""

from __future__ import annotations

import io
import pickle
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopml.analysis import MetricThreshold, evaluate
from loopml.deploy.records import Deployment
from loopml.deploy.rollout import Phase, RolloutStatus
from loopml.deploy.spec import ABArm, ABSplit, DeploymentSpec, Shadow
from loopml.errors import InvalidInput
from loopml.ui import (
    deployment_routes,
    differing_params,
    downsample,
    evaluation_view,
    layout_graph,
    nest_runs,
    parallel_coordinates,
    parse_columns,
    preview_file,
    rollout_steps,
)


def test_downsample_keeps_every_bucket_extreme() -> None:
    points = [(i, 0.0) for i in range(10_000)]
    points[4321] = (4321, 99.0)
    points[777] = (777, -5.0)
    series = downsample(points, max_points=200)
    assert series.downsampled and series.total == 10_000 and len(series.steps) <= 200
    assert (4321, 99.0) in zip(series.steps, series.values, strict=True)
    assert (777, -5.0) in zip(series.steps, series.values, strict=True)
    assert series.steps == sorted(series.steps)


def test_downsample_returns_short_histories_whole_and_sorted() -> None:
    series = downsample([(3, 1.0), (1, 2.0)], max_points=10)
    assert series.steps == [1, 3] and series.values == [2.0, 1.0] and not series.downsampled


def test_downsample_refuses_fewer_than_two_points() -> None:
    with pytest.raises(InvalidInput, match="max_points must be at least 2"):
        downsample([(0, 1.0)], max_points=1)


def _run(run_id: str, parent: str | None = None, **params: str) -> SimpleNamespace:
    return SimpleNamespace(run_id=run_id, parent_run_id=parent, params=params, metrics={}, tags={})


def test_nest_runs_puts_children_under_parents_on_the_page() -> None:
    rows = nest_runs([_run("c", "p"), _run("x"), _run("p"), _run("g", "c"), _run("o", "elsewhere")])
    assert [(r.run.run_id, r.depth) for r in rows] == [("x", 0), ("p", 0), ("c", 1), ("g", 2), ("o", 0)]


def test_differing_params_lists_only_values_that_differ() -> None:
    rows = differing_params(
        [_run("a", lr="0.1", seed="1"), _run("b", lr="0.2", seed="1"), _run("c", seed="1")]
    )
    assert rows == [("lr", ["0.1", "0.2", None])]


def test_parse_columns_keeps_valid_keys_once() -> None:
    assert parse_columns("metrics.auc, params.lr,bogus,metrics.auc,tags.,tags.team") == [
        "metrics.auc",
        "params.lr",
        "tags.team",
    ]


def test_layout_graph_places_nodes_by_depth_and_survives_cycles() -> None:
    nodes = [(n, n.upper(), "run", None, "") for n in "abc"]
    layout = layout_graph(nodes, [("a", "b", ""), ("b", "c", ""), ("c", "a", ""), ("a", "zz", "")])
    xs = {n.node_id: n.x for n in layout.nodes}
    assert xs["a"] < xs["b"] < xs["c"] and len(layout.edges) == 3


def test_preview_reads_a_parquet_head_and_never_loads_a_pickle() -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(100)), "b": ["<b>x</b>"] * 100}), buffer)
    table = preview_file("part-0.parquet", buffer.getvalue(), size=len(buffer.getvalue()))
    assert table.kind == "table" and table.columns == ["a", "b"] and len(table.rows) == 20
    assert table.note == "First 20 rows of 100." and table.types == ["int64", "string"]
    assert preview_file("big.parquet", b"PAR1", size=10**9).kind == "too_large"
    payload = pickle.dumps(object())
    assert preview_file("model.pkl", payload, size=len(payload)).kind == "binary"


def test_preview_keeps_whole_csv_lines_of_a_truncated_file_and_shows_json_and_images() -> None:
    head = preview_file("big.csv", b"x,y\n1,2\n3,4\n5,", size=10_000)
    assert head.kind == "table" and head.rows == [["1", "2"], ["3", "4"]] and head.truncated
    assert head.note == "First 2 rows."
    shown = preview_file("m.json", b'{"b": 1, "a": [1]}', size=18)
    assert shown.kind == "json" and shown.text.startswith('{\n  "a": [')
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
    assert preview_file("plot.png", png, size=len(png)).image.startswith("data:image/png;base64,")
    svg = b"<svg onload=alert(1)>"
    assert preview_file("x.svg", svg, size=len(svg)).kind == "text"  # shown as text, never as an image


def test_parallel_coordinates_spread_categories_and_break_at_missing_values() -> None:
    rows = [
        ("a", "A", {"model": "gbm", "lr": "0.1", "auc": 0.8}),
        ("b", "B", {"model": "rf", "lr": None, "auc": 0.9}),
    ]
    chart = parallel_coordinates(rows, ["model", "lr", "auc"])
    assert [a.is_numeric for a in chart.axes] == [False, True, True]
    assert chart.axes[0].top == "gbm" and chart.axes[0].bottom == "rf"
    assert chart.lines[0].path.count("M") == 1 and chart.lines[1].path.count("M") == 2  # broken at lr


def test_evaluation_view_flags_the_cells_of_failed_checks() -> None:
    result = evaluate(
        [0, 1, 1, 0] * 20,
        y_pred=[0, 1, 1, 1] * 20,
        task="binary",
        features=pd.DataFrame({"SEX": [1, 2] * 40}),
        slices=["SEX"],
        bootstrap=None,
        thresholds=[MetricThreshold(metric="accuracy", lower=0.9, slices=("SEX",))],
    )
    view = evaluation_view(result, metrics=["accuracy"])
    cells = {row.key: row.cells[0] for row in view.slices}
    assert cells["SEX=2"].failed and not cells["SEX=1"].failed and view.passed is False
    assert evaluation_view(result, spec="other").total_slices == 0


def test_deployment_routes_and_rollout_steps() -> None:
    spec = DeploymentSpec(
        name="d",
        primary="models:/m/1",
        ab=ABSplit(key="user", arms=(ABArm(name="a", target="models:/m/1", weight=60),
                                     ABArm(name="b", target="models:/m@challenger", weight=40))),
        shadows=(Shadow(name="s", target="models:/m/3", mirror_percent=10),),
    )  # fmt: skip
    routes = deployment_routes(Deployment(spec=spec))
    assert [r.role for r in routes] == ["primary", "A/B arm", "A/B arm", "shadow"]
    assert routes[2].href == "/ui/models/m" and routes[3].share.startswith("mirrors 10%")
    rolled_back = RolloutStatus(phase=Phase.ROLLED_BACK, step=1, weight=0.0, step_started_ms=0)
    steps = rollout_steps(Deployment(spec=spec, rollout=rolled_back))
    assert [s.state for s in steps] == ["done", "stopped", "next", "next"]
