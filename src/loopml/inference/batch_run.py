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
import contextlib
import dataclasses
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from loopml.data.accumulator import StatisticsAccumulator
from loopml.data.engines.processes import worker_context, worker_start
from loopml.errors import InvalidInput, InvalidState
from loopml.inference.atypical import AtypicalCheck
from loopml.inference.batch import BatchScorer, ScoredBatch, check_input_schema
from loopml.inference.loading import ModelSource, load_served_model
from loopml.inference.restoration import InputRestoration
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
MIN_PARALLEL_BYTES = 64 * 1024 * 1024
"""Without an explicit worker count, less input than this is scored in this process."""
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
    atypical: AtypicalCheck | None = None
    restoration: InputRestoration | None = None


@dataclasses.dataclass(kw_only=True, slots=True)
class PartitionResult:
    """What scoring one partition produced."""

    relative: str
    rows_in: int = 0
    rows_out: int = 0
    rejected: int = 0
    reasons: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    atypical_rows: int = 0
    atypical: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    restored: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
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


class _Sink:
    """Writes scored batches and updates their statistics in one background thread.

    Parquet encoding and the statistics' NumPy passes release the GIL, so they run beside the
    next batch's prediction. At most ``depth`` batches wait (memory stays bounded by
    ``batch_rows``); an error in the thread comes out of the next :meth:`put` or :meth:`close`.
    """

    def __init__(self, dest: Path, partition: Partition, *, job: ScoringJob, result: PartitionResult) -> None:
        self._writer = _Writer(dest / _output_name(partition.relative, job.out_format), job.out_format)
        self._rejects = _Writer(dest / REJECTED_DIR / _output_name(partition.relative, "parquet"), "parquet")
        self._result = result
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loopml-predict-sink")
        self._pending: collections.deque[Future[None]] = collections.deque()
        self._depth = 2

    def put(self, inputs: pa.RecordBatch, scored: ScoredBatch, kept: list[str]) -> None:
        """Queue one scored batch (waits while ``depth`` batches are queued)."""
        while len(self._pending) >= self._depth:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._write, inputs, scored, kept))

    def _write(self, inputs: pa.RecordBatch, scored: ScoredBatch, kept: list[str]) -> None:
        if scored.rejected.num_rows:
            self._rejects.write(scored.rejected)
        if scored.table.num_rows:
            self._writer.write(scored.table)
            self._result.inputs.update(inputs)
            self._result.predictions.update(_prediction_columns(scored, kept))
            # sort now, in this thread beside the next batch's prediction, rather than when the
            # partitions' statistics are merged on the main thread at the end
            self._result.inputs.flush()
            self._result.predictions.flush()

    def close(self, *, quiet: bool = False) -> None:
        """Wait for every queued batch, then close the files.

        Raises the thread's first error unless ``quiet`` (closing after another error).
        """
        try:
            while self._pending:
                future = self._pending.popleft()
                if quiet:
                    future.exception()
                else:
                    future.result()
        finally:
            for future in self._pending:
                future.cancel()
            self._pool.shutdown(wait=True)
            self._writer.close()
            self._rejects.close()


