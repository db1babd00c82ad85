"""Graph order of pipeline steps: topological sort with named cycles, and downstream sets."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from loopml.errors import InvalidInput

__all__ = ["downstream_of", "topological_order"]


def _find_cycle(deps: Mapping[str, Collection[str]], remaining: set[str]) -> list[str]:
    """A cycle among ``remaining`` nodes, as a path that starts and ends at the same node."""
    start = min(remaining)
    path: list[str] = []
    seen: dict[str, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = min(d for d in deps[node] if d in remaining)
    # `path` walks dependency edges (b depends on a: b -> a); print in data-flow order.
    cycle = [*path[seen[node] :], node]
    return list(reversed(cycle))


def topological_order(deps: Mapping[str, Collection[str]], *, pipeline: str = "pipeline") -> list[str]:
    """Order nodes so every node comes after the nodes it depends on.

    Ties keep the mapping's order, so the order is deterministic.

    Args:
        deps: Each node's dependencies (nodes it reads from); every dependency must be a key.
        pipeline: Name used in error messages.

    Returns:
        The nodes in dependency order.

    Raises:
        InvalidInput: when the graph has a cycle, naming it (``a -> b -> a``).

    Example:
        >>> topological_order({"train": ["ingest"], "ingest": [], "eval": ["train", "ingest"]})
        ['ingest', 'train', 'eval']
    """
    indegree = {node: len(set(ds)) for node, ds in deps.items()}
    dependents: dict[str, list[str]] = {node: [] for node in deps}
    for node, ds in deps.items():
        for d in set(ds):
            dependents[d].append(node)
    position = {node: i for i, node in enumerate(deps)}
    ready = sorted((n for n, k in indegree.items() if k == 0), key=position.__getitem__)
    order: list[str] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        released = []
        for child in dependents[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                released.append(child)
        ready = sorted([*ready, *released], key=position.__getitem__)
    if len(order) < len(deps):
        cycle = _find_cycle(deps, set(deps) - set(order))
        raise InvalidInput(
            f"Pipeline {pipeline!r} has a cycle: {' -> '.join(cycle)}. "
            "A pipeline must be a one-way graph; remove one of these connections."
        )
    return order


def downstream_of(deps: Mapping[str, Collection[str]], node: str) -> set[str]:
    """Every node that reads, directly or not, from ``node`` (``node`` excluded).

    Example:
        >>> sorted(downstream_of({"a": [], "b": ["a"], "c": ["b"], "d": []}, "a"))
        ['b', 'c']
    """
    result: set[str] = set()
    frontier = [node]
    while frontier:
        current = frontier.pop()
        for other, ds in deps.items():
            if current in ds and other not in result:
                result.add(other)
                frontier.append(other)
    return result
