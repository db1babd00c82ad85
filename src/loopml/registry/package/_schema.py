"""Input/output signature of a model: column names and Arrow type names, inferred from samples."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from loopml.errors import InvalidInput

__all__ = ["ColumnSpec", "ModelSignature", "infer_columns", "infer_signature"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ColumnSpec:
    """One named column and its Arrow type name (``int64``, ``double``, ``string`` ...)."""

    name: str
    type: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput(f"ColumnSpec.name must be a non-empty string, got {self.name!r}.")
        if not isinstance(self.type, str) or not self.type:
            raise InvalidInput(f"ColumnSpec.type of {self.name!r} must be a type name, got {self.type!r}.")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ModelSignature:
    """What a model takes and returns: ordered input and output columns."""

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...] = ()

    @property
    def input_names(self) -> tuple[str, ...]:
        """Names of the input columns, in order."""
        return tuple(c.name for c in self.inputs)

    def to_dict(self) -> dict[str, list[dict[str, str]]]:
        """Plain mapping for ``model.yaml``."""
        return {
            "inputs": [{"name": c.name, "type": c.type} for c in self.inputs],
            "outputs": [{"name": c.name, "type": c.type} for c in self.outputs],
        }

    @classmethod
    def from_dict(cls, doc: Any) -> ModelSignature:
        """Parse the ``signature`` section of ``model.yaml``.

        Raises:
            InvalidInput: the section is malformed, naming the bad entry.
        """
        if not isinstance(doc, dict):
            raise InvalidInput(f"model.yaml 'signature' must be a mapping, got {doc!r}.")

        def cols(key: str) -> tuple[ColumnSpec, ...]:
            items = doc.get(key) or []
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise InvalidInput(f"model.yaml signature.{key} must be a list of {{name, type}}.")
            return tuple(ColumnSpec(name=i.get("name"), type=i.get("type")) for i in items)

        return cls(inputs=cols("inputs"), outputs=cols("outputs"))


def infer_columns(sample: Any, *, default_name: str = "f") -> tuple[ColumnSpec, ...]:
    """Columns of a pandas DataFrame/Series, Arrow table/schema or NumPy array sample.

    Args:
        sample: The data; NumPy columns are named ``f0, f1, ...`` (``default_name`` prefix).
        default_name: Prefix (or the whole name of a 1-D array) for unnamed columns.

    Raises:
        InvalidInput: the sample is of an unsupported type.

    Example:
        >>> infer_columns(pd.DataFrame({"x": [1.0], "c": ["a"]}))[0]
        ColumnSpec(name='x', type='double')
    """
    if isinstance(sample, pa.Schema):
        return tuple(ColumnSpec(name=f.name, type=str(f.type)) for f in sample)
    if isinstance(sample, pa.Table | pa.RecordBatch):
        return infer_columns(sample.schema)
    if isinstance(sample, pd.Series):
        sample = sample.to_frame(name=str(sample.name) if sample.name is not None else default_name)
    if isinstance(sample, pd.DataFrame):
        schema = pa.Schema.from_pandas(sample.head(1000), preserve_index=False)
        return infer_columns(schema)
    if isinstance(sample, np.ndarray):
        dtype = str(pa.from_numpy_dtype(sample.dtype)) if sample.dtype != object else "string"
        if sample.ndim == 1:
            return (ColumnSpec(name=default_name, type=dtype),)
        if sample.ndim == 2:
            return tuple(ColumnSpec(name=f"{default_name}{i}", type=dtype) for i in range(sample.shape[1]))
    raise InvalidInput(
        f"Cannot infer a signature from a {type(sample).__name__}; pass a pandas DataFrame, an Arrow "
        "table or schema, a 1-D/2-D NumPy array, or give the signature explicitly."
    )


def infer_signature(inputs: Any, outputs: Any | None = None) -> ModelSignature:
    """A :class:`ModelSignature` from an input sample and, optionally, a prediction sample."""
    outs = infer_columns(outputs, default_name="prediction") if outputs is not None else ()
    return ModelSignature(inputs=infer_columns(inputs), outputs=outs)
