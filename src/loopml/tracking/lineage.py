"""Lineage: record an execution with its input and output artifacts, and walk the graph both ways."""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from loopml.errors import InvalidInput, NotFound
from loopml.store.entities import Artifact, EventType, Execution, ExecutionState
from loopml.store.repositories import Store

__all__ = [
    "Direction",
    "LineageEdge",
    "LineageFilter",
    "LineageGraph",
    "LineageNode",
    "NodeKind",
    "record_execution",
    "walk",
]

Direction = Literal["upstream", "downstream", "both"]
_DIRECTIONS = ("upstream", "downstream", "both")
ArtifactRefs = Mapping[str, "Artifact | str | Sequence[Artifact | str]"]


class NodeKind(enum.StrEnum):
    ARTIFACT = "artifact"
    EXECUTION = "execution"
    RUN = "run"


@dataclass(frozen=True, slots=True, kw_only=True)
class LineageNode:
    """An artifact, an execution, or a tracked run (standing for the run's execution)."""

    kind: NodeKind
    id: str
    label: str
    type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LineageEdge:
    """Data flow: artifact → execution for an INPUT event, execution → artifact for an OUTPUT event."""

    source: str
    target: str
    role: str
    event_type: EventType


@dataclass(frozen=True, slots=True, kw_only=True)
class LineageGraph:
    """The part of the lineage graph reached from ``root``."""

    root: str
    nodes: tuple[LineageNode, ...]
    edges: tuple[LineageEdge, ...]

    def node(self, node_id: str) -> LineageNode:
        """The node with this id (:class:`NotFound` when it is not in the graph)."""
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise NotFound(f"Node {node_id!r} is not in this lineage graph.")

    def parents(self, node_id: str) -> list[LineageEdge]:
        """Edges flowing into ``node_id``."""
        return [e for e in self.edges if e.target == node_id]

    def children(self, node_id: str) -> list[LineageEdge]:
        """Edges flowing out of ``node_id``."""
        return [e for e in self.edges if e.source == node_id]


class LineageFilter(Protocol):
    """What a walk may show and step through (the server passes the caller's visibility)."""

    def shows_artifact(self, artifact: Artifact) -> bool:
        """Whether the artifact is shown."""
        ...

    def shows_execution(self, execution: Execution) -> bool:
        """Whether the execution is shown."""
        ...

    def shows_run(self, run_id: str | None) -> bool:
        """Whether the run (and what it recorded) is shown."""
        ...


class _ShowsAll:
    """The filter of an unfiltered walk."""

    def shows_artifact(self, artifact: Artifact) -> bool:
        return True

    def shows_execution(self, execution: Execution) -> bool:
        return True

    def shows_run(self, run_id: str | None) -> bool:
        return True


def _ids(value: Artifact | str | Sequence[Artifact | str]) -> list[str]:
    items: Iterable[Artifact | str] = [value] if isinstance(value, Artifact | str) else value
    return [a.artifact_id if isinstance(a, Artifact) else a for a in items]


def record_execution(
    store: Store,
    *,
    type: str,
    name: str,
    inputs: ArtifactRefs | None = None,
    outputs: ArtifactRefs | None = None,
    params: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    state: ExecutionState = ExecutionState.COMPLETE,
) -> Execution:
    """Record a finished execution with INPUT and OUTPUT events, by role.

    Args:
        store: The metadata store.
        type: Execution type, e.g. ``"statistics"``.
        name: Execution name.
        inputs: Role → artifact (or id), or a list of them, read by the execution.
        outputs: Role → artifact (or id), or a list of them, written by the execution.
        params: Parameters of the execution.
        run_id: The tracked run it belongs to, if any.
        state: Final state (COMPLETE by default).

    Returns:
        The finished execution.

    Raises:
        NotFound: an artifact id does not exist.
    """
    events: list[tuple[str, EventType, str]] = []
    for refs, kind in ((inputs, EventType.INPUT), (outputs, EventType.OUTPUT)):
        for role, value in (refs or {}).items():
            for artifact_id in _ids(value):
                store.artifacts.get(artifact_id)
                events.append((artifact_id, kind, role))
    execution = store.lineage.create_execution(type=type, name=name, run_id=run_id, params=params)
    if events:
        store.lineage.add_events(execution.execution_id, events)
    return store.lineage.finish_execution(execution.execution_id, state)


