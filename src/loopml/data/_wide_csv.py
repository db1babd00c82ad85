"""Reading CSV files whose rows are very wide: row-aligned chunks, each parsed as one block.

pyarrow's streaming CSV reader parses fixed-size blocks (1 MB here). A row of a 10,000-column file
is ~60 KB, so a block holds ~16 rows and the reader's cost per block and column (a column chunk
built and converted, later concatenated) outweighs the parsing: 1.25 million column chunks for
2,000 rows. Larger blocks fix that, but the streaming reader keeps up to 32 blocks read ahead in
the background, which at tens of MB per block is the whole file in memory.

Here a wide file is cut into chunks of about :data:`CHUNK_ROWS` rows (at most
:data:`MAX_CHUNK_BYTES`), each parsed by ``pyarrow.csv.read_csv`` as a single block on a helper
thread while the caller works on the previous one: read-ahead is one chunk. Chunks end at a newline,
which is where pyarrow's reader ends its blocks too when values may not hold newlines
(``ParseOptions.newlines_in_values`` off, the default); files that allow them use pyarrow's reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa
import pyarrow.csv as pacsv

__all__ = ["is_wide", "wide_csv_batches"]

WIDE_ROW_BYTES = 16_384
"""Rows wider than this on average (fewer than 64 rows per 1 MB) are read here; narrower rows
parse faster with pyarrow's streaming reader (measured at 2,000 columns, 12 KB rows: 2x faster)."""
CHUNK_ROWS = 128
"""Rows per chunk aimed at: enough that per-column costs per chunk are small next to parsing."""
MIN_CHUNK_BYTES = 1 << 20
MAX_CHUNK_BYTES = 8 << 20


def is_wide(head: bytes, parse_options: pacsv.ParseOptions) -> bool:
    """Whether a file whose first bytes are ``head`` (a full block of them) is read here."""
    if parse_options.newlines_in_values or len(head) < MIN_CHUNK_BYTES:
        return False
    return head.count(b"\n") < len(head) // WIDE_ROW_BYTES


def _chunk_bytes(head: bytes) -> int:
    lines = head.count(b"\n")
    if not lines:
        return MAX_CHUNK_BYTES
    return max(MIN_CHUNK_BYTES, min(MAX_CHUNK_BYTES, len(head) * CHUNK_ROWS // lines))


def _row_chunks(stream: pa.NativeFile, head: bytes, size: int) -> Iterator[memoryview]:
    """The bytes of ``head`` and then of ``stream``, cut after a newline every ``size`` bytes or so.

    Each chunk is a view of the bytes read, not a copy, and nothing else of a chunk's size stays
    referenced here while the caller holds it: a chunk of a wide file is several MB.
    """
    rest = head
    while True:
        more = stream.read(size)
        if not more:
            if rest:
                yield memoryview(rest)
            return
        data = rest + more
        del more
        cut = data.rfind(b"\n") + 1
        if not cut:  # a row longer than ``size``: read on
            rest = data
            continue
        rest = data[cut:]
        chunk = memoryview(data)[:cut]
        del data
        yield chunk
        del chunk


def wide_csv_batches(
    stream: pa.NativeFile,
    head: bytes,
    *,
    parse_options: pacsv.ParseOptions,
    convert_options: pacsv.ConvertOptions,
) -> Iterator[pa.RecordBatch]:
    """Record batches of a CSV file (one per chunk); ``head`` holds the first bytes read from ``stream``.

    Raises:
        pyarrow.ArrowInvalid: as ``pyarrow.csv`` does (conversion errors name the column index).
    """
    end = head.find(b"\n") + 1 or len(head)
    header = pacsv.read_csv(
        pa.BufferReader(head[:end]),
        read_options=pacsv.ReadOptions(use_threads=False, block_size=end + 1),
        parse_options=parse_options,
    )
    names = header.column_names

    def parse(chunk: memoryview) -> pa.Table:
        read = pacsv.ReadOptions(use_threads=False, block_size=len(chunk) + 1, column_names=names)
        return pacsv.read_csv(
            pa.BufferReader(chunk),
            read_options=read,
            parse_options=parse_options,
            convert_options=convert_options,
        )

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="loopml-csv") as pool:
        ahead: Future[pa.Table] | None = None
        for chunk in _row_chunks(stream, head[end:], _chunk_bytes(head)):
            parsed = pool.submit(parse, chunk)
            del chunk  # the parse holds it until it is done
            if ahead is not None:
                yield from ahead.result().to_batches()
            ahead = parsed
        if ahead is not None:
            yield from ahead.result().to_batches()
