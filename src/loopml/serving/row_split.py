"""Putting back together the answer to a request whose rows several A/B arms answered.

Each arm answers the rows whose sticky key falls on it (:func:`loopml.deploy.routing.route_rows`);
the outputs are concatenated and put back in the request's row order. Arms whose answers have
different outputs (names, or shapes such as a different number of classes) cannot make one
answer: the request is refused with what differs and how to send it instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from loopml.errors import InvalidInput
from loopml.inference.model import ServedModel

__all__ = ["reassemble_flags", "reassemble_outputs"]


def _back(positions: Sequence[np.ndarray]) -> np.ndarray:
    """Where each row of the request is in the parts' rows, concatenated."""
    return np.argsort(np.concatenate(positions), kind="stable")


def reassemble_outputs(
    outputs: Sequence[Mapping[str, np.ndarray]],
    positions: Sequence[np.ndarray],
    models: Sequence[ServedModel],
) -> dict[str, np.ndarray]:
    """The outputs of a split request, each part's rows put back at its ``positions``.

    Raises:
        InvalidInput: the arms (``models``) answer with different outputs (names, or shapes such
            as class counts).
    """
    names = [tuple(o) for o in outputs]
    if len(set(names)) != 1:
        raise _unsplittable(models, f"outputs {' vs '.join(str(list(n)) for n in names)}")
    back = _back(positions)
    try:
        return {key: np.concatenate([o[key] for o in outputs])[back] for key in outputs[0]}
    except ValueError as err:
        raise _unsplittable(models, f"output shapes ({err})") from err


def reassemble_flags(
    flags: Sequence[tuple[tuple[str, ...], ...]], positions: Sequence[np.ndarray]
) -> tuple[tuple[str, ...], ...]:
    """The atypical-input flags of a split request in its row order (empty when no row was flagged)."""
    if not any(flags):
        return ()
    every = [row for f, p in zip(flags, positions, strict=True) for row in (f or ((),) * len(p))]
    return tuple(every[i] for i in _back(positions).tolist())


def _unsplittable(models: Sequence[ServedModel], what: str) -> InvalidInput:
    arms = ", ".join(m.source for m in models)
    return InvalidInput(
        f"The rows of this request fall on several A/B arms ({arms}), whose answers differ in {what}, "
        "so they cannot be returned as one answer. Send the rows of each A/B key in their own request, "
        "or put the key in a header to route the whole request by one key."
    )
