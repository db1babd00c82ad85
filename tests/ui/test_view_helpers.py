"""The UI's pure helpers: downsampling, nesting, parameter diffs, columns, graph layout."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from loopml.errors import InvalidInput
from loopml.ui import differing_params, downsample, layout_graph, nest_runs, parse_columns


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
