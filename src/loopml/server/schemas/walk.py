"""Wire schema of a lineage graph (the answer of the lineage walk)."""

from __future__ import annotations

from typing import Literal

from loopml.server.schemas.common import Wire
from loopml.tracking.lineage import LineageGraph

__all__ = ["LineageGraphOut"]


class LineageNodeOut(Wire):
    kind: Literal["artifact", "execution", "run"]
    id: str
    label: str
    type: str


class LineageEdgeOut(Wire):
    source: str
    target: str
    role: str
    event_type: Literal["INPUT", "OUTPUT"]


class LineageGraphOut(Wire):
    root: str
    nodes: list[LineageNodeOut]
    edges: list[LineageEdgeOut]

    @classmethod
    def of(cls, graph: LineageGraph) -> LineageGraphOut:
        return cls(
            root=graph.root,
            nodes=[
                LineageNodeOut(kind=n.kind.value, id=n.id, label=n.label, type=n.type) for n in graph.nodes
            ],
            edges=[
                LineageEdgeOut(source=e.source, target=e.target, role=e.role, event_type=e.event_type.value)
                for e in graph.edges
            ],
        )
