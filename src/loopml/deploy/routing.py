"""Which route answers a request: canary weights, sticky A/B arms and shadow mirroring, by hashing.

Every decision is a pure function of the deployment's spec and a request key, so every replica
(and every restart) routes the same key the same way: the key is hashed with SHA-256 together
with the deployment name and a purpose (``canary``, ``ab``, a shadow's name) into a bucket in
``[0, 100)``, compared with the weights. Without a sticky key the request id is hashed instead,
which spreads requests at random in the given proportions.

Example:
    >>> from loopml.deploy.spec import ABArm, ABSplit, DeploymentSpec
    >>> ab = ABSplit(key="user", arms=(ABArm(name="a", target="models:/m/1", weight=50),
    ...                                ABArm(name="b", target="models:/m/2", weight=50)))
    >>> spec = DeploymentSpec(name="shop", primary="models:/m/1", ab=ab)
    >>> choose_route(spec, key="alice", request_id="r1") == choose_route(spec, key="alice", request_id="r2")
    True
    >>> round(bucket("alice", salt="shop:ab"), 2)
    70.72
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from loopml.deploy.spec import DeploymentSpec, Shadow

__all__ = ["CANARY", "PRIMARY", "RouteChoice", "bucket", "choose_route", "mirrored_shadows", "route_rows"]

#: Route names as the gates know them (:class:`~loopml.deploy.observations.Observations` keys).
PRIMARY = "primary"
CANARY = "canary"
_SCALE = 100.0 / 2**64


def bucket(key: str, *, salt: str) -> float:
    """A stable position of ``key`` in ``[0, 100)``: the first 8 bytes of SHA-256(salt, key)."""
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") * _SCALE


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteChoice:
    """The route answering a request.

    Attributes:
        route: ``primary``, ``canary`` or the A/B arm's name (the observations key).
        target: What answers: a ``models:/`` URI or an ensemble of the deployment.
        sticky: Whether the choice came from the request's sticky key (else from its id).
    """

    route: str
    target: str
    sticky: bool


def choose_route(spec: DeploymentSpec, *, key: str | None, request_id: str) -> RouteChoice:
    """The route of one request.

    Args:
        spec: The deployment.
        key: The request's sticky key (the value of ``spec.ab.key`` in the request), or None.
        request_id: The request's id, hashed when there is no key.
    """
    sticky = key is not None
    value = key if key is not None else request_id
    if spec.ab is not None:
        position = bucket(value, salt=f"{spec.name}:ab")
        edge = 0.0
        for arm in spec.ab.arms:
            edge += arm.weight
            if position < edge:
                return RouteChoice(route=arm.name, target=arm.target, sticky=sticky)
        last = spec.ab.arms[-1]  # rounding of the weights' sum
        return RouteChoice(route=last.name, target=last.target, sticky=sticky)
    canary = spec.canary
    if canary is not None and canary.weight > 0 and bucket(value, salt=f"{spec.name}:canary") < canary.weight:
        return RouteChoice(route=CANARY, target=canary.target, sticky=sticky)
    return RouteChoice(route=PRIMARY, target=spec.primary, sticky=sticky)


def route_rows(
    spec: DeploymentSpec, keys: Sequence[object] | np.ndarray, *, request_id: str
) -> list[tuple[RouteChoice, np.ndarray]]:
    """The route of each row of a request whose sticky key is per row (an input field).

    Rows whose keys take the same route form one part; each part is its route and the positions
    of its rows (increasing), parts in the order of their first row. One part when every key
    takes one route.

    Example:
        >>> from loopml.deploy.spec import ABArm, ABSplit, DeploymentSpec
        >>> ab = ABSplit(key="user", arms=(ABArm(name="a", target="models:/m/1", weight=50),
        ...                                ABArm(name="b", target="models:/m/2", weight=50)))
        >>> spec = DeploymentSpec(name="shop", primary="models:/m/1", ab=ab)
        >>> [(c.route, p.tolist()) for c, p in route_rows(spec, ["alice", "bob", "alice"], request_id="r")]
        [('b', [0, 2]), ('a', [1])]
    """
    values = np.asarray(keys)
    unique, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    choices = [choose_route(spec, key=str(k), request_id=request_id) for k in unique.tolist()]
    if len({c.route for c in choices}) == 1:
        return [(choices[0], np.arange(len(values)))]
    parts: dict[str, list[int]] = {}
    for i in np.argsort(first, kind="stable").tolist():
        parts.setdefault(choices[i].route, []).append(i)
    return [(choices[members[0]], np.flatnonzero(np.isin(inverse, members))) for members in parts.values()]


def mirrored_shadows(spec: DeploymentSpec, *, request_id: str) -> tuple[Shadow, ...]:
    """The shadows a request is copied to (each mirrors its ``mirror_percent`` of the requests)."""
    return tuple(
        s
        for s in spec.shadows
        if s.mirror_percent >= 100
        or bucket(request_id, salt=f"{spec.name}:shadow:{s.name}") < s.mirror_percent
    )
