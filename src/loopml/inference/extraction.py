"""Model-extraction probing: one caller sending many near-identical rows.

Extraction attacks walk the input space in small steps (one feature nudged at a time) to map a
decision boundary. Per caller and model, :class:`ProbeDetector` keeps the rows of the last
``window_s`` seconds (at most ``max_rows``) and counts, for each new row, the recent rows that are
*near-identical* to it: every feature equal except at most one, and that one within ``step`` of
it (relative to the feature's training standard deviation when known, else to its magnitude,
with 1 as the floor). Identical rows count too (a replayed probe). When a caller's near-identical
count within the window reaches ``max_probes``, its requests to that model are refused until the
window has moved past them.

State is per process (a worker's own window); the count is a behaviour signal, not a quota, so
it need not be exact across replicas. Quotas are what bounds the total number of queries.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.inference.inputs import ModelInput
from loopml.inference.schema import InputSchema

__all__ = ["ExtractionCheck", "ProbeDecision", "ProbeDetector"]

_KEYS = ("window_s", "max_probes", "step", "max_rows")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ExtractionCheck:
    """A model's probing limits.

    Attributes:
        window_s: The sliding window, in seconds.
        max_probes: Near-identical rows allowed within the window before refusing.
        step: The largest relative change of the one differing feature that still counts as a probe.
        max_rows: Rows remembered per caller and model (the oldest are forgotten first).
    """

    window_s: float = 60.0
    max_probes: int = 50
    step: float = 0.1
    max_rows: int = 512

    def __post_init__(self) -> None:
        for key in _KEYS:
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise InvalidInput(f"extraction.{key} must be a number > 0; got {value!r}.")

    @classmethod
    def from_mapping(cls, data: Any, *, where: str) -> ExtractionCheck | None:
        """Parse ``{window_s, max_probes, step, max_rows}`` (None: no check).

        Raises:
            InvalidInput: unknown keys or bad values, naming them.
        """
        if data is None:
            return None
        if not isinstance(data, Mapping) or set(data) - set(_KEYS):
            raise InvalidInput(f"{where} must be a mapping with keys {', '.join(_KEYS)}.")
        return cls(**{k: data[k] for k in _KEYS if k in data})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ProbeDecision:
    """Whether a request may go on, the near-identical rows counted, and seconds to wait if not."""

    allowed: bool
    probes: int
    retry_after_s: float = 0.0


def _features(rows: ModelInput, schema: InputSchema) -> np.ndarray:
    """Rows as an ``(n, k)`` matrix: float64 on the NumPy path, else objects."""
    if rows.matrix is not None:
        return rows.matrix
    values = rows.column_values(schema)
    return np.stack([np.asarray(values[name], dtype=object) for name in schema.names], axis=1)


class ProbeDetector:
    """Sliding-window near-identical-row counter per caller and model (thread-safe).

    Args:
        schema: The model's input schema.
        check: The limits.
        scales: Per column, the training standard deviation (steps are relative to it).
        clock: Monotonic seconds (tests inject their own).
        max_callers: Callers remembered; beyond it the least recently seen are forgotten.
    """

    def __init__(
        self,
        schema: InputSchema,
        check: ExtractionCheck,
        *,
        scales: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_callers: int = 10_000,
    ) -> None:
        self._schema = schema
        self._check = check
        self._clock = clock
        self._max_callers = max_callers
        given = scales or {}
        self._scales = np.array([float(given.get(n) or 0.0) for n in schema.names])
        self._history: OrderedDict[str, deque[tuple[float, np.ndarray]]] = OrderedDict()
        self._probes: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _near_count(self, row: np.ndarray, seen: np.ndarray) -> int:
        """How many rows of ``seen`` (an ``(m, k)`` object matrix) are near-identical to ``row``."""
        if not len(seen):
            return 0
        differs = seen != row
        n_diff = differs.sum(axis=1)
        near = int((n_diff == 0).sum())
        one = np.flatnonzero(n_diff == 1)
        if not len(one):
            return near
        column = np.argmax(differs[one], axis=1)
        for i, j in zip(one.tolist(), column.tolist(), strict=True):
            a, b = row[j], seen[i, j]
            if not isinstance(a, int | float | np.number) or not isinstance(b, int | float | np.number):
                continue
            scale = self._scales[j] if self._scales[j] > 0 else max(1.0, abs(float(a)), abs(float(b)))
            near += abs(float(a) - float(b)) <= self._check.step * scale
        return near

    def _near_counts_numeric(self, seen: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Per row of ``rows``, the near-identical rows among ``seen`` and the rows before it."""
        every = np.concatenate([seen, rows]).astype(np.float64)
        known = len(seen)
        delta = np.abs(every[None, :, :] - rows[:, None, :])  # (n, known + n, k)
        differs = delta != 0
        n_diff = differs.sum(axis=2)
        scale = np.where(
            self._scales > 0,
            self._scales,
            np.maximum(1.0, np.maximum(np.abs(every)[None], np.abs(rows)[:, None])),
        )
        small = (delta <= self._check.step * scale) | ~differs
        near = (n_diff == 0) | ((n_diff == 1) & small.all(axis=2))
        earlier = np.arange(known + len(rows))[None, :] < (known + np.arange(len(rows)))[:, None]
        counts: np.ndarray = (near & earlier).sum(axis=1)
        return counts

    def observe(self, caller: str, rows: ModelInput) -> ProbeDecision:
        """Count the near-identical rows of ``rows`` against ``caller``'s window and decide.

        A refused request's rows are not remembered (refusals do not extend the window).
        """
        features = _features(rows, self._schema)
        now = self._clock()
        horizon = now - self._check.window_s
        with self._lock:
            history = self._history.pop(caller, None) or deque(maxlen=int(self._check.max_rows))
            probes = self._probes.pop(caller, None) or deque()
            while history and history[0][0] < horizon:
                history.popleft()
            while probes and probes[0] < horizon:
                probes.popleft()
            if len(probes) >= self._check.max_probes:
                decision = ProbeDecision(allowed=False, probes=len(probes), retry_after_s=probes[0] - horizon)
            else:
                known = len(history)
                rows_so_far = (
                    np.concatenate([np.stack([r for _, r in history]), features]) if known else features
                )
                for i, row in enumerate(features):
                    if self._near_count(row, rows_so_far[: known + i][-int(self._check.max_rows) :]):
                        probes.append(now)
                    history.append((now, row))
                decision = ProbeDecision(allowed=True, probes=len(probes))
            self._history[caller] = history
            self._probes[caller] = probes
            while len(self._history) > self._max_callers:
                oldest, _ = self._history.popitem(last=False)
                self._probes.pop(oldest, None)
            return decision
