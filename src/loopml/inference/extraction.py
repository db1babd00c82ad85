"""Model-extraction probing: one caller sending many near-identical rows.

Extraction attacks walk the input space in small steps (one feature nudged at a time) to map a
decision boundary. Per caller and model, :class:`ProbeDetector` keeps the rows of the last
``window_s`` seconds (at most ``max_rows``) and counts, for each new row, the recent rows that are
*near-identical* to it: every feature equal except at most one, and that one within ``step`` of
it (relative to the feature's training standard deviation when known, else to its magnitude,
with 1 as the floor). Identical rows count too (a replayed probe). When a caller's near-identical
count within the window reaches ``max_probes``, its requests to that model are refused until the
window has moved past them.

Where the windows live is a :class:`ProbeStore`: :class:`InProcessProbeStore` (this process's
memory, the default) or a shared one (the serving layer's Redis store), so that a caller whose
requests are spread over several workers or replicas is still seen as one. The decision is the
same whichever store keeps the window: :meth:`ProbeDetector.step` is a pure function of the
window, the new rows and the time.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from loopml.errors import InvalidInput
from loopml.inference.inputs import ModelInput
from loopml.inference.schema import InputSchema

__all__ = [
    "ExtractionCheck",
    "InProcessProbeStore",
    "ProbeDecision",
    "ProbeDetector",
    "ProbeStep",
    "ProbeStore",
    "ProbeWindow",
]

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


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ProbeWindow:
    """One caller's recent rows and probes.

    Attributes:
        times: When each remembered row arrived (oldest first).
        rows: The remembered rows, one 1-d array each (same order as ``times``).
        probes: When each near-identical row arrived (oldest first).
    """

    times: tuple[float, ...] = ()
    rows: tuple[np.ndarray, ...] = ()
    probes: tuple[float, ...] = ()


ProbeStep = Callable[[ProbeWindow | None, float], tuple[ProbeWindow, ProbeDecision]]
"""Given a caller's window (None: nothing remembered) and the time, its new window and the decision."""


class ProbeStore(Protocol):
    """Where the windows live; :meth:`update` applies one step to one key atomically."""

    def update(self, key: str, step: ProbeStep, *, ttl_s: float) -> ProbeDecision:
        """Apply ``step`` to the window of ``key`` (kept at least ``ttl_s`` after this update)."""


class InProcessProbeStore:
    """Windows in this process's memory (thread-safe; least recently seen keys are forgotten).

    Args:
        clock: Monotonic seconds (tests inject their own).
        max_keys: Windows kept; beyond it the least recently seen are forgotten.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._windows: OrderedDict[str, ProbeWindow] = OrderedDict()
        self._lock = threading.Lock()

    def update(self, key: str, step: ProbeStep, *, ttl_s: float) -> ProbeDecision:
        with self._lock:
            window, decision = step(self._windows.pop(key, None), self._clock())
            self._windows[key] = window
            while len(self._windows) > self._max_keys:
                self._windows.popitem(last=False)
            return decision


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
        clock: Monotonic seconds for the default in-process store (tests inject their own).
        max_callers: Callers the default in-process store remembers (least recently seen forgotten).
        store: Where the windows live (default: this process's memory); a shared store's clock
            is its own.
        namespace: Prefix of this detector's keys in ``store`` (the model, for a shared store).
    """

    def __init__(
        self,
        schema: InputSchema,
        check: ExtractionCheck,
        *,
        scales: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_callers: int = 10_000,
        store: ProbeStore | None = None,
        namespace: str = "",
    ) -> None:
        self._schema = schema
        self._check = check
        self._store: ProbeStore = store or InProcessProbeStore(clock=clock, max_keys=max_callers)
        self._namespace = namespace
        given = scales or {}
        self._scales = np.array([float(given.get(n) or 0.0) for n in schema.names])

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
        return self._store.update(
            self._namespace + caller,
            lambda window, now: self.step(window, features, now),
            ttl_s=float(self._check.window_s),
        )

    def step(
        self, window: ProbeWindow | None, features: np.ndarray, now: float
    ) -> tuple[ProbeWindow, ProbeDecision]:
        """The window after the rows ``features`` arrive at ``now``, and the decision for them."""
        max_rows = int(self._check.max_rows)
        horizon = now - self._check.window_s
        window = window or ProbeWindow()
        history: deque[tuple[float, np.ndarray]] = deque(
            ((t, r) for t, r in zip(window.times, window.rows, strict=True) if t >= horizon), maxlen=max_rows
        )
        probes = deque(t for t in window.probes if t >= horizon)
        if len(probes) >= self._check.max_probes:
            decision = ProbeDecision(allowed=False, probes=len(probes), retry_after_s=probes[0] - horizon)
        else:
            known = len(history)
            rows_so_far = np.concatenate([np.stack([r for _, r in history]), features]) if known else features
            for i, row in enumerate(features):
                if self._near_count(row, rows_so_far[: known + i][-max_rows:]):
                    probes.append(now)
                history.append((now, row))
            decision = ProbeDecision(allowed=True, probes=len(probes))
        kept = ProbeWindow(
            times=tuple(t for t, _ in history), rows=tuple(r for _, r in history), probes=tuple(probes)
        )
        return kept, decision
