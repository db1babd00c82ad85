"""Arrow record batches → validated model input, converted once per batch with no per-row Python.

Batch scoring reads Arrow; the request builders of :mod:`loopml.inference.inputs` take Python
lists and NumPy arrays and check every value's type, which costs a Python call per row for text.
Here the Arrow types were checked against the signature once per file
(:func:`~loopml.inference.batch.check_input_schema`), so what is left per batch is the value checks
the builders make (no infinite numbers, integral values in integer columns), done on whole arrays,
and one copy into the layout the model takes: a float64 matrix in signature order (numeric
signatures), or NumPy columns.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from loopml.errors import InvalidInput
from loopml.inference.inputs import ModelInput, from_matrix
from loopml.inference.schema import ColumnKind, InputColumn, InputSchema

__all__ = ["arrow_input", "to_numpy"]

_BLOCK_ROWS = 4096
"""Rows transposed at a time into the row-major matrix (the block stays in cache)."""


def to_numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """One column as NumPy: numbers (nulls as NaN), booleans, or text as an object array.

    Dictionary-encoded columns are decoded; numbers without nulls are not copied. A column of
    the Arrow ``null`` type (every value missing) comes out as NaN.
    """
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_null(column.type):
        return np.full(len(column), np.nan)
    return np.asarray(column.to_numpy(zero_copy_only=False))


def _matrix(columns: list[np.ndarray]) -> np.ndarray:
    """Row-major float64 matrix of 1-D columns, transposed block by block (cache-friendly)."""
    n_rows = len(columns[0]) if columns else 0
    out = np.empty((n_rows, len(columns)), dtype=np.float64)
    for start in range(0, n_rows, _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, n_rows)
        out[start:stop] = np.vstack([c[start:stop] for c in columns]).T
    return out


def _checked(col: InputColumn, values: np.ndarray) -> np.ndarray:
    if col.kind is ColumnKind.STRING:
        if values.dtype.kind == "f":  # an all-null column
            return np.full(len(values), None, dtype=object)
        return values
    if col.kind is ColumnKind.BOOL:
        if values.dtype.kind != "b":
            raise InvalidInput(
                f"Input {col.name!r} (bool) holds nulls; a boolean input takes true or false in every row."
            )
        return values
    if col.kind is ColumnKind.INT and values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False)
    floats = values.astype(np.float64, copy=False)
    bad = np.isinf(floats)
    if bad.any():
        row = int(np.argmax(bad))
        raise InvalidInput(
            f"Input {col.name!r} ({col.arrow_type}): row {row} is {float(floats[row])}; infinite values "
            "are not allowed (send null for a missing value)."
        )
    if col.kind is ColumnKind.INT:
        fractional = (np.floor(floats) != floats) & ~np.isnan(floats)
        if fractional.any():
            row = int(np.argmax(fractional))
            raise InvalidInput(
                f"Input {col.name!r} ({col.arrow_type}) must hold integers; row {row} holds "
                f"{float(floats[row])}."
            )
    return floats


def arrow_input(schema: InputSchema, table: pa.Table | pa.RecordBatch, *, as_matrix: bool) -> ModelInput:
    """Validated model input from the signature's columns of ``table`` (checked types, any order).

    Args:
        schema: The model's input schema.
        table: Holds every signature column (others are ignored) in a type that fits it.
        as_matrix: Build the float64 matrix (numeric schemas only).

    Raises:
        InvalidInput: an infinite number, a fractional value in an integer column, a null in a
            boolean column or invalid UTF-8, naming the column and the row; or no rows.

    Example:
        >>> from loopml.registry.package import ColumnSpec, ModelSignature
        >>> schema = InputSchema.from_signature(ModelSignature(inputs=(ColumnSpec(name="x", type="double"),)))
        >>> arrow_input(schema, pa.table({"x": [1.0, 2.5], "y": ["a", "b"]}), as_matrix=True).matrix.tolist()
        [[1.0], [2.5]]
    """
    if table.num_rows == 0:
        raise InvalidInput("The request holds no rows; send at least one.")
    if as_matrix:
        # the matrix is float64 whatever the Arrow number types: from_matrix checks it in whole-array passes
        return from_matrix(schema, _matrix([to_numpy(table.column(name)) for name in schema.names]))
    columns = {col.name: _checked(col, to_numpy(table.column(col.name))) for col in schema.columns}
    return ModelInput(n_rows=table.num_rows, columns=columns)