class _Walker:
    """Breadth-first walk over events, depth-limited and safe on cycles, through shown nodes only."""

    def __init__(self, store: Store, visible: LineageFilter) -> None:
        self._store = store
        self._visible = visible
        self.nodes: dict[str, LineageNode] = {}
        self.edges: dict[tuple[str, str, str, EventType], LineageEdge] = {}
        self._exec_node: dict[str, str] = {}  # execution id → node id (a run id for run executions)
        self._source: dict[str, str] = {}  # cache-hit execution id → the execution whose events it reuses

    def artifact_node(self, artifact: Artifact) -> str:
        label = f"{artifact.name} v{artifact.version}" if artifact.version is not None else artifact.name
        self.nodes.setdefault(
            artifact.artifact_id,
            LineageNode(kind=NodeKind.ARTIFACT, id=artifact.artifact_id, label=label, type=artifact.type),
        )
        return artifact.artifact_id

    def execution_node(self, execution: Execution) -> str:
        node_id = execution.run_id or execution.execution_id
        kind = NodeKind.RUN if execution.run_id else NodeKind.EXECUTION
        self._exec_node[execution.execution_id] = node_id
        label = execution.name
        original = _cached_from(execution)
        if original is not None:
            self._source[execution.execution_id] = original
            label = f"{execution.name} (cache hit of {original[:8]})"
        self.nodes.setdefault(node_id, LineageNode(kind=kind, id=node_id, label=label, type=execution.type))
        return node_id

    def _edge(self, artifact_id: str, exec_node: str, event_type: EventType, role: str) -> None:
        source, target = (
            (artifact_id, exec_node) if event_type is EventType.INPUT else (exec_node, artifact_id)
        )
        self.edges.setdefault(
            (source, target, role, event_type),
            LineageEdge(source=source, target=target, role=role, event_type=event_type),
        )

    def walk(self, start: tuple[str, str], *, upstream: bool, depth: int) -> None:
        """Walk from ``start`` = ("artifact"|"execution", id) for ``depth`` hops."""
        # An artifact is reached upstream via OUTPUT events (who made it), downstream via INPUT events.
        from_artifact = EventType.OUTPUT if upstream else EventType.INPUT
        from_execution = EventType.INPUT if upstream else EventType.OUTPUT
        seen = {start}
        queue = deque([(start, 0)])
        while queue:
            (kind, ident), level = queue.popleft()
            if level >= depth:
                continue
            if kind == "artifact":
                events = self._store.lineage.list_events(artifact_id=ident)
                wanted = [e for e in events if e.type is from_artifact]
                for e in wanted:
                    execution = self._store.lineage.get_execution(e.execution_id)
                    if not self._visible.shows_execution(execution):
                        continue  # neither shown nor stepped through
                    node = self.execution_node(execution)
                    self._edge(ident, node, e.type, e.role)
                    nxt = ("execution", e.execution_id)
                    if nxt not in seen:
                        seen.add(nxt)
                        queue.append((nxt, level + 1))
            else:
                events = self._store.lineage.list_events(execution_id=self._source.get(ident, ident))
                node = self._exec_node[ident]
                for e in (e for e in events if e.type is from_execution):
                    artifact = self._store.artifacts.get(e.artifact_id)
                    if not self._visible.shows_artifact(artifact):
                        continue  # neither shown nor stepped through
                    self.artifact_node(artifact)
                    self._edge(e.artifact_id, node, e.type, e.role)
                    nxt = ("artifact", e.artifact_id)
                    if nxt not in seen:
                        seen.add(nxt)
                        queue.append((nxt, level + 1))


def _cached_from(execution: Execution) -> str | None:
    """The execution a cache hit reused (a cache hit records no events of its own), else None."""
    original = execution.properties.get("cached_from")
    if execution.state is ExecutionState.CACHED and isinstance(original, str):
        return original
    return None


def _unknown_node(node_id: str) -> NotFound:
    return NotFound(
        f"No artifact, execution or run with id {node_id!r}; `loopml runs list` and "
        "`loopml artifacts show ID` find ids."
    )


def _resolve(
    store: Store, walker: _Walker, node_id: str, visible: LineageFilter
) -> tuple[tuple[str, str] | None, str]:
    """The walk's start for an artifact, execution or run id, and the id of its root node.

    A start that is not shown is reported exactly like an unknown id.
    """
    try:
        artifact = store.artifacts.get(node_id)
    except NotFound:
        pass
    else:
        if not visible.shows_artifact(artifact):
            raise _unknown_node(node_id)
        return ("artifact", node_id), walker.artifact_node(artifact)
    try:
        execution = store.lineage.get_execution(node_id)
    except NotFound:
        pass
    else:
        if not visible.shows_execution(execution):
            raise _unknown_node(node_id)
        return ("execution", execution.execution_id), walker.execution_node(execution)
    try:
        run = store.runs.get(node_id)
    except NotFound as err:
        raise _unknown_node(node_id) from err
    if not visible.shows_run(run.run_id):
        raise _unknown_node(node_id)
    run_execution = store.lineage.find_run_execution(run.run_id)
    if run_execution is None:  # a run created outside the client: a lone node
        walker.nodes[run.run_id] = LineageNode(kind=NodeKind.RUN, id=run.run_id, label=run.name, type="run")
        return None, run.run_id
    return ("execution", run_execution.execution_id), walker.execution_node(run_execution)


def walk(
    store: Store,
    node_id: str,
    *,
    direction: Direction = "upstream",
    depth: int = 3,
    visible: LineageFilter | None = None,
) -> LineageGraph:
    """The lineage reached from an artifact, execution or run, up to ``depth`` hops each way.

    Args:
        store: The metadata store.
        node_id: An artifact id, execution id or run id (a run stands for its execution).
        direction: ``"upstream"`` (what produced it), ``"downstream"`` (what it fed) or ``"both"``.
        depth: Maximum number of edges followed from the start.
        visible: What may be shown (default: everything). A node it does not show is left out
            and never stepped through, so what lies only beyond it is not reached either; a
            start it does not show is reported as an unknown id.

    .. versionchanged:: the ``visible`` filter.

    Returns:
        The nodes and edges reached; ``root`` is the id of the start node.

    Raises:
        NotFound: no artifact, execution or run has this id.
        InvalidInput: a bad direction or depth.
    """
    if direction not in _DIRECTIONS:
        raise InvalidInput(f"direction must be one of {', '.join(_DIRECTIONS)}. Got {direction!r}.")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise InvalidInput(f"depth must be a non-negative integer. Got {depth!r}.")
    shown = visible if visible is not None else _ShowsAll()
    walker = _Walker(store, shown)
    start, root = _resolve(store, walker, node_id, shown)
    if start is not None:
        if direction in ("upstream", "both"):
            walker.walk(start, upstream=True, depth=depth)
        if direction in ("downstream", "both"):
            walker.walk(start, upstream=False, depth=depth)
    return LineageGraph(root=root, nodes=tuple(walker.nodes.values()), edges=tuple(walker.edges.values()))
