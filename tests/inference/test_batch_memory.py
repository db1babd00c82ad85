"""Batch scoring streams: a file several times larger than the memory bound is scored within it.

The scoring runs in a fresh Python process (earlier tests and the data generation do not count)
and sets its own bound from the data: the process's peak RSS growth (``VmHWM`` after a warm-up
run on a small file), Arrow's own buffers (the memory pool's high-water mark) and Python's traced
allocations must each stay far below the input's in-memory size. Memory is bounded by
``batch_rows`` and the sink's queue of scored batches, not by the file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.registry import ColumnSpec, ModelSignature, package_model

CHUNK_ROWS = 500_000
COLUMNS = ("a", "b", "c", "d", "e", "f")
_MEASURE = """
import json, sys, tracemalloc
import pyarrow as pa
from loopml.inference.predict import predict

def status_kib(key):  # VmHWM: this process image's peak RSS
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key + ":"))

package, big, small, out = sys.argv[1:5]
predict(package, small, out=out + "-warm", batch_rows=16_384, max_workers=1)  # imports, pools, arenas
before = status_kib("VmRSS")
tracemalloc.start()
report = predict(package, big, out=out, batch_rows=16_384, max_workers=1)
_, traced_peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(json.dumps({
    "rows": report.rows_scored,
    "traced_peak": traced_peak,
    "arrow_peak": pa.default_memory_pool().max_memory(),
    "rss_growth": (status_kib("VmHWM") - before) * 1024,
}))
"""


def _write(path: Path, chunks: int) -> int:
    """``chunks`` chunks of random rows as one Parquet file; their total in-memory (Arrow) size."""
    in_memory = 0
    with pq.ParquetWriter(path, pa.schema([(n, pa.float64()) for n in COLUMNS])) as writer:
        for i in range(chunks):
            x = np.random.default_rng(i).normal(size=(CHUNK_ROWS, len(COLUMNS)))
            table = pa.table({n: x[:, j] for j, n in enumerate(COLUMNS)})
            in_memory += table.nbytes
            writer.write_table(table, row_group_size=CHUNK_ROWS // 4)
    return in_memory


@pytest.mark.slow
def test_a_file_larger_than_the_memory_bound_is_scored_within_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, len(COLUMNS)))
    model = LogisticRegression().fit(x, (x[:, 0] + x[:, 1] > 0).astype(int))
    signature = ModelSignature(inputs=tuple(ColumnSpec(name=n, type="double") for n in COLUMNS))
    package = package_model(model, tmp_path / "pkg", signature=signature).path
    small, big = tmp_path / "small.parquet", tmp_path / "big.parquet"
    _write(small, 1)
    chunks = 12
    in_memory = _write(big, chunks)
    assert in_memory > 270 * 2**20  # the input is 288 MB once in memory; scored, about twice that

    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(package), str(big), str(small), str(tmp_path / "out")],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    m: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])

    assert m["rows"] == chunks * CHUNK_ROWS
    bound = in_memory // 3  # the bound this test sets: a third of the input, a sixth of input + scores
    assert m["rss_growth"] < bound, (m, in_memory)
    assert m["traced_peak"] + m["arrow_peak"] < bound, (m, in_memory)
    assert pq.ParquetFile(tmp_path / "out" / "big.parquet").metadata.num_rows == chunks * CHUNK_ROWS
