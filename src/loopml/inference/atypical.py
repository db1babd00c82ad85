"""Atypical-input scoring: how far each request row is from the data the model was trained on.

A row is scored against the package's ``training_stats.json`` (see
:mod:`loopml.registry.package.training_stats`) and its input schema. Reasons, per row:

* ``missing:COL``: a null or NaN value in a signature column;
* ``out_of_range:COL``: a numeric value below the training minimum or above the maximum;
* ``unseen:COL``: a string value never seen in training (columns with a known category set);
* ``distance``: the root-mean-square z-score over the numeric columns (each value's distance
  from the training mean in training standard deviations) exceeds ``max_distance``.

What happens to a request with atypical rows is the per-model :class:`AtypicalPolicy`, applied by
the data plane: ``log`` (counted and logged), ``flag`` (also marked on the result, hence in the
prediction log) or ``reject`` (refused with a 400 naming the row and the reasons). Batch scoring
uses the same scorer.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.inference.inputs import ModelInput
from loopml.inference.schema import ColumnKind, InputSchema

__all__ = ["AtypicalCheck", "AtypicalInput", "AtypicalPolicy", "AtypicalReport", "AtypicalScorer"]


class AtypicalPolicy(enum.StrEnum):
    """What to do with a request holding atypical rows."""

    LOG = "log"
    FLAG = "flag"
    REJECT = "reject"


class AtypicalInput(InvalidInput):
    """A request was refused because a row is too far from the training data (policy ``reject``)."""

    code = "atypical_input"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AtypicalCheck:
    """A model's atypical-input settings.

    Attributes:
        policy: ``log``, ``flag`` or ``reject``.
        max_distance: The RMS z-score above which a row is atypical.
    """

    policy: AtypicalPolicy = AtypicalPolicy.FLAG
    max_distance: float = 4.0

    def __post_init__(self) -> None:
        if not isinstance(self.policy, AtypicalPolicy):
            valid = ", ".join(p.value for p in AtypicalPolicy)
            raise InvalidInput(f"atypical.policy must be one of {valid}; got {self.policy!r}.")
        if isinstance(self.max_distance, bool) or not isinstance(self.max_distance, int | float):
            raise InvalidInput(f"atypical.max_distance must be a number; got {self.max_distance!r}.")
        if not self.max_distance > 0:
            raise InvalidInput(f"atypical.max_distance must be > 0; got {self.max_distance!r}.")

    @classmethod
    def from_mapping(cls, data: Any, *, where: str) -> AtypicalCheck | None:
        """Parse ``{policy: log|flag|reject, max_distance: 4}`` (None: no check).

        Raises:
            InvalidInput: unknown keys or bad values, naming them.
        """
        if data is None:
            return None
        if not isinstance(data, Mapping) or set(data) - {"policy", "max_distance"}:
            raise InvalidInput(f"{where} must be a mapping with keys policy (log|flag|reject), max_distance.")
        policy = data.get("policy", "flag")
        try:
            parsed = AtypicalPolicy(policy)
        except ValueError:
            raise InvalidInput(f"{where}.policy must be log, flag or reject; got {policy!r}.") from None
        return cls(policy=parsed, max_distance=data.get("max_distance", 4.0))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AtypicalReport:
    """The scoring of one request.

    Attributes:
        reasons: Per row, why it is atypical (empty for a typical row).
        distances: Per row, the RMS z-score over numeric columns (0 when there are none).
    """

    reasons: tuple[tuple[str, ...], ...]
    distances: np.ndarray

    @property
    def atypical_rows(self) -> list[int]:
        """Indices of the atypical rows."""
        return [i for i, r in enumerate(self.reasons) if r]

    @property
    def is_atypical(self) -> bool:
        """Whether any row is atypical."""
        return any(self.reasons)

    def flags(self) -> tuple[str, ...]:
        """One ``row N: reason, reason`` string per atypical row."""
        return tuple(f"row {i}: {', '.join(self.reasons[i])}" for i in self.atypical_rows)

    def reason_counts(self) -> dict[str, int]:
        """Reason kind (``out_of_range``, ``unseen``, ``missing``, ``distance``) → rows with it."""
        counts: dict[str, int] = {}
        for row in self.reasons:
            for kind in {r.split(":", 1)[0] for r in row}:
                counts[kind] = counts.get(kind, 0) + 1
        return counts


def _nulls(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.asarray(np.isnan(values), dtype=bool)
    if values.dtype.kind == "O":
        return np.fromiter((v is None or v != v for v in values), dtype=bool, count=len(values))
    return np.zeros(len(values), dtype=bool)


class AtypicalScorer:
    """Scores rows of one model against its training statistics.

    Args:
        schema: The model's input schema.
        stats: The package's training statistics (``training_stats.json``); None scores only
            missing values.
        max_distance: The RMS z-score above which a row is atypical.
    """

    def __init__(
        self, schema: InputSchema, stats: Mapping[str, Any] | None, *, max_distance: float = 4.0
    ) -> None:
        self._schema = schema
        self._max_distance = max_distance
        columns: Mapping[str, Any] = (stats or {}).get("columns", {})
        self._numeric: dict[str, Mapping[str, float]] = {}
        self._categories: dict[str, frozenset[str]] = {}
        for col in schema.columns:
            entry = columns.get(col.name)
            if not isinstance(entry, Mapping):
                continue
            if entry.get("kind") == "numeric" and col.kind is not ColumnKind.STRING:
                self._numeric[col.name] = entry
            elif entry.get("kind") == "categorical" and col.kind is ColumnKind.STRING:
                self._categories[col.name] = frozenset(str(v) for v in entry.get("values", ()))

    @property
    def has_statistics(self) -> bool:
        """Whether training statistics cover at least one column."""
        return bool(self._numeric or self._categories)

    def score(self, rows: ModelInput) -> AtypicalReport:
        """Score every row of ``rows``."""
        values = rows.column_values(self._schema)
        reasons: list[list[str]] = [[] for _ in range(rows.n_rows)]
        squares = np.zeros(rows.n_rows)
        counted = 0
        for name, column in values.items():
            missing = _nulls(column)
            for row in np.flatnonzero(missing):
                reasons[int(row)].append(f"missing:{name}")
            if name in self._numeric:
                stats = self._numeric[name]
                data = np.where(missing, np.nan, column).astype(np.float64)
                present = ~missing
                outside = present & ((data < stats["min"]) | (data > stats["max"]))
                for row in np.flatnonzero(outside):
                    reasons[int(row)].append(f"out_of_range:{name}")
                std = float(stats.get("std", 0.0))
                if std > 0:
                    z = np.where(present, (data - stats["mean"]) / std, 0.0)
                    squares += z * z
                    counted += 1
            elif name in self._categories:
                known = self._categories[name]
                for index, value in enumerate(column.tolist()):
                    if not missing[index] and str(value) not in known:
                        reasons[index].append(f"unseen:{name}")
        distances = np.sqrt(squares / counted) if counted else np.zeros(rows.n_rows)
        for far in np.flatnonzero(distances > self._max_distance):
            reasons[int(far)].append("distance")
        return AtypicalReport(reasons=tuple(tuple(r) for r in reasons), distances=distances)
