"""Input restoration: bring rows back into the training domain before prediction, when a model asks.

Two repairs, each opt-in in the model's configuration (``serve.yaml`` for serving, the
``loopml predict`` options for batch scoring), both against the package's
``training_stats.json`` (see :mod:`loopml.registry.package.training_stats`):

* ``clip``: numeric values below the training minimum or above the maximum are set to it;
* ``fallback``: per string column, a value never seen in training is replaced by a declared
  category (``{city: other}``), which must itself be a training category.

Missing values are left alone (the model's own missing-value handling applies). Every repaired
value is counted (``clipped:COL``, ``fallback:COL``) so that restoration is never silent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.inference.inputs import ModelInput
from loopml.inference.schema import ColumnKind, InputSchema

__all__ = ["InputRestoration", "InputRestorer"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class InputRestoration:
    """A model's input-restoration policy.

    Attributes:
        clip: Clip numeric values to the training range.
        fallbacks: String column → the category that replaces values unseen in training.

    Example:
        >>> InputRestoration.from_mapping({"clip": True, "fallback": {"city": "other"}}, where="restore")
        InputRestoration(clip=True, fallbacks=(('city', 'other'),))
    """

    clip: bool = False
    fallbacks: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.clip, bool):
            raise InvalidInput(f"restore.clip must be true or false; got {self.clip!r}.")
        for item in self.fallbacks:
            if not (isinstance(item, tuple) and len(item) == 2 and all(isinstance(v, str) for v in item)):
                raise InvalidInput(
                    f"restore.fallback entries must be COLUMN: CATEGORY strings; got {item!r}."
                )

    @property
    def is_active(self) -> bool:
        """Whether this policy repairs anything."""
        return self.clip or bool(self.fallbacks)

    @classmethod
    def from_mapping(cls, data: Any, *, where: str) -> InputRestoration | None:
        """Parse ``{clip: true, fallback: {COLUMN: CATEGORY}}`` (None: no restoration).

        Raises:
            InvalidInput: unknown keys or values of the wrong type, naming ``where``.
        """
        if data is None:
            return None
        if not isinstance(data, Mapping) or set(data) - {"clip", "fallback"}:
            raise InvalidInput(
                f"{where} must be a mapping with keys clip (true|false), fallback (COLUMN: CATEGORY)."
            )
        fallback = data.get("fallback") or {}
        if not isinstance(fallback, Mapping):
            raise InvalidInput(f"{where}.fallback must map string columns to a fallback category.")
        return cls(
            clip=data.get("clip", False),
            fallbacks=tuple((str(k), v if isinstance(v, str) else repr(v)) for k, v in fallback.items()),
        )


class InputRestorer:
    """Applies one model's restoration policy to validated rows.

    Args:
        schema: The model's input schema.
        stats: The package's training statistics.
        policy: What to repair.

    Raises:
        InvalidInput: the policy needs statistics the package lacks (no training statistics, a
            fallback column that is not a string input with known categories, or a fallback
            category never seen in training).
    """

    def __init__(
        self, schema: InputSchema, stats: Mapping[str, Any] | None, policy: InputRestoration
    ) -> None:
        self.policy = policy
        columns: Mapping[str, Any] = (stats or {}).get("columns", {})
        if policy.is_active and not columns:
            raise InvalidInput(
                "Input restoration needs the package's training statistics (training_stats.json), and this "
                "package has none; re-package the model with a sample, or score without restoration."
            )
        self._ranges: dict[int, tuple[float, float]] = {}
        if policy.clip:
            for i, col in enumerate(schema.columns):
                entry = columns.get(col.name)
                if not isinstance(entry, Mapping) or col.kind not in (ColumnKind.FLOAT, ColumnKind.INT):
                    continue
                if entry.get("kind") == "numeric":
                    self._ranges[i] = (float(entry["min"]), float(entry["max"]))
        self._fallbacks: dict[str, tuple[str, np.ndarray]] = {}
        for name, category in policy.fallbacks:
            entry = columns.get(name)
            kind = schema.column(name).kind if name in schema.names else None
            if kind is not ColumnKind.STRING:
                raise InvalidInput(
                    f"Fallback column {name!r} is not a string input of the model {list(schema.names)}."
                )
            if not isinstance(entry, Mapping) or entry.get("kind") != "categorical":
                raise InvalidInput(
                    f"Fallback column {name!r} has no known categories in the training statistics "
                    "(too many distinct values); unseen values cannot be told apart there."
                )
            known = np.array(sorted(str(v) for v in entry.get("values", ())), dtype=object)
            if category not in set(known.tolist()):
                raise InvalidInput(
                    f"Fallback category {category!r} for {name!r} was never seen in training; choose one of "
                    f"{known.tolist()[:10]}."
                )
            self._fallbacks[name] = (category, known)
        self._names = schema.names

    def restore(self, rows: ModelInput) -> tuple[ModelInput, dict[str, int]]:
        """The repaired rows and how many values each repair changed (``clipped:COL`` ...).

        ``rows`` is never modified; repaired columns are copies.
        """
        repaired, changed = self._repair(rows)
        return repaired, {key: int(np.count_nonzero(mask)) for key, mask in changed.items()}

    def restore_rows(
        self, rows: ModelInput
    ) -> tuple[ModelInput, dict[str, int], tuple[tuple[str, ...], ...]]:
        """:meth:`restore`, plus per row the repairs it got (empty when no value changed).

        Example: a request whose second row had its ``age`` clipped gives the flags
        ``((), ("clipped:age",))``.
        """
        repaired, changed = self._repair(rows)
        counts = {key: int(np.count_nonzero(mask)) for key, mask in changed.items()}
        if not changed:
            return repaired, counts, ()
        flags = tuple(tuple(key for key, mask in changed.items() if mask[i]) for i in range(rows.n_rows))
        return repaired, counts, flags

    def _repair(self, rows: ModelInput) -> tuple[ModelInput, dict[str, np.ndarray]]:
        """The repaired rows and, per repair that changed a value, which rows it changed."""
        changed: dict[str, np.ndarray] = {}
        if rows.matrix is not None:
            matrix = rows.matrix
            for i, (low, high) in self._ranges.items():
                column = matrix[:, i]
                outside = (column < low) | (column > high)
                if outside.any():
                    if matrix is rows.matrix:
                        matrix = matrix.copy()
                    matrix[:, i] = np.clip(column, low, high)
                    changed[f"clipped:{self._names[i]}"] = outside
            return (dataclasses.replace(rows, matrix=matrix) if changed else rows), changed
        assert rows.columns is not None
        columns = dict(rows.columns)
        for i, (low, high) in self._ranges.items():
            name = self._names[i]
            values = columns[name]
            outside = (values < low) | (values > high)
            if outside.any():
                columns[name] = np.clip(values, low, high).astype(values.dtype, copy=False)
                changed[f"clipped:{name}"] = outside
        for name, (category, known) in self._fallbacks.items():
            values = columns[name]
            present = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
            unseen = present & ~np.isin(values.astype(str), known.astype(str))
            if unseen.any():
                repaired = values.copy()
                repaired[unseen] = category
                columns[name] = repaired
                changed[f"fallback:{name}"] = unseen
        return (dataclasses.replace(rows, columns=columns) if changed else rows), changed
