"""A layered left-to-right layout of a small directed graph, for server-rendered SVG."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["GraphLayout", "PlacedEdge", "PlacedNode", "layout_graph"]

NODE_W = 180
NODE_H = 44
GAP_X = 70
GAP_Y = 24


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacedNode:
    """A node at its place: ``x``/``y`` of its top-left corner."""

    node_id: str
    label: str
    kind: str
    href: str | None
    x: int
    y: int
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacedEdge:
    """An edge as a cubic path from the right side of one node to the left side of another."""

    path: str
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphLayout:
    """What an SVG needs: its size, the nodes and the edge paths."""

    width: int
    height: int
    nodes: list[PlacedNode]
    edges: list[PlacedEdge]
    node_w: int = NODE_W
    node_h: int = NODE_H


@dataclass(frozen=True, slots=True, kw_only=True)
class _Node:
    node_id: str
    label: str
    kind: str
    href: str | None
    note: str


def layout_graph(
    nodes: Iterable[tuple[str, str, str, str | None, str]],
    edges: Sequence[tuple[str, str, str]],
) -> GraphLayout:
    """Place ``nodes`` (id, label, kind, link, note) in columns by their longest path from a source.

    ``edges`` are ``(source id, target id, label)``; edges naming unknown nodes are dropped and a
    cycle is broken where it is met, so any input lays out.

    Example:
        >>> nodes = [("a", "A", "run", None, ""), ("b", "B", "artifact", None, "")]
        >>> g = layout_graph(nodes, [("a", "b", "")])
        >>> [n.x for n in g.nodes]
        [10, 260]
    """
    known = {n[0]: _Node(node_id=n[0], label=n[1], kind=n[2], href=n[3], note=n[4]) for n in nodes}
    kept = [(s, t, lab) for s, t, lab in edges if s in known and t in known and s != t]
    depth = _depths(list(known), kept)
    columns: dict[int, list[str]] = {}
    for node_id in known:
        columns.setdefault(depth[node_id], []).append(node_id)
    placed: dict[str, PlacedNode] = {}
    for column, members in sorted(columns.items()):
        for row, node_id in enumerate(members):
            n = known[node_id]
            placed[node_id] = PlacedNode(
                node_id=node_id,
                label=n.label,
                kind=n.kind,
                href=n.href,
                note=n.note,
                x=10 + column * (NODE_W + GAP_X),
                y=10 + row * (NODE_H + GAP_Y),
            )
    placed_edges = []
    for s, t, lab in kept:
        a, b = placed[s], placed[t]
        x1, y1, x2, y2 = a.x + NODE_W, a.y + NODE_H // 2, b.x, b.y + NODE_H // 2
        mid = (x1 + x2) // 2
        placed_edges.append(PlacedEdge(path=f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}", label=lab))
    width = 20 + (max(columns, default=0) + 1) * (NODE_W + GAP_X)
    height = 20 + max((len(m) for m in columns.values()), default=1) * (NODE_H + GAP_Y)
    return GraphLayout(width=width, height=height, nodes=list(placed.values()), edges=placed_edges)


def _depths(node_ids: list[str], edges: Sequence[tuple[str, str, str]]) -> dict[str, int]:
    """Longest-path depth of each node (relaxed at most ``len(nodes)`` times, so cycles end)."""
    depth = dict.fromkeys(node_ids, 0)
    for _ in range(len(node_ids)):
        changed = False
        for s, t, _label in edges:
            if depth[t] < depth[s] + 1 and depth[s] + 1 < len(node_ids):
                depth[t] = depth[s] + 1
                changed = True
        if not changed:
            break
    return depth