class _Source:
    """One partition's record batches, read with memory bounded by the batch size.

    Parquet is read row group by row group without pre-buffering (the dataset scanner reads
    ahead whole row groups, most of a local file when scoring is slower than reading); CSV is
    streamed by the dataset scanner, its blocks gathered into batches of ``batch_rows`` rows.
    """

    def __init__(self, partition: Partition) -> None:
        self._parquet: pq.ParquetFile | None = None
        if partition.file_format == "parquet":
            source: Any = partition.path
            if partition.filesystem is not None:
                source = partition.filesystem.open_input_file(partition.path)
            self._parquet = pq.ParquetFile(source, pre_buffer=False)
            self.schema = self._parquet.schema_arrow
        else:
            self._dataset = ds.dataset(partition.path, format="csv", filesystem=partition.filesystem)
            self.schema = self._dataset.schema

    def batches(self, columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The partition's rows, ``batch_rows`` at a time, with ``columns`` only."""
        if self._parquet is not None:
            batches: Iterator[pa.RecordBatch] = self._parquet.iter_batches(
                batch_size=batch_rows, columns=columns
            )
            return batches
        return _rebatched(iter(self._dataset.to_batches(columns=columns, batch_size=batch_rows)), batch_rows)

    def close(self) -> None:
        """Release the open file."""
        if self._parquet is not None:
            self._parquet.close()


def _rebatched(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Batches of ``rows`` rows (the last one shorter) from CSV blocks of any size.

    The CSV reader yields one batch per block of about 1 MiB (a few thousand rows): scored as they
    come, a million rows cost a few hundred model calls, each paying the model's fixed per-call cost.
    """
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count < rows:
            continue
        table = pa.Table.from_batches(pending).combine_chunks()
        full = count - count % rows
        for start in range(0, full, rows):
            yield from table.slice(start, rows).to_batches()  # views: one copy per block, at most
        rest = table.slice(full)
        pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches()


def score_partition(
    scorer: BatchScorer, partition: Partition, dest: Path, *, job: ScoringJob
) -> PartitionResult:
    """Score one partition into ``dest`` (the temporary output folder).

    Batches are read and predicted in this thread while the previous ones are written (see
    :class:`_Sink`), so memory holds a few batches of ``job.batch_rows`` rows, never the file.

    Raises:
        InvalidInput: unreadable input, columns that do not fit, or a bad row with ``fail_on_bad_rows``.
    """
    result = PartitionResult(relative=partition.relative)
    try:
        source = _Source(partition)
        check_input_schema(scorer.model, source.schema, where=f"Input {partition.relative!r}")
        columns = scorer.read_columns(source.schema)
        kept = scorer.kept(source.schema)
        names = list(scorer.model.schema.names)
        sink = _Sink(dest, partition, job=job, result=result)
        try:
            for batch in source.batches(columns, job.batch_rows):
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
                    result.rejected += scored.rejected.num_rows
                    result.reasons.update(scored.rejected.column("reason").to_pylist())
                result.rows_out += scored.table.num_rows
                result.atypical_rows += scored.atypical_rows
                result.atypical.update(scored.atypical)
                result.restored.update(scored.restored)
                sink.put(batch.select(names), scored, kept)
        except BaseException:
            sink.close(quiet=True)
            source.close()
            raise
        sink.close()
        source.close()
    except (OSError, pa.ArrowInvalid) as err:
        raise InvalidInput(f"Cannot read input {partition.path!r}: {err}") from err
    return result


_WORKER: tuple[BatchScorer, ScoringJob] | None = None


def load_scorer(job: ScoringJob) -> BatchScorer:
    """Load the model in a worker from the verified package folder (verified again there)."""
    threadpool_limits(1)
    trust = TrustStore(Path(job.trust_dir)) if job.trust_dir else None
    model = load_served_model(job.source, trust_store=trust)
    return BatchScorer(
        model, keep=job.keep, outputs=job.outputs, atypical=job.atypical, restoration=job.restoration
    )


def _init_worker(job: ScoringJob) -> None:
    """Load the model once per worker process."""
    global _WORKER
    _WORKER = load_scorer(job), job


def _score_in_worker(partition: Partition, dest: str) -> PartitionResult:
    assert _WORKER is not None, "the worker initializer loads the model"
    scorer, job = _WORKER
    return score_partition(scorer, partition, Path(dest), job=job)


def _parallel_workers(partitions: Sequence[Partition], max_workers: int | None) -> int:
    """Worker processes to use: one per partition up to the CPUs; none for small input unless asked."""
    workers = min(max_workers or os.cpu_count() or 1, len(partitions))
    if max_workers is None and _input_bytes(partitions) < MIN_PARALLEL_BYTES:
        return 1
    return workers


def _input_bytes(partitions: Sequence[Partition]) -> int:
    total = 0
    for p in partitions:
        with contextlib.suppress(OSError):
            total += os.path.getsize(p.path) if p.filesystem is None else 0
    return total


def score_partitions(
    scorer: BatchScorer,
    partitions: Sequence[Partition],
    dest: Path,
    *,
    job: ScoringJob,
    max_workers: int | None = None,
) -> list[PartitionResult]:
    """Score every partition into ``dest``: in this process, or a process pool across partitions.

    Without ``max_workers``, input under :data:`MIN_PARALLEL_BYTES` (or on a remote filesystem)
    is scored in this process: starting workers costs more than it saves there. Workers fork from
    a server that imported loopml once (:func:`~loopml.data.engines.processes.worker_context`)
    and load the model once each, from the verified package folder; a task carries only the
    partition's path.

    Raises:
        InvalidInput: see :func:`score_partition`.
        InvalidState: a worker process died (killed, out of memory); nothing is published.
    """
    workers = _parallel_workers(partitions, max_workers)
    if workers <= 1:
        return [score_partition(scorer, p, dest, job=job) for p in partitions]
    context = worker_context([__name__])
    try:
        with worker_start():
            pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(job,)
            )
            futures = [pool.submit(_score_in_worker, p, str(dest)) for p in partitions]
        with pool:
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
