"""Score partitions of files with a batch scorer: streaming, a process pool, atomic output.

Each input file is one partition, read as record batches of ``batch_rows`` rows (memory bounded
by that, not by the file) and written as the file of the same relative path under the output
folder. Rejected rows go to ``_rejected/<partition>.parquet`` with their reasons; statistics of
the inputs and of the predictions are accumulated per partition and merged. The output folder is
built under a temporary name beside the destination and renamed into place only when every
partition succeeded, so a failed or killed run leaves nothing visible.
"""

from __future__ import annotations

import collections
import dataclasses
import multiprocessing
import os
import shutil
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from loopml.data.accumulator import StatisticsAccumulator
from loopml.errors import InvalidInput, InvalidState
from loopml.inference.batch import BatchScorer, ScoredBatch, check_input_schema
from loopml.inference.loading import ModelSource, load_served_model
from loopml.registry import TrustStore

__all__ = [
    "FORMATS",
    "Partition",
    "PartitionResult",
    "ScoringJob",
    "prepare_output",
    "publish_output",
    "score_partitions",
]

FORMATS = ("parquet", "csv")
REJECTED_DIR = "_rejected"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Partition:
    """One input file and where its scored rows go (relative to the output folder)."""

    path: str
    relative: str
    file_format: str
    filesystem: Any = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ScoringJob:
    """What every worker needs to score partitions (picklable: workers load the model themselves)."""

    source: ModelSource
    trust_dir: str | None
    keep: tuple[str, ...] | None
    outputs: tuple[str, ...]
    batch_rows: int
    out_format: str
    fail_on_bad_rows: bool


@dataclasses.dataclass(kw_only=True, slots=True)
class PartitionResult:
    """What scoring one partition produced."""

    relative: str
    rows_in: int = 0
    rows_out: int = 0
    rejected: int = 0
    reasons: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    inputs: StatisticsAccumulator = dataclasses.field(default_factory=StatisticsAccumulator)
    predictions: StatisticsAccumulator = dataclasses.field(default_factory=StatisticsAccumulator)


class _Writer:
    """Writes tables of one schema to a Parquet or CSV file, opened on the first table."""

    def __init__(self, path: Path, file_format: str) -> None:
        self.path, self.format = path, file_format
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.format == "csv":
                self._writer = pacsv.CSVWriter(str(self.path), table.schema)
            else:
                # dictionary pages pay off for text only; on float columns (scores, features) they
                # cost a third of the write time before Parquet falls back to plain encoding
                text = [
                    f.name
                    for f in table.schema
                    if pa.types.is_string(f.type) or pa.types.is_dictionary(f.type)
                ]
                self._writer = pq.ParquetWriter(str(self.path), table.schema, use_dictionary=text)
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def _output_name(relative: str, out_format: str) -> str:
    stem, _ = os.path.splitext(relative)
    return f"{stem}.{out_format}"


def _prediction_columns(scored: ScoredBatch, kept: list[str]) -> pa.Table:
    return scored.table.drop_columns([n for n in kept if n in scored.table.column_names])


def score_partition(
    scorer: BatchScorer, partition: Partition, dest: Path, *, job: ScoringJob
) -> PartitionResult:
    """Score one partition into ``dest`` (the temporary output folder).

    Raises:
        InvalidInput: unreadable input, columns that do not fit, or a bad row with ``fail_on_bad_rows``.
    """
    result = PartitionResult(relative=partition.relative)
    try:
        dataset = ds.dataset(partition.path, format=partition.file_format, filesystem=partition.filesystem)
        check_input_schema(scorer.model, dataset.schema, where=f"Input {partition.relative!r}")
        columns = scorer.read_columns(dataset.schema)
        kept = scorer.kept(dataset.schema)
        batches = dataset.to_batches(columns=columns, batch_size=job.batch_rows)
        writer = _Writer(dest / _output_name(partition.relative, job.out_format), job.out_format)
        rejects = _Writer(dest / REJECTED_DIR / _output_name(partition.relative, "parquet"), "parquet")
        try:
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                scored = scorer.score(batch, offset=result.rows_in)
                result.rows_in += batch.num_rows
                if scored.rejected.num_rows:
                    if job.fail_on_bad_rows:
                        first = scored.rejected.to_pylist()[0]
                        raise InvalidInput(
                            f"Input {partition.relative!r} row {first['row']} was refused: {first['reason']} "
                            "(without --fail-on-bad-rows such rows go to the _rejected side file)."
                        )
                    rejects.write(scored.rejected)
                    result.rejected += scored.rejected.num_rows
                    result.reasons.update(scored.rejected.column("reason").to_pylist())
                if scored.table.num_rows:
                    writer.write(scored.table)
                    result.rows_out += scored.table.num_rows
                    result.inputs.update(batch.select(list(scorer.model.schema.names)))
                    result.predictions.update(_prediction_columns(scored, kept))
        finally:
            writer.close()
            rejects.close()
    except (OSError, pa.ArrowInvalid) as err:
        raise InvalidInput(f"Cannot read input {partition.path!r}: {err}") from err
    return result


_WORKER: BatchScorer | None = None


def load_scorer(job: ScoringJob) -> BatchScorer:
    """Load the model in a worker from the verified package folder (verified again there)."""
    threadpool_limits(1)
    trust = TrustStore(Path(job.trust_dir)) if job.trust_dir else None
    model = load_served_model(job.source, trust_store=trust)
    return BatchScorer(model, keep=job.keep, outputs=job.outputs)


def _init_worker(job: ScoringJob) -> None:
    """Load the model once per worker process."""
    global _WORKER
    _WORKER = load_scorer(job)


def _score_in_worker(partition: Partition, dest: str, job: ScoringJob) -> PartitionResult:
    assert _WORKER is not None, "the worker initializer loads the model"
    return score_partition(_WORKER, partition, Path(dest), job=job)


def score_partitions(
    scorer: BatchScorer,
    partitions: Sequence[Partition],
    dest: Path,
    *,
    job: ScoringJob,
    max_workers: int | None = None,
) -> list[PartitionResult]:
    """Score every partition into ``dest``: in this process, or a process pool across partitions.

    Raises:
        InvalidInput: see :func:`score_partition`.
        InvalidState: a worker process died (killed, out of memory); nothing is published.
    """
    workers = min(max_workers or os.cpu_count() or 1, len(partitions))
    if workers <= 1:
        return [score_partition(scorer, p, dest, job=job) for p in partitions]
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(job,)
        ) as pool:
            futures = [pool.submit(_score_in_worker, p, str(dest), job) for p in partitions]
            return [f.result() for f in futures]
    except BrokenProcessPool as err:
        raise InvalidState(
            "A scoring worker process died (killed or out of memory); nothing was written. Rerun the "
            "command, with a smaller --batch-rows if memory ran out."
        ) from err


def prepare_output(out: Path, *, overwrite: bool) -> Path:
    """The temporary folder to build the output in, beside ``out``.

    Raises:
        InvalidInput: ``out`` exists and ``overwrite`` is off.
    """
    if out.exists() and not overwrite:
        raise InvalidInput(f"Output {str(out)!r} already exists; pass --overwrite to replace it.")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    return tmp


def publish_output(tmp: Path, out: Path) -> None:
    """Move the finished output into place (replacing an old one only once the new one is complete)."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:12]}"
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()


def discard_output(tmp: Path) -> None:
    """Remove a temporary output folder (after a failure)."""
    shutil.rmtree(tmp, ignore_errors=True)
