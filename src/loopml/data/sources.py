"""Opening data for statistics: files, folders, hive partitions, pandas and Arrow objects.

A :class:`DataSource` splits the data into :class:`WorkUnit` s (one CSV file, or a group of Parquet
row groups) that engines process independently; each unit streams Arrow record batches, so memory
is bounded by the batch size, not the data size. Read errors become :class:`InvalidInput` naming the
file and, where pyarrow reports it, the row.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from loopml.data._wide_csv import is_wide, wide_csv_batches
from loopml.errors import InvalidInput

__all__ = ["DataInput", "DataSource", "WorkUnit", "open_source"]

BATCH_ROWS = 65_536
CSV_BLOCK_BYTES = 1 << 20  # read-ahead buffers a few dozen blocks: ≈ 40 MB
#: CSV blocks are combined up to this many bytes (or ``batch_rows`` rows) before statistics see
#: them: a 1 MB block of a 10,000-column file holds ~10 rows, and per-column work per batch would
#: otherwise dominate (each column's accumulator runs once per batch).
CSV_COMBINE_BYTES = 32 * 1024 * 1024
#: CSV cells read as missing: pyarrow's default spellings of "no value" except those of NaN
#: (``nan``, ``NaN``, ``-nan``, ``-NaN``), which are read as floating-point NaN and counted in
#: ``num_nan``, as TFDV's CSV decoder does and as the same data in Parquet is counted.
CSV_NULL_VALUES: tuple[str, ...] = tuple(
    v for v in pacsv.ConvertOptions().null_values if v.lstrip("-").lower() != "nan"
)


def _csv_format() -> ds.CsvFileFormat:
    """The CSV format every CSV read here uses (see :data:`CSV_NULL_VALUES`).

    Empty cells are missing in text columns too (``strings_can_be_null``), as in TFDV: an empty
    ``company`` cell is no company, not a value ``""``.
    """
    return ds.CsvFileFormat(
        convert_options=pacsv.ConvertOptions(null_values=list(CSV_NULL_VALUES), strings_can_be_null=True)
    )


_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
DataInput: TypeAlias = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | pa.Table | Any
"""A path, paths, a folder, a pandas DataFrame (any object with ``columns``) or a pyarrow Table."""


_CONVERSION_ERROR = re.compile(r"In CSV column #(\d+):.*CSV conversion error to (\w+)")


class CsvColumnTooNarrow(InvalidInput):
    """A CSV column holds a value its type, inferred from the first block, cannot hold.

    ``compute_statistics`` catches it, widens the column (int64 → float64 → string) and reads
    again, so a valid file is never rejected for a late ``41.5`` in an integer column.
    """

    code = "csv_column_too_narrow"
    fields = ("column", "wider")

    def __init__(self, message: str, column: str, wider: str) -> None:
        super().__init__(message)
        self.column = column
        self.wider = wider

    def __reduce__(self) -> tuple[Any, ...]:  # crosses process boundaries from workers
        return (type(self), (str(self), self.column, self.wider))


def _csv_header(fragment: ds.Fragment) -> list[str]:
    with fragment.filesystem.open_input_stream(fragment.path) as stream:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(block_size=1 << 16),
            parse_options=fragment.format.parse_options,
            convert_options=pacsv.ConvertOptions(column_types={}, strings_can_be_null=True),
        )
        return list(reader.schema.names)


def _too_narrow(fragment: ds.Fragment, label: str, err: pa.ArrowInvalid) -> CsvColumnTooNarrow | None:
    found = _CONVERSION_ERROR.search(str(err))
    if found is None:
        return None
    try:
        column = _csv_header(fragment)[int(found.group(1))]
    except (pa.ArrowException, OSError, IndexError):
        return None
    wider = "float64" if found.group(2) == "int64" else "string"
    return CsvColumnTooNarrow(
        f"{label}: column {column!r} holds a value that is not {found.group(2)} ({err}); read as {wider}.",
        column,
        wider,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkUnit:
    """An independently processable piece of a dataset (picklable: engines ship it to workers)."""

    label: str
    fragment: ds.Fragment | None = None
    schema: pa.Schema | None = None
    table: pa.Table | None = None
    file_format: str = ""
    size_bytes: int = 0

    def batches(self, *, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Stream this unit's record batches.

        Raises:
            InvalidInput: the bytes cannot be read or converted (names the file and pyarrow's reason).
        """
        if self.table is not None:
            yield from self.table.to_batches(max_chunksize=batch_rows)
            return
        assert self.fragment is not None and self.schema is not None
        try:
            if self.file_format == "csv":
                yield from _csv_batches(self.fragment, self.schema, batch_rows)
            else:
                yield from self.fragment.to_batches(schema=self.schema, batch_size=batch_rows)
        except pa.ArrowInvalid as err:
            narrow = _too_narrow(self.fragment, self.label, err) if self.file_format == "csv" else None
            if narrow is not None:
                raise narrow from err
            raise InvalidInput(
                f"Cannot read {self.label}: {err}. Fix the file (consistent columns, types and encoding) "
                "or exclude it."
            ) from err
        except (pa.ArrowException, OSError) as err:
            raise InvalidInput(
                f"Cannot read {self.label}: {err}. Fix the file (consistent columns, types and encoding) "
                "or exclude it."
            ) from err


