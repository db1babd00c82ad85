"""The web UI's templates, static assets and view helpers (served by :mod:`loopml.server` at ``/ui``).

Pure presentation: a Jinja environment with autoescaping (:func:`environment`), the bundled static
files (:data:`STATIC_DIR`: the stylesheet, the page script and uPlot, no CDN), min/max downsampling
of metric histories for charts (:func:`downsample`) and a layered layout of small graphs drawn as
server-side SVG (:func:`layout_graph`). No HTTP here; the routes live in ``loopml.server.ui``.
"""

from loopml.ui._bars import BarChart, bar_chart
from loopml.ui._downsample import Series, downsample
from loopml.ui._graph import GraphLayout, layout_graph
from loopml.ui._parallel import ParallelChart, parallel_coordinates
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
    "STATIC_DIR",
    "BarChart",
    "GraphLayout",
    "NestedRun",
    "ParallelChart",
    "Series",
    "available_columns",
    "bar_chart",
    "cell",
    "default_columns",
    "differing_params",
    "downsample",
    "environment",
    "layout_graph",
    "nest_runs",
    "parallel_coordinates",
    "parse_columns",
    "static_files",
]
