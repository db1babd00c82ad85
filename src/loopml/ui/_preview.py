"""Previews of artifact files: the head of a table, JSON, text or an image; nothing is ever executed.

Only data formats are parsed (CSV, Parquet, JSON); a pickle, a model or any other binary file is
described, never loaded. Callers hand over at most :data:`PREVIEW_BYTES` of a file (Parquet,
whose footer sits at the end, only whole files up to :data:`MAX_PARQUET_BYTES`).
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

__all__ = ["MAX_PARQUET_BYTES", "PREVIEW_BYTES", "Preview", "needs_whole_file", "preview_file"]

PREVIEW_BYTES = 256 * 1024
MAX_PARQUET_BYTES = 32 * 1024 * 1024
MAX_IMAGE_BYTES = 2 * 1024 * 1024
HEAD_ROWS = 20
MAX_COLUMNS = 50
_TEXT = {".txt", ".md", ".yaml", ".yml", ".log", ".toml", ".cfg", ".ini", ".html", ".py", ".sql", ".tsv"}
_IMAGES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}

Kind = Literal["table", "json", "text", "image", "binary", "too_large"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Preview:
    """What a page shows of a file: a table head, JSON or text, an image (as a data URL), or why not.

    Attributes:
        kind: ``table``, ``json``, ``text``, ``image``, ``binary`` or ``too_large``.
        columns: Table column names (and their Arrow types in ``types``).
        rows: Table rows as text.
        text: JSON (indented) or text.
        image: A ``data:`` URL of a PNG, JPEG or GIF.
        truncated: Whether only the file's beginning was shown.
        note: What the reader should know (rows shown of how many, why nothing is shown).
    """

    kind: Kind
    columns: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    text: str = ""
    image: str = ""
    truncated: bool = False
    note: str = ""


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > name.rfind("/") else ""


def needs_whole_file(name: str) -> bool:
    """Whether the preview of ``name`` needs the whole file (Parquet) rather than its beginning."""
    return _suffix(name) == ".parquet"


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 200 else text[:199] + "…"


def _table(table: pa.Table, *, truncated: bool, total: int | None) -> Preview:
    head = table.slice(0, HEAD_ROWS).select(list(range(min(table.num_columns, MAX_COLUMNS))))
    rows = [[_cell(v) for v in row.values()] for row in head.to_pylist()]
    of = f" of {total}" if total is not None else ""
    note = f"First {len(rows)} rows{of}" + (
        f", first {MAX_COLUMNS} of {table.num_columns} columns" if table.num_columns > MAX_COLUMNS else ""
    )
    return Preview(
        kind="table",
        columns=head.column_names,
        types=[str(t) for t in head.schema.types],
        rows=rows,
        truncated=truncated,
        note=note + ".",
    )


def _csv(data: bytes, *, truncated: bool, delimiter: str) -> Preview:
    if truncated:
        data = data[: data.rfind(b"\n") + 1]  # whole lines only
    try:
        table = pcsv.read_csv(io.BytesIO(data), parse_options=pcsv.ParseOptions(delimiter=delimiter))
    except (pa.ArrowInvalid, ValueError) as err:
        return Preview(kind="text", text=data.decode("utf-8", "replace"), truncated=truncated, note=str(err))
    return _table(table, truncated=truncated, total=None if truncated else table.num_rows)


def _parquet(data: bytes) -> Preview:
    try:
        reader = pq.ParquetFile(io.BytesIO(data))
        first = reader.read_row_group(0) if reader.num_row_groups else reader.schema_arrow.empty_table()
    except (pa.ArrowException, OSError, ValueError) as err:
        return Preview(kind="binary", note=f"Not a readable Parquet file ({err}).")
    return _table(first, truncated=False, total=reader.metadata.num_rows)


def preview_file(name: str, data: bytes, *, size: int) -> Preview:
    """A preview of the file ``name`` whose first ``len(data)`` bytes (of ``size``) are ``data``.

    Example:
        >>> p = preview_file("a.csv", b"x,y\\n1,2\\n3,4\\n", size=12)
        >>> p.kind, p.columns, p.rows
        ('table', ['x', 'y'], [['1', '2'], ['3', '4']])
        >>> preview_file("m.pkl", b"\\x80\\x04K\\x01.", size=5).kind
        'binary'
    """
    truncated = len(data) < size
    suffix = _suffix(name)
    if suffix == ".parquet":
        if truncated:
            return Preview(
                kind="too_large", note=f"Parquet files over {MAX_PARQUET_BYTES} bytes are not read."
            )
        return _parquet(data)
    for magic, mime in _IMAGES.items():
        if data.startswith(magic):
            if truncated or size > MAX_IMAGE_BYTES:
                return Preview(kind="too_large", note=f"Images over {MAX_IMAGE_BYTES} bytes are not shown.")
            return Preview(kind="image", image=f"data:{mime};base64,{base64.b64encode(data).decode()}")
    if b"\x00" in data[:8192]:
        return Preview(kind="binary", note="A binary file: not shown (nothing in it is loaded or run).")
    if suffix in (".csv", ".tsv"):
        return _csv(data, truncated=truncated, delimiter="\t" if suffix == ".tsv" else ",")
    text = data.decode("utf-8", "replace")
    if suffix in (".json", ".ipynb") and not truncated:
        try:
            return Preview(kind="json", text=json.dumps(json.loads(text), indent=2, sort_keys=True))
        except ValueError:
            pass
    if suffix in _TEXT or suffix in (".json", ".jsonl", ".csv") or text.isprintable() or "\n" in text:
        note = f"First {len(data)} of {size} bytes." if truncated else ""
        return Preview(kind="text", text=text, truncated=truncated, note=note)
    return Preview(kind="binary", note="Not a text file: not shown.")
