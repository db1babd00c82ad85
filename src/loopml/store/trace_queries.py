"""What a trace search asks for: conditions on a trace's attributes, tags and request metadata, and an order.

Protocol-free: the MLflow API parses its filter grammar into these (``loopml.server.mlflow``),
the SQL store turns them into one query.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from loopml.errors import InvalidInput

__all__ = ["ATTRIBUTES", "NUMERIC_ATTRIBUTES", "TraceCondition", "TraceField", "TraceOrder"]


class TraceField(enum.StrEnum):
    """What a condition looks at: an attribute of the trace, one of its tags, or its metadata."""

    ATTRIBUTE = "attribute"
    TAG = "tag"
    METADATA = "metadata"


#: Attributes of a trace that can be compared and ordered by.
ATTRIBUTES = frozenset({"trace_id", "experiment_id", "timestamp_ms", "execution_time_ms", "status"})
#: Attributes holding numbers (compared with ``< <= > >=`` too).
NUMERIC_ATTRIBUTES = frozenset({"timestamp_ms", "execution_time_ms"})
_OPERATORS = frozenset({"=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"})


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceCondition:
    """One comparison a trace must pass.

    Attributes:
        field: Where the compared value is.
        key: The attribute name (:data:`ATTRIBUTES`), or the tag / metadata key.
        op: ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` (numeric attributes), ``IN``, ``NOT IN``.
        value: An int for numeric attributes, a string, or a tuple of strings for ``IN``.
    """

    field: TraceField
    key: str
    op: str
    value: str | int | tuple[str, ...]

    def __post_init__(self) -> None:
        if self.op not in _OPERATORS:
            raise InvalidInput(f"Unknown comparison {self.op!r}; use one of {', '.join(sorted(_OPERATORS))}.")
        if self.field is TraceField.ATTRIBUTE and self.key not in ATTRIBUTES:
            raise InvalidInput(
                f"Traces have no attribute {self.key!r}; use one of {', '.join(sorted(ATTRIBUTES))}."
            )
        numeric = self.field is TraceField.ATTRIBUTE and self.key in NUMERIC_ATTRIBUTES
        if numeric != isinstance(self.value, int) and self.op not in ("IN", "NOT IN"):
            kind = "an integer" if numeric else "a string"
            raise InvalidInput(f"{self.key!r} is compared with {kind}; got {self.value!r:.60}.")
        if self.op in ("IN", "NOT IN") and (numeric or not isinstance(self.value, tuple)):
            raise InvalidInput(
                f"{self.op} compares {self.key!r} with a list of strings; got {self.value!r:.60}."
            )
        if not numeric and self.op in ("<", "<=", ">", ">="):
            raise InvalidInput(
                f"{self.key!r} holds text: compare it with =, !=, IN or NOT IN, not {self.op}."
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceOrder:
    """One key of a search's order: an attribute (:data:`ATTRIBUTES`), ascending or not."""

    key: str
    ascending: bool = True

    def __post_init__(self) -> None:
        if self.key not in ATTRIBUTES:
            raise InvalidInput(
                f"Traces cannot be ordered by {self.key!r}; use one of {', '.join(sorted(ATTRIBUTES))}."
            )
