"""The input schema a served model checks requests against, derived from its package signature."""

from __future__ import annotations

import dataclasses
import enum

import numpy as np

from loopml.errors import InvalidInput
from loopml.registry.package import ModelSignature

__all__ = ["ColumnKind", "InputColumn", "InputSchema", "kind_of_arrow_type"]


class ColumnKind(enum.StrEnum):
    """What values a column takes on the wire."""

    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    STRING = "string"


_FLOAT_TYPES = frozenset({"double", "float", "halffloat", "float64", "float32", "float16"})
_INT_PREFIXES = ("int", "uint")
_STRING_TYPES = frozenset({"string", "large_string", "utf8", "large_utf8", "binary", "large_binary"})

#: NumPy dtype a column of each kind is converted to.
KIND_DTYPES: dict[ColumnKind, np.dtype[np.generic]] = {
    ColumnKind.FLOAT: np.dtype(np.float64),
    ColumnKind.INT: np.dtype(np.int64),
    ColumnKind.BOOL: np.dtype(np.bool_),
    ColumnKind.STRING: np.dtype(object),
}


def kind_of_arrow_type(type_name: str) -> ColumnKind:
    """The wire kind of an Arrow type name from ``model.yaml`` (``double`` → float, ``int64`` → int ...).

    Types without a closer kind (dates, dictionaries) are taken as strings.

    Example:
        >>> kind_of_arrow_type("int32")
        <ColumnKind.INT: 'int'>
    """
    name = type_name.strip().lower()
    if name in _FLOAT_TYPES:
        return ColumnKind.FLOAT
    if name.startswith(_INT_PREFIXES) and name.removeprefix("u").removeprefix("int").isdigit():
        return ColumnKind.INT
    if name in {"bool", "boolean"}:
        return ColumnKind.BOOL
    return ColumnKind.STRING


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class InputColumn:
    """One input column: its name, the Arrow type of the signature and the wire kind."""

    name: str
    arrow_type: str
    kind: ColumnKind

    @property
    def dtype(self) -> np.dtype[np.generic]:
        """The NumPy dtype values of this column are converted to."""
        return KIND_DTYPES[self.kind]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class InputSchema:
    """The ordered input columns a model takes.

    Attributes:
        columns: The columns, in the signature's order.
    """

    columns: tuple[InputColumn, ...]

    def __post_init__(self) -> None:
        if not self.columns:
            raise InvalidInput(
                "A served model needs an input signature (model.yaml 'signature.inputs'); re-package the "
                "model with a sample (package_model(..., sample=frame)) so requests can be checked."
            )
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise InvalidInput(f"The input signature repeats a column name: {names}.")

    @classmethod
    def from_signature(cls, signature: ModelSignature | None) -> InputSchema:
        """The schema of a package signature.

        Raises:
            InvalidInput: the package has no input signature.
        """
        inputs = signature.inputs if signature is not None else ()
        return cls(
            columns=tuple(
                InputColumn(name=c.name, arrow_type=c.type, kind=kind_of_arrow_type(c.type)) for c in inputs
            )
        )

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in order."""
        return tuple(c.name for c in self.columns)

    @property
    def is_numeric(self) -> bool:
        """True when every column is a number (int or float): the NumPy matrix path applies."""
        return all(c.kind in (ColumnKind.FLOAT, ColumnKind.INT) for c in self.columns)

    def column(self, name: str) -> InputColumn:
        """The column called ``name``.

        Raises:
            InvalidInput: no such column, listing the expected ones.
        """
        for col in self.columns:
            if col.name == name:
                return col
        raise InvalidInput(f"Unknown input {name!r}; the model takes {list(self.names)}.")
