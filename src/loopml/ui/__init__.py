"""The web UI's templates, static assets and view helpers (served by :mod:`loopml.server` at ``/ui``).

Pure presentation: a Jinja environment with autoescaping (:func:`environment`), the bundled static
files (:data:`STATIC_DIR`: the stylesheet, the page script and uPlot, no CDN), min/max downsampling
of metric histories for charts (:func:`downsample`), a deployment's monitoring windows as a table
and chart series (:func:`window_rows`, :func:`monitor_chart`) and a layered layout of small graphs drawn as
server-side SVG (:func:`layout_graph`). No HTTP here; the routes live in ``loopml.server.ui``.
"""

from loopml.ui._bars import BarChart, bar_chart
from loopml.ui._deployments import deployment_routes, model_href, rollout_steps, verdicts
from loopml.ui._downsample import Series, downsample
from loopml.ui._evaluation import EvaluationView, evaluation_view, side_by_side
from loopml.ui._graph import GraphLayout, layout_graph
from loopml.ui._monitoring import (
    CHARTS,
    MonitorChart,
    WindowRow,
    drift_flags,
    evidence_lines,
    monitor_chart,
    performance_metric,
    window_rows,
)
from loopml.ui._parallel import ParallelChart, parallel_coordinates
from loopml.ui._preview import MAX_PARQUET_BYTES, PREVIEW_BYTES, Preview, needs_whole_file, preview_file
from loopml.ui._tables import (
    NestedRun,
    available_columns,
    cell,
    default_columns,
    differing_params,
    nest_runs,
    parse_columns,
)
from loopml.ui._templates import STATIC_DIR, environment, static_files

__all__ = [
    "CHARTS",
    "MAX_PARQUET_BYTES",
    "PREVIEW_BYTES",
    "STATIC_DIR",
    "BarChart",
    "EvaluationView",
    "GraphLayout",
    "MonitorChart",
    "NestedRun",
    "ParallelChart",
    "Preview",
    "Series",
    "WindowRow",
    "available_columns",
    "bar_chart",
    "cell",
    "default_columns",
    "deployment_routes",
    "differing_params",
    "downsample",
    "drift_flags",
    "environment",
    "evaluation_view",
    "evidence_lines",
    "layout_graph",
    "model_href",
    "monitor_chart",
    "needs_whole_file",
    "nest_runs",
    "parallel_coordinates",
    "parse_columns",
    "performance_metric",
    "preview_file",
    "rollout_steps",
    "side_by_side",
    "static_files",
    "verdicts",
    "window_rows",
]
