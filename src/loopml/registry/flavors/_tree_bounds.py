"""Bounds checks of the decision trees inside a loaded scikit-learn object.

scikit-learn's tree code indexes node arrays with the child and feature indices stored in the
file, without checking them: a crafted file (every type in it allow-listed) can make ``predict``
read out of bounds or crash the process. After a skops file is loaded, every
``sklearn.tree._tree.Tree`` and every histogram-gradient-boosting ``TreePredictor`` reachable
from the object is checked: children inside the node array (or both leaf markers), features
inside the model's inputs, value arrays of the declared shape.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from loopml.errors import UnsafeArtifact

__all__ = ["check_tree_bounds"]

_LEAF = -1  # sklearn.tree._tree.TREE_LEAF
_UNDEFINED = -2  # sklearn.tree._tree.TREE_UNDEFINED
_MAX_OBJECTS = 1_000_000


def _refuse(where: str, why: str) -> UnsafeArtifact:
    return UnsafeArtifact(
        f"{where}: {why}. A tree whose indices point outside its arrays can make predict read out of "
        "bounds; the file was altered or not written by scikit-learn. Refusing to load it."
    )


def _check_tree(tree: Any, where: str) -> None:
    state = tree.__getstate__()
    nodes, values, count = state["nodes"], state["values"], int(state["node_count"])
    if len(nodes) != count or count < 1:
        raise _refuse(where, f"node_count {count} but {len(nodes)} nodes")
    left, right, feature = (
        np.asarray(nodes[k], dtype=np.int64) for k in ("left_child", "right_child", "feature")
    )
    leaf = left == _LEAF
    if np.any(leaf != (right == _LEAF)):
        raise _refuse(where, "a node has one child")
    inner = ~leaf
    for name, children in (("left", left), ("right", right)):
        bad = inner & ((children <= 0) | (children >= count))
        if bad.any():
            raise _refuse(
                where,
                f"node {int(np.argmax(bad))} has {name} child {int(children[bad][0])} outside 1..{count - 1}",
            )
    n_features = int(tree.n_features)
    bad = inner & ((feature < 0) | (feature >= n_features))
    if bad.any():
        raise _refuse(
            where, f"node {int(np.argmax(bad))} splits on feature {int(feature[bad][0])} of {n_features}"
        )
    expected = (count, int(tree.n_outputs), int(np.max(tree.n_classes)))
    if tuple(values.shape) != expected:
        raise _refuse(where, f"values of shape {tuple(values.shape)}, expected {expected}")


def _check_predictor(predictor: Any, where: str, n_features: int | None) -> None:
    nodes = predictor.nodes
    count = len(nodes)
    inner = ~np.asarray(nodes["is_leaf"], dtype=bool)
    for name in ("left", "right"):
        children = np.asarray(nodes[name], dtype=np.int64)
        bad = inner & ((children <= 0) | (children >= count))
        if bad.any():
            raise _refuse(
                where,
                f"node {int(np.argmax(bad))} has {name} child {int(children[bad][0])} outside 1..{count - 1}",
            )
    if n_features is not None:
        feature = np.asarray(nodes["feature_idx"], dtype=np.int64)
        bad = inner & ((feature < 0) | (feature >= n_features))
        if bad.any():
            raise _refuse(
                where, f"node {int(np.argmax(bad))} splits on feature {int(feature[bad][0])} of {n_features}"
            )


def _imported_type(module: str, name: str) -> type | None:
    """``module.name`` if ``module`` is imported, else None.

    An object of a type exists only once the type's module is imported (loading a skops file
    imports the module of every type it builds), so a tree type whose module is not imported has
    no instance to check. Importing it here instead would bring all of ``sklearn.ensemble`` into a
    process that serves a linear model.
    """
    found = getattr(sys.modules.get(module), name, None)
    return found if isinstance(found, type) else None


def check_tree_bounds(obj: Any) -> None:
    """Check every tree reachable from ``obj`` (estimators, pipelines, ensembles, containers).

    Raises:
        UnsafeArtifact: a tree with an index outside its arrays, naming the estimator and node.
    """
    tree = _imported_type("sklearn.tree._tree", "Tree")
    predictor = _imported_type("sklearn.ensemble._hist_gradient_boosting.predictor", "TreePredictor")
    if tree is None and predictor is None:
        return  # neither module is imported, so ``obj`` holds no tree
    seen: set[int] = set()
    stack: list[tuple[Any, str, int | None]] = [(obj, type(obj).__name__, None)]
    while stack:
        item, where, n_features = stack.pop()
        if id(item) in seen or isinstance(item, str | bytes | int | float | bool | type(None)):
            continue
        seen.add(id(item))
        if len(seen) > _MAX_OBJECTS:
            raise _refuse(where, f"more than {_MAX_OBJECTS:,} objects to check")
        if tree is not None and isinstance(item, tree):
            _check_tree(item, where)
            continue
        if predictor is not None and isinstance(item, predictor):
            _check_predictor(item, where, n_features)
            continue
        if isinstance(item, np.ndarray):
            if item.dtype == object:
                stack.extend((v, where, n_features) for v in item.ravel().tolist())
            continue
        if isinstance(item, dict):
            stack.extend((v, f"{where}[{k!r}]", n_features) for k, v in item.items())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend((v, f"{where}[{i}]", n_features) for i, v in enumerate(item))
        elif type(item).__module__.startswith("sklearn."):
            inner_features = getattr(item, "n_features_in_", n_features)
            attrs = getattr(item, "__dict__", None)
            if isinstance(attrs, dict):
                stack.extend((v, f"{where}.{k}", inner_features) for k, v in attrs.items())
