"""``loopml lineage ID``: what produced an artifact or run, and what it fed, as a tree or JSON."""

from __future__ import annotations

from typing import Annotated, cast

import typer
from rich.tree import Tree

from loopml.cli import _context
from loopml.cli._output import console, print_json
from loopml.store.ids import resolve_node_id
from loopml.tracking.lineage import Direction, LineageGraph, LineageNode, NodeKind, walk

_STYLE = {NodeKind.ARTIFACT: "cyan", NodeKind.EXECUTION: "magenta", NodeKind.RUN: "green"}


def _label(node: LineageNode, role: str | None = None) -> str:
    via = f"[dim]({role})[/] " if role else ""
    return f"{via}[{_STYLE[node.kind]}]{node.kind}[/] {node.label} [dim]{node.type} {node.id}[/]"


def _grow(tree: Tree, graph: LineageGraph, node_id: str, *, upstream: bool, shown: set[str]) -> None:
    """Add the neighbours of ``node_id``; a node already expanded elsewhere is listed, not repeated."""
    edges = graph.parents(node_id) if upstream else graph.children(node_id)
    for edge in edges:
        other = edge.source if upstream else edge.target
        label = _label(graph.node(other), edge.role)
        if other in shown:
            tree.add(f"{label} [dim](shown above)[/]")
            continue
        shown.add(other)
        _grow(tree.add(label), graph, other, upstream=upstream, shown=shown)


def render_tree(graph: LineageGraph, *, direction: Direction) -> Tree:
    """A rich tree of the graph from its root: upstream and/or downstream branches.

    Each node is expanded once; later occurrences say "(shown above)", so shared inputs (a dataset
    read by several steps) do not repeat their whole history.
    """
    tree = Tree(_label(graph.node(graph.root)))
    for name, upstream in (("upstream", True), ("downstream", False)):
        if direction in (name, "both"):
            branch = tree.add(f"[bold]{name}[/]") if direction == "both" else tree
            _grow(branch, graph, graph.root, upstream=upstream, shown={graph.root})
    return tree


def lineage(
    node_id: Annotated[
        str, typer.Argument(metavar="ID", help="Artifact, execution or run id (or a unique prefix).")
    ],
    direction: Annotated[
        str, typer.Option("--direction", "-d", help="upstream, downstream or both.")
    ] = "upstream",
    depth: Annotated[int, typer.Option("--depth", help="Maximum number of hops.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the lineage of an artifact, execution or run."""
    chosen = cast(Direction, direction)  # walk() refuses values outside Direction
    store = _context.store()
    graph = walk(store, resolve_node_id(store, node_id), direction=chosen, depth=depth)
    if as_json:
        print_json(graph)
        return
    console.print(render_tree(graph, direction=chosen))