def _csv_batches(fragment: ds.Fragment, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """One CSV file's batches, conformed to the dataset ``schema`` (hive partition columns added).

    Reads with pyarrow's pull-based streaming CSV reader, whose read-ahead is bounded: the dataset
    scanner keeps parsing ahead while the consumer computes statistics, and buffered most of a
    file in memory when statistics were the slower side. Files of very wide rows are read in
    row-aligned chunks instead (see :mod:`loopml.data._wide_csv`).
    """
    partition = ds.get_partition_keys(fragment.partition_expression)
    in_file = [f for f in schema if f.name not in partition]
    scan_options = fragment.format.default_fragment_scan_options
    read = scan_options.read_options
    read.block_size = CSV_BLOCK_BYTES
    convert = scan_options.convert_options
    convert.column_types = {f.name: f.type for f in in_file}
    convert.include_columns = [f.name for f in in_file]
    convert.include_missing_columns = True
    parse = fragment.format.parse_options
    with fragment.filesystem.open_input_stream(fragment.path) as stream:
        head = stream.read(CSV_BLOCK_BYTES)
        if is_wide(head, parse):
            batches = wide_csv_batches(stream, head, parse_options=parse, convert_options=convert)
            yield from _conformed(batches, schema, partition, batch_rows)
            return
    with fragment.filesystem.open_input_stream(fragment.path) as stream:
        reader = pacsv.open_csv(stream, read_options=read, parse_options=parse, convert_options=convert)
        yield from _conformed(_combined(reader, batch_rows), schema, partition, batch_rows)


def _conformed(
    batches: Iterator[pa.RecordBatch], schema: pa.Schema, partition: Mapping[str, Any], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """``batches`` with the columns of ``schema`` in its order (hive partition values added).

    Cut to at most ``batch_rows`` rows each.
    """
    for batch in batches:
        rows = batch.num_rows
        columns = [
            pa.repeat(pa.scalar(partition[f.name], type=f.type), rows)
            if f.name in partition
            else batch.column(f.name)
            for f in schema
        ]
        conformed = pa.RecordBatch.from_arrays(columns, schema=schema)
        for start in range(0, rows, batch_rows):
            yield conformed.slice(start, batch_rows)


def _combined(batches: Iterator[pa.RecordBatch], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Small consecutive batches joined into one, up to ``batch_rows`` rows or CSV_COMBINE_BYTES."""
    pending: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in batches:
        if pending and (rows + batch.num_rows > batch_rows or size + batch.nbytes > CSV_COMBINE_BYTES):
            yield _concat(pending)
            pending, rows, size = [], 0, 0
        pending.append(batch)
        rows += batch.num_rows
        size += batch.nbytes
    if pending:
        yield _concat(pending)


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSource:
    """Data resolved into work units, with the unified Arrow schema."""

    schema: pa.Schema
    units: tuple[WorkUnit, ...]
    paths: tuple[str, ...] = ()


def _format_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    raise InvalidInput(
        f"Cannot tell the format of {str(path)!r}: expected a name ending in "
        f"{', '.join(_CSV_SUFFIXES + _PARQUET_SUFFIXES)}. Name the format: `--format csv` or "
        "`--format parquet` (file_format= in Python)."
    )


def _files_under(root: Path) -> list[Path]:
    # Arrow's rule: names starting with "." or "_" (files or folders: _SUCCESS, _rejected/) are not data.
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(root).parts)
    )


def _resolve_paths(paths: Sequence[str | os.PathLike[str]], file_format: str | None) -> tuple[list[str], str]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = _files_under(p)
            if not found:
                raise InvalidInput(f"Folder {str(p)!r} holds no data files. Point at CSV or Parquet files.")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise InvalidInput(f"No such file or folder: {str(p)!r}. Check the path.")
    fmt = file_format or _format_of(files[0])
    if fmt not in ("csv", "parquet"):
        raise InvalidInput(f"format must be 'csv' or 'parquet'. Got {fmt!r}.")
    for f in files:
        if f.stat().st_size == 0:
            raise InvalidInput(f"{str(f)!r} is empty (0 bytes): there is no data to profile.")
        _check_looks_like(f, fmt)
    return [str(f) for f in files], fmt


_SNIFF_BYTES = 1 << 16


def _check_looks_like(path: Path, fmt: str) -> None:
    """Refuse a file that cannot be ``fmt``, saying so without echoing any of its bytes."""
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if fmt == "parquet":
        if not head.startswith(b"PAR1"):
            raise InvalidInput(
                f"{str(path)!r} is not a Parquet file (it does not start with the PAR1 magic number). "
                "Point at a Parquet file, or name the format with `--format csv`."
            )
        return
    if path.name.lower().endswith(".gz"):
        return  # compressed: pyarrow checks the text once decompressed
    nul = head.find(b"\0")
    if nul >= 0:
        raise InvalidInput(
            f"{str(path)!r} is not a CSV file: it holds binary data (a NUL byte at offset {nul}). "
            "Point at a CSV or Parquet file, or name the format with `--format parquet`."
        )
    header = head.split(b"\n", 1)[0]
    cut_off = b"\n" not in head and len(head) == _SNIFF_BYTES
    try:
        header.decode("utf-8")
    except UnicodeDecodeError as err:
        if not (cut_off and err.reason == "unexpected end of data"):
            raise InvalidInput(
                f"{str(path)!r}, line 1 (the header): invalid UTF-8 ({err.reason} at byte {err.start}). "
                "Re-encode the file as UTF-8."
            ) from err


def _check_binary_columns(dataset: ds.Dataset, files: list[str]) -> None:
    """CSV columns inferred as binary mean invalid UTF-8: name the file, column and line."""
    bad = [f.name for f in dataset.schema if pa.types.is_binary(f.type)]
    if not bad:
        return
    for path in files:
        table = ds.dataset(path, format=_csv_format(), schema=dataset.schema).to_table(columns=bad)
        for name in bad:
            for row, value in enumerate(table.column(name).to_pylist()):
                if value is None:
                    continue
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise InvalidInput(
                        f"{path!r}, line {row + 2}, column {name!r}: invalid UTF-8 ({err.reason} at byte "
                        f"{err.start}). Re-encode the file as UTF-8."
                    ) from err


_WIDER_TYPES = (pa.int64(), pa.float64(), pa.string())


def _narrowest_type(current: pa.DataType, values: pa.Array) -> pa.DataType:
    """The narrowest of null < int64 < float64 < string that holds ``current`` and ``values``."""
    values = pc.drop_null(values)
    if len(values) == 0:
        return current
    start = 0 if pa.types.is_null(current) else _WIDER_TYPES.index(current)
    for candidate in _WIDER_TYPES[start:-1]:
        try:
            pc.cast(values, candidate)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return candidate
    return pa.string()


def _type_empty_csv_columns(schema: pa.Schema, files: Sequence[str]) -> pa.Schema:
    """Give a type to CSV columns that were empty where pyarrow inferred the schema.

    pyarrow infers CSV types from the first block of the first file; a column with no value there
    (sparse data such as the Chicago taxi trips) gets the null type, and its first later value
    fails conversion. Such columns are read once more, alone and as text, to find the narrowest
    type (int64, float64 or string) that holds all their values.
    """
    empty = [f.name for f in schema if pa.types.is_null(f.type)]
    if not empty:
        return schema
    found: dict[str, pa.DataType] = dict.fromkeys(empty, pa.null())
    convert = pacsv.ConvertOptions(
        include_columns=empty,
        column_types=dict.fromkeys(empty, pa.string()),
        null_values=list(CSV_NULL_VALUES),
        strings_can_be_null=True,
        include_missing_columns=True,
    )
    for path in files:
        try:
            with pacsv.open_csv(
                path, read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES), convert_options=convert
            ) as reader:
                for batch in reader:
                    for name in empty:
                        found[name] = _narrowest_type(found[name], batch.column(name))
        except (pa.ArrowException, OSError) as err:
            raise InvalidInput(f"Cannot read {path}: {err}. Fix the file or exclude it.") from err
    return pa.schema([pa.field(f.name, found.get(f.name, f.type)) for f in schema])


def _from_paths(
    paths: Sequence[str | os.PathLike[str]],
    file_format: str | None,
    column_types: Mapping[str, pa.DataType] | None = None,
) -> DataSource:
    files, fmt = _resolve_paths(paths, file_format)
    partitioning = "hive" if any(Path(p).is_dir() for p in paths) else None
    csv_or_parquet: Any = _csv_format() if fmt == "csv" else fmt
    try:
        if len(paths) == 1 and Path(paths[0]).is_dir():
            dataset = ds.dataset(
                str(paths[0]), format=csv_or_parquet, partitioning=partitioning, exclude_invalid_files=False
            )
        else:
            dataset = ds.dataset(files, format=csv_or_parquet)
    except (pa.ArrowException, OSError) as err:
        raise InvalidInput(f"Cannot read {', '.join(files[:3])}: {err}. Fix or exclude the file.") from err
    schema = dataset.schema
    if fmt == "csv":
        _check_binary_columns(dataset, files)
        schema = _type_empty_csv_columns(schema, files)
        if column_types:
            schema = pa.schema([pa.field(f.name, column_types.get(f.name, f.type)) for f in schema])
    units: list[WorkUnit] = []
    for fragment in dataset.get_fragments():
        if fmt == "parquet":
            try:
                pieces = fragment.split_by_row_group()
            except (pa.ArrowException, OSError) as err:
                raise InvalidInput(f"Cannot read {fragment.path!r}: {err}.") from err
            for i, piece in enumerate(pieces):
                units.append(
                    WorkUnit(
                        label=f"{piece.path} (row group {i})",
                        fragment=piece,
                        schema=schema,
                        file_format=fmt,
                        size_bytes=piece.row_groups[0].total_byte_size if piece.row_groups else 0,
                    )
                )
        else:
            units.append(
                WorkUnit(
                    label=fragment.path,
                    fragment=fragment,
                    schema=schema,
                    file_format=fmt,
                    size_bytes=os.path.getsize(fragment.path),
                )
            )
    return DataSource(schema=schema, units=tuple(units), paths=tuple(files))


def open_source(
    data: DataInput, *, file_format: str | None = None, column_types: Mapping[str, pa.DataType] | None = None
) -> DataSource:
    """Resolve ``data`` (path(s), folder, pandas DataFrame or Arrow table) into work units.

    Args:
        data: A path, a list of paths, a folder (hive partitions are read as columns), a
            ``pandas.DataFrame`` or a ``pyarrow.Table``.
        file_format: ``"csv"`` or ``"parquet"``; default from the file names.
        column_types: CSV column types replacing inferred ones (to widen a column).

    Raises:
        InvalidInput: missing or empty files, unknown format, unreadable data.
    """
    if isinstance(data, pa.Table):
        return DataSource(schema=data.schema, units=(WorkUnit(label="<arrow table>", table=data),))
    if type(data).__module__.startswith("pandas") and hasattr(data, "columns"):
        try:
            table = pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError) as err:
            raise InvalidInput(
                f"Cannot convert the DataFrame to Arrow: {err}. Give each column one type."
            ) from err
        return DataSource(schema=table.schema, units=(WorkUnit(label="<pandas DataFrame>", table=table),))
    if isinstance(data, str | os.PathLike):
        return _from_paths([data], file_format, column_types)
    if isinstance(data, Sequence) and data and all(isinstance(p, str | os.PathLike) for p in data):
        return _from_paths(list(data), file_format, column_types)
    raise InvalidInput(
        f"Cannot read data of type {type(data).__name__}. Pass a path, a list of paths, a folder, "
        "a pandas DataFrame or a pyarrow Table."
    )
