"""What the data plane hands out: one request's answer, and who is told about it."""

from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np

from loopml.inference.inputs import ModelInput
from loopml.inference.model import ServedModel

__all__ = ["InferenceResult", "InferenceSink"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class InferenceResult:
    """The answer to one request.

    Attributes:
        request_id: The request's id (the client's, or a fresh UUID).
        model: The model that answered.
        outputs: Output name → values (after the output policy), one entry per row.
        latency_s: Seconds from the data plane receiving the rows to the outputs being ready.
        flags: Per row, why it was atypical (``out_of_range:age`` ...), under the model's ``flag``
            policy; empty when no row was flagged.
        positions: Per row, its position in the request, when ``model`` answered only some rows
            of it (a request whose rows fall on several A/B arms); None: all of them, in order.
        arm_versions: The versions of the arms that answered parts of a request split by A/B arm
            (``model.version`` joins them); empty: ``model`` answered it alone.
    """

    request_id: str
    model: ServedModel
    outputs: dict[str, np.ndarray]
    latency_s: float
    flags: tuple[tuple[str, ...], ...] = ()
    positions: np.ndarray | None = None
    arm_versions: tuple[str, ...] = ()

    @property
    def versions(self) -> tuple[str, ...]:
        """The version(s) that answered: a deployment's route (or each arm's), never its primary's
        unless the primary answered."""
        return self.arm_versions or (self.model.version,)


class InferenceSink(Protocol):
    """Something told about every answered request (the prediction log); must never block."""

    def record(
        self, result: InferenceResult, rows: ModelInput, *, protocol: str, principal: str | None
    ) -> None:
        """Take note of one answered request."""
        ...

    def close(self) -> None:
        """Flush and stop."""
        ...
