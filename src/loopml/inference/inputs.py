"""Turn request payloads (columns, records, rows, tensors) into validated model input.

Every protocol adapter parses its wire format into one of the shapes below and calls the matching
builder; the checks (missing column, unknown column, wrong type, wrong shape, infinite values,
invalid UTF-8) and their messages are therefore the same on every protocol. Numeric signatures
take the NumPy path: one ``float64`` matrix in signature order, no pandas.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.inference.schema import ColumnKind, InputColumn, InputSchema

__all__ = [
    "ModelInput",
    "concat_inputs",
    "from_columns",
    "from_matrix",
    "from_records",
    "from_rows",
    "take_rows",
]

_NUMERIC_KINDS = frozenset("iuf")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ModelInput:
    """Validated rows for one model.

    Exactly one of ``matrix`` and ``columns`` is set.

    Attributes:
        n_rows: Number of rows.
        matrix: A ``(n_rows, n_columns)`` float64 matrix in signature order (numeric signatures).
        columns: Column name → 1-D array of ``n_rows`` values (in signature order).
    """

    n_rows: int
    matrix: np.ndarray | None = None
    columns: Mapping[str, np.ndarray] | None = None

    def column_values(self, schema: InputSchema) -> dict[str, np.ndarray]:
        """Column name → values, whichever form the rows are held in."""
        if self.columns is not None:
            return dict(self.columns)
        assert self.matrix is not None  # one of the two is always set by the builders
        return {name: self.matrix[:, i] for i, name in enumerate(schema.names)}


def concat_inputs(inputs: Sequence[ModelInput]) -> ModelInput:
    """One input holding the rows of ``inputs`` in order (all built for the same model)."""
    if len(inputs) == 1:
        return inputs[0]
    n_rows = sum(i.n_rows for i in inputs)
    if inputs[0].matrix is not None:
        return ModelInput(
            n_rows=n_rows, matrix=np.concatenate([i.matrix for i in inputs if i.matrix is not None])
        )
    first = inputs[0].columns
    assert first is not None
    return ModelInput(
        n_rows=n_rows,
        columns={name: np.concatenate([i.columns[name] for i in inputs]) for name in first},  # type: ignore[index]
    )


def take_rows(rows: ModelInput, indices: np.ndarray) -> ModelInput:
    """The rows of ``rows`` at ``indices`` (positions), in that order."""
    if rows.matrix is not None:
        return ModelInput(n_rows=len(indices), matrix=rows.matrix[indices])
    assert rows.columns is not None  # one of the two is always set by the builders
    return ModelInput(n_rows=len(indices), columns={k: v[indices] for k, v in rows.columns.items()})


def _describe(value: Any) -> str:
    text = repr(value)
    return (text[:40] + "...") if len(text) > 43 else text


def _refuse(col: InputColumn, row: int, value: Any, what: str) -> InvalidInput:
    return InvalidInput(
        f"Input {col.name!r} ({col.arrow_type}) must hold {what}; row {row} holds {_describe(value)} "
        f"({type(value).__name__})."
    )


def _first_bad(col: InputColumn, values: Sequence[Any]) -> InvalidInput:
    """The error naming the first value of ``values`` that does not fit ``col``."""
    for row, value in enumerate(values):
        if value is None:
            continue
        if col.kind is ColumnKind.STRING:
            if not isinstance(value, str | bytes | np.str_ | np.bytes_):
                return _refuse(col, row, value, "strings")
        elif col.kind is ColumnKind.BOOL:
            if not isinstance(value, bool | np.bool_):
                return _refuse(col, row, value, "booleans (true/false)")
        elif isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
            return _refuse(col, row, value, "numbers")
        elif (
            col.kind is ColumnKind.INT
            and isinstance(value, float | np.floating)
            and not float(value).is_integer()
        ):
            return _refuse(col, row, value, "integers")
    return InvalidInput(f"Input {col.name!r} ({col.arrow_type}) holds values of mixed types.")


def _decode_bytes(col: InputColumn, values: np.ndarray) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for row, value in enumerate(values):
        if isinstance(value, bytes | np.bytes_):
            try:
                out[row] = bytes(value).decode("utf-8")
            except UnicodeDecodeError as err:
                raise InvalidInput(
                    f"Input {col.name!r}: row {row} is not valid UTF-8 ({err.reason} at byte {err.start}); "
                    "send text as UTF-8."
                ) from err
        else:
            out[row] = value
    return out


def _strings(col: InputColumn, arr: np.ndarray, raw: Any) -> np.ndarray:
    if arr.dtype.kind == "U":
        return arr.astype(object)
    if arr.dtype.kind in "OS":
        values = arr if arr.dtype.kind == "O" else arr.astype(object)
        for row, value in enumerate(values):
            if value is not None and not isinstance(value, str | bytes | np.bytes_ | np.str_):
                raise _refuse(col, row, value, "strings")
        return _decode_bytes(col, values)
    raise _first_bad(col, raw if isinstance(raw, list) else arr.tolist())


def _numbers(col: InputColumn, arr: np.ndarray, raw: Any) -> np.ndarray:
    kind = arr.dtype.kind
    if kind == "O":
        values = raw if isinstance(raw, list) else arr.tolist()
        if all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values):
            arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            kind = "f"
        else:
            raise _first_bad(col, values)
    if kind not in _NUMERIC_KINDS:
        raise _first_bad(col, raw if isinstance(raw, list) else arr.tolist())
    if kind == "f":
        bad = np.isinf(arr)
        if bad.any():
            row = int(np.argmax(bad))
            raise InvalidInput(
                f"Input {col.name!r} ({col.arrow_type}): row {row} is {float(arr[row])}; infinite values are "
                "not allowed (send null for a missing value)."
            )
        if col.kind is ColumnKind.INT:
            finite = arr[~np.isnan(arr)]
            if not np.all(np.floor(finite) == finite):
                row = int(np.argmax((np.floor(arr) != arr) & ~np.isnan(arr)))
                raise _refuse(col, row, float(arr[row]), "integers")
            if np.isnan(arr).any():
                return arr.astype(np.float64)  # missing values keep the column in float
    if col.kind is ColumnKind.INT:
        return arr.astype(np.int64, copy=False)
    return arr.astype(np.float64, copy=False)


def _booleans(col: InputColumn, arr: np.ndarray, raw: Any) -> np.ndarray:
    if arr.dtype.kind == "b":
        return arr
    raise _first_bad(col, raw if isinstance(raw, list) else arr.tolist())


def _as_array(col: InputColumn, values: Any) -> np.ndarray:
    if isinstance(values, np.ndarray):
        arr = values
    elif isinstance(values, list | tuple):
        try:
            arr = np.array(values, dtype=object if col.kind is ColumnKind.STRING else None)
        except (ValueError, TypeError) as err:
            raise InvalidInput(
                f"Input {col.name!r} is ragged or nested ({err}); send one value per row."
            ) from err
    else:
        raise InvalidInput(
            f"Input {col.name!r} must be a list of values, one per row; got {type(values).__name__}."
        )
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InvalidInput(
            f"Input {col.name!r} has shape {list(arr.shape)}; expected one value per row "
            "(shape [n] or [n, 1])."
        )
    return arr


def _column(col: InputColumn, values: Any) -> np.ndarray:
    arr = _as_array(col, values)
    if col.kind is ColumnKind.STRING:
        return _strings(col, arr, values)
    if col.kind is ColumnKind.BOOL:
        return _booleans(col, arr, values)
    return _numbers(col, arr, values)


def _check_names(schema: InputSchema, given: Sequence[str]) -> None:
    expected = schema.names
    missing = [n for n in expected if n not in given]
    if missing:
        raise InvalidInput(f"Missing input column(s) {missing}; the model takes {list(expected)}.")
    unknown = [n for n in given if n not in expected]
    if unknown:
        raise InvalidInput(f"Unknown input column(s) {unknown}; the model takes {list(expected)}.")


def _build(schema: InputSchema, arrays: dict[str, np.ndarray], *, as_matrix: bool) -> ModelInput:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidInput(
            f"Input columns differ in length: {lengths}; send the same number of rows for each."
        )
    n_rows = next(iter(lengths.values()))
    if n_rows == 0:
        raise InvalidInput("The request holds no rows; send at least one.")
    if as_matrix:
        matrix = np.empty((n_rows, len(schema.columns)), dtype=np.float64)
        for i, name in enumerate(schema.names):
            matrix[:, i] = arrays[name]
        return ModelInput(n_rows=n_rows, matrix=matrix)
    return ModelInput(n_rows=n_rows, columns={name: arrays[name] for name in schema.names})


def from_columns(schema: InputSchema, columns: Mapping[str, Any], *, as_matrix: bool) -> ModelInput:
    """Input from column name → values (a list or a 1-D array per column).

    Args:
        schema: The model's input schema.
        columns: Every column of the schema, each with one value per row.
        as_matrix: Build the float64 matrix (numeric schemas only).

    Raises:
        InvalidInput: a missing or unknown column, a wrong type, shape or value, naming the column.

    Example:
        >>> from loopml.registry.package import ColumnSpec, ModelSignature
        >>> schema = InputSchema.from_signature(ModelSignature(inputs=(ColumnSpec(name="x", type="double"),)))
        >>> from_columns(schema, {"x": [1, 2.5]}, as_matrix=True).matrix.tolist()
        [[1.0], [2.5]]
    """
    if not isinstance(columns, Mapping):
        raise InvalidInput(f"Expected a mapping of column name to values; got {type(columns).__name__}.")
    _check_names(schema, list(columns))
    arrays = {col.name: _column(col, columns[col.name]) for col in schema.columns}
    return _build(schema, arrays, as_matrix=as_matrix)


def from_records(schema: InputSchema, records: Sequence[Any], *, as_matrix: bool) -> ModelInput:
    """Input from rows given as mappings of column name → value (``dataframe_records``, TF ``instances``).

    Raises:
        InvalidInput: a record that is not a mapping, lacks a column or has an unknown one (row named).
    """
    if not isinstance(records, list) or not records:
        raise InvalidInput("Expected a non-empty list of records (one object per row).")
    names = schema.names
    expected = set(names)
    for row, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidInput(f"Record {row} is a {type(record).__name__}; each record must be an object.")
        if record.keys() != expected:
            missing = [n for n in names if n not in record]
            unknown = [k for k in record if k not in expected]
            what = f"lacks column(s) {missing}" if missing else f"has unknown column(s) {unknown}"
            raise InvalidInput(f"Record {row} {what}; the model takes {list(names)}.")
    columns = {name: [record[name] for record in records] for name in names}
    return from_columns(schema, columns, as_matrix=as_matrix)


def from_rows(schema: InputSchema, rows: Any, *, as_matrix: bool) -> ModelInput:
    """Input from rows given as lists of values in signature order (``instances``, ``dataframe_split``).

    Raises:
        InvalidInput: a row of the wrong length or a value of the wrong type (column named).
    """
    if not isinstance(rows, list | np.ndarray) or len(rows) == 0:
        raise InvalidInput("Expected a non-empty list of rows (each a list of values in signature order).")
    width = len(schema.columns)
    if as_matrix and isinstance(rows, list):
        try:
            fast = np.array(rows)
        except (ValueError, TypeError):
            fast = None
        if fast is not None and fast.ndim == 2 and fast.shape[1] == width and fast.dtype.kind in "if":
            return from_matrix(schema, fast)
    for index, row in enumerate(rows):
        if not isinstance(row, list | tuple | np.ndarray) or len(row) != width:
            got = len(row) if isinstance(row, list | tuple | np.ndarray) else type(row).__name__
            raise InvalidInput(
                f"Row {index} has {got} values; each row needs {width}, in the order {list(schema.names)}."
            )
    columns = {name: [row[i] for row in rows] for i, name in enumerate(schema.names)}
    return from_columns(schema, columns, as_matrix=as_matrix)


def from_matrix(schema: InputSchema, matrix: np.ndarray) -> ModelInput:
    """Input from a 2-D numeric array whose columns follow the signature (one V2 tensor ``[n, F]``).

    Raises:
        InvalidInput: the wrong width, a non-numeric dtype, infinite values, or fractional integers.
    """
    width = len(schema.columns)
    if matrix.ndim != 2 or matrix.shape[1] != width:
        raise InvalidInput(
            f"A single input tensor must have shape [n, {width}] (columns {list(schema.names)}); "
            f"got {list(matrix.shape)}."
        )
    if not schema.is_numeric:
        columns = {name: matrix[:, i] for i, name in enumerate(schema.names)}
        return from_columns(schema, columns, as_matrix=False)
    if matrix.dtype.kind not in _NUMERIC_KINDS:
        return from_columns(schema, {n: matrix[:, i] for i, n in enumerate(schema.names)}, as_matrix=True)
    if matrix.shape[0] == 0:
        raise InvalidInput("The request holds no rows; send at least one.")
    out = matrix.astype(np.float64, copy=False)
    if matrix.dtype.kind == "f":
        if np.isinf(out).any():
            row, i = (int(v[0]) for v in np.nonzero(np.isinf(out)))
            col = schema.columns[i]
            raise InvalidInput(
                f"Input {col.name!r} ({col.arrow_type}): row {row} is {out[row, i]}; infinite values are not "
                "allowed (send null for a missing value)."
            )
        for i, col in enumerate(schema.columns):
            if col.kind is ColumnKind.INT:
                values = out[:, i]
                bad = (np.floor(values) != values) & ~np.isnan(values)
                if bad.any():
                    row = int(np.argmax(bad))
                    raise _refuse(col, row, float(values[row]), "integers")
    return ModelInput(n_rows=int(out.shape[0]), matrix=out)
