"""Batch prediction: score a table, files, a folder of partitions or a dataset version, with records.

``predict`` loads the model through the verified path (:func:`~loopml.inference.loading.verified_package`),
scores with :class:`~loopml.inference.batch.BatchScorer` and, given a tracking client, records the
run: model version, input (dataset version or content hash), output dataset version, row counts,
rejected rows with reasons, duration and resources, statistics of inputs and predictions.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import json
import os
import resource
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from loopml.artifacts import resolve_fs
from loopml.data.accumulator import StatisticsAccumulator
from loopml.data.drift import DriftSkewInfo
from loopml.data.files import write_statistics
from loopml.data.versions import DatasetVersion, DatasetVersions
from loopml.errors import InvalidInput, NotFound
from loopml.inference.atypical import AtypicalCheck
from loopml.inference.batch import OUTPUTS, BatchScorer
from loopml.inference.batch_run import (
    FORMATS,
    Partition,
    PartitionResult,
    ScoringJob,
    discard_output,
    prepare_output,
    publish_output,
    score_partitions,
)
from loopml.inference.destinations import published_files, resolve_destination
from loopml.inference.loading import ModelSource, verified_package
from loopml.inference.restoration import InputRestoration
from loopml.inference.skew import skew, training_statistics
from loopml.registry import ModelRegistry, TrustStore
from loopml.store.entities import EventType
from loopml.tracking import Client

__all__ = ["BatchReport", "predict"]

ENGINES = ("local", "ray")
STATISTICS_DIR = "_statistics"
"""The output's folder of statistics: ``inputs.json`` and ``predictions.json`` (and ``skew.json``)."""
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BatchReport:
    """What a batch run did.

    Attributes:
        output: The output folder, or the URL of a remote output.
        rows_in: Rows read.
        rows_scored: Rows scored and written.
        rows_rejected: Rows refused (in ``_rejected/``), with ``reasons`` counted.
        duration_s: Wall-clock seconds.
        rows_atypical: Scored rows the atypical-input scorer flagged, with ``atypical`` counting
            rows per reason kind (``out_of_range``, ``unseen``, ``missing``, ``distance``).
        restored: Values input restoration changed, per repair (``clipped:COL``, ``fallback:COL``).
        run_id: The tracked run (when a tracking client was given).
        output_version: ``NAME@N`` of the output dataset version (when recorded).
    """

    output: Path | str
    rows_in: int
    rows_scored: int
    rows_rejected: int
    reasons: dict[str, int]
    duration_s: float
    partitions: int
    rows_atypical: int = 0
    atypical: dict[str, int] = dataclasses.field(default_factory=dict)
    restored: dict[str, int] = dataclasses.field(default_factory=dict)
    skew: tuple[DriftSkewInfo, ...] = ()
    run_id: str | None = None
    output_version: str | None = None

    @property
    def skewed_features(self) -> list[str]:
        """Input features whose distribution is skewed against the training statistics."""
        return [i.feature for i in self.skew if i.is_anomalous]


def _format_of(path: str) -> str:
    fmt = _FORMATS.get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise InvalidInput(f"Cannot tell the format of {path!r}; input files must end in .parquet or .csv.")
    return fmt


def _local_partitions(root: Path) -> list[Partition]:
    if root.is_file():
        return [Partition(path=str(root), relative=root.name, file_format=_format_of(root.name))]
    if not root.is_dir():
        raise InvalidInput(
            f"Input {str(root)!r} does not exist; give a file, a folder of partitions, a dataset version "
            "(NAME@VERSION) or an fsspec URL."
        )
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in _FORMATS
        and not any(part.startswith(("_", ".")) for part in p.relative_to(root).parts)
    )
    if not files:
        raise InvalidInput(f"Input folder {str(root)!r} holds no .parquet or .csv files.")
    return [
        Partition(path=str(f), relative=str(f.relative_to(root)), file_format=_format_of(f.name))
        for f in files
    ]


def _url_partitions(url: str) -> list[Partition]:
    import fsspec
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    fs, path = fsspec.core.url_to_fs(url)
    if not fs.exists(path):
        raise InvalidInput(f"Input {url!r} does not exist.")
    pafs = PyFileSystem(FSSpecHandler(fs))
    if fs.isdir(path):
        base = path.rstrip("/") + "/"
        published = published_files(fs, path)  # an output of loopml predict: only what it published
        found = sorted(
            f
            for f in ([base + rel for rel in published] if published is not None else fs.find(path))
            if os.path.splitext(f)[1].lower() in _FORMATS
            and not any(part.startswith(("_", ".")) for part in f.removeprefix(base).split("/"))
        )
        if not found:
            raise InvalidInput(f"Input {url!r} holds no .parquet or .csv files.")
        return [
            Partition(path=f, relative=f.removeprefix(base), file_format=_format_of(f), filesystem=pafs)
            for f in found
        ]
    return [
        Partition(path=path, relative=os.path.basename(path), file_format=_format_of(path), filesystem=pafs)
    ]


def _content_hash(partitions: Sequence[Partition]) -> str:
    digest = hashlib.sha256()
    for p in partitions:
        digest.update(p.relative.encode())
        if p.filesystem is None:
            with open(p.path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def _merge(results: Sequence[PartitionResult]) -> tuple[StatisticsAccumulator, StatisticsAccumulator]:
    inputs, preds = StatisticsAccumulator(), StatisticsAccumulator()
    for r in results:
        inputs.merge(r.inputs)
        preds.merge(r.predictions)
    return inputs, preds


def _counted(results: Sequence[PartitionResult], field: str) -> dict[str, int]:
    total: collections.Counter[str] = collections.Counter()
    for r in results:
        total.update(getattr(r, field))
    return dict(total)


def _resources() -> dict[str, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu_s": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
        "max_rss_mb": max(own.ru_maxrss, children.ru_maxrss) / 1024,
    }


def score_table(
    model_uri: str,
    table: pa.Table,
    *,
    registry: ModelRegistry | None = None,
    trust_store: TrustStore | None = None,
    keep: Sequence[str] | None = None,
    outputs: Sequence[str] = OUTPUTS,
    atypical: AtypicalCheck | None = None,
    restoration: InputRestoration | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Score an in-memory table: (scored rows, rejected rows with reasons)."""
    with verified_package(ModelSource(uri=model_uri), registry=registry, trust_store=trust_store) as (
        model,
        _,
    ):
        scorer = BatchScorer(model, keep=keep, outputs=outputs, atypical=atypical, restoration=restoration)
        scored = scorer.score(table)
    return scored.table, scored.rejected


def predict(
    model_uri: str,
    data: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str],
    registry: ModelRegistry | None = None,
    trust_store: TrustStore | None = None,
    client: Client | None = None,
    datasets: DatasetVersions | None = None,
    engine: str = "local",
    batch_rows: int = 65_536,
    keep: Sequence[str] | None = None,
    outputs: Sequence[str] = OUTPUTS,
    out_format: str = "parquet",
    overwrite: bool = False,
    fail_on_bad_rows: bool = False,
    max_workers: int | None = None,
    output_name: str | None = None,
    experiment: str = "batch-inference",
    atypical: AtypicalCheck | None = None,
    restoration: InputRestoration | None = None,
) -> BatchReport:
    """Score ``data`` with the model at ``model_uri`` into the folder ``out``.

    Args:
        model_uri: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or a package folder.
        data: A file, a folder of partitions, a dataset version ``NAME@VERSION`` or an fsspec URL.
        out: The output folder or fsspec URL (written atomically, partitioned like the input).
        client: Records the run when given (with ``datasets``: the output as a dataset version).
        atypical: Atypical-input scoring as in serving (``log``, ``flag`` columns, ``reject`` rows).
        restoration: Input restoration (clip to the training range, unseen categories to a fallback).

    Raises:
        InvalidInput: bad arguments, unreadable input, columns not fitting the signature (named),
            an existing output without ``overwrite``, a bad row with ``fail_on_bad_rows``.
        IntegrityError, UnsafeArtifact, PolicyViolation: the model failed verification.
        InvalidState: a worker died; nothing was written.
    """
    if engine not in ENGINES:
        raise InvalidInput(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}.")
    if out_format not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}; got {out_format!r}.")
    if batch_rows < 1:
        raise InvalidInput(f"batch_rows must be at least 1; got {batch_rows}.")
    started = time.perf_counter()
    ref = os.fspath(data)
    destination = resolve_destination(out, overwrite=overwrite)
    out_path = destination.local
    input_version: DatasetVersion | None = None
    if "://" not in ref and "@" in ref and not Path(ref).exists():
        if datasets is None:
            raise InvalidInput(f"{ref!r} names a dataset version, but no dataset store was given.")
        input_version = datasets.get(ref)
    trust = trust_store if trust_store is not None else (registry.trust_store if registry else None)
    with verified_package(ModelSource(uri=model_uri), registry=registry, trust_store=trust) as (model, local):
        job = ScoringJob(
            source=local,
            trust_dir=str(trust.directory) if trust is not None else None,
            keep=tuple(keep) if keep is not None else None,
            outputs=tuple(outputs),
            batch_rows=batch_rows,
            out_format=out_format,
            fail_on_bad_rows=fail_on_bad_rows,
            atypical=atypical,
            restoration=restoration,
        )
        scorer = BatchScorer(model, keep=keep, outputs=outputs, atypical=atypical, restoration=restoration)
        if input_version is not None:
            assert datasets is not None
            with datasets.materialize(input_version) as folder:
                partitions = _local_partitions(folder)
                results, tmp = _run(scorer, partitions, out_path, job, overwrite, max_workers, engine)
        else:
            partitions = _url_partitions(ref) if "://" in ref else _local_partitions(Path(ref).expanduser())
            results, tmp = _run(scorer, partitions, out_path, job, overwrite, max_workers, engine)
        try:
            inputs, preds = _merge(results)
            reasons, atypical_counts, restored = (
                _counted(results, name) for name in ("reasons", "atypical", "restored")
            )
            rows_atypical = sum(r.atypical_rows for r in results)
            stats_dir = tmp / STATISTICS_DIR
            stats_dir.mkdir()
            write_statistics(inputs.result(name="inputs"), stats_dir / "inputs.json")
            write_statistics(preds.result(name="predictions"), stats_dir / "predictions.json")
            package_id = _package_artifact(registry, model, model_uri)
            training = (
                training_statistics(client.store, client.blobs, package_id)
                if client is not None and package_id
                else None
            )
            skewed: list[DriftSkewInfo] = []
            if training is not None:
                skewed = skew(inputs.result(name="inputs"), training)
                (stats_dir / "skew.json").write_text(
                    json.dumps([dataclasses.asdict(i) for i in skewed], indent=2, default=str)
                )
            rows_in = sum(r.rows_in for r in results)
            rows_scored = sum(r.rows_out for r in results)
            rows_rejected = sum(r.rejected for r in results)
            summary = {
                "model": {"uri": model_uri, "name": model.name, "version": model.version},
                "input": f"{input_version.name}@{input_version.version}" if input_version else ref,
                "rows_in": rows_in,
                "rows_scored": rows_scored,
                "rows_rejected": rows_rejected,
                "rejection_reasons": reasons,
                "rows_atypical": rows_atypical,
                "atypical_reasons": atypical_counts,
                "restored_values": restored,
                "partitions": [r.relative for r in results],
                "skewed_features": [i.feature for i in skewed if i.is_anomalous],
            }
            (tmp / "_predict.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
            publish_output(tmp, out_path)
        except BaseException:
            discard_output(tmp)
            destination.discard()
            raise
    destination.deliver(overwrite=overwrite)
    report = BatchReport(
        output=out_path if destination.url is None else destination.url,
        rows_in=rows_in,
        rows_scored=rows_scored,
        rows_rejected=rows_rejected,
        reasons=reasons,
        duration_s=time.perf_counter() - started,
        partitions=len(results),
        rows_atypical=rows_atypical,
        atypical=atypical_counts,
        restored=restored,
        skew=tuple(skewed),
    )
    if client is None:
        return report
    return _record(
        report,
        client,
        datasets,
        model=model,
        model_uri=model_uri,
        registry=registry,
        ref=ref,
        input_version=input_version,
        partitions=partitions,
        engine=engine,
        batch_rows=batch_rows,
        output_name=output_name or f"{model.name}-predictions",
        experiment=experiment,
    )


def _package_artifact(registry: ModelRegistry | None, model: Any, model_uri: str) -> str | None:
    """The registry's package artifact of the scored version (lineage starts there), or None."""
    if registry is None or not model_uri.startswith("models:/"):
        return None
    try:
        version = registry.resolve(f"models:/{model.name}/{model.version}")
    except NotFound:
        return None
    return str(version.properties.get("package_artifact_id") or "") or None


def _run(
    scorer: BatchScorer,
    partitions: list[Partition],
    out: Path,
    job: ScoringJob,
    overwrite: bool,
    workers: int | None,
    engine: str,
) -> tuple[list[PartitionResult], Path]:
    tmp = prepare_output(out, overwrite=overwrite)
    try:
        if engine == "ray":
            from loopml.inference.batch_ray import score_partitions_on_ray

            return score_partitions_on_ray(partitions, tmp, job=job, max_workers=workers), tmp
        return score_partitions(scorer, partitions, tmp, job=job, max_workers=workers), tmp
    except BaseException:
        discard_output(tmp)
        raise


def _record(
    report: BatchReport,
    client: Client,
    datasets: DatasetVersions | None,
    *,
    model: Any,
    model_uri: str,
    registry: ModelRegistry | None,
    ref: str,
    input_version: DatasetVersion | None,
    partitions: Sequence[Partition],
    engine: str,
    batch_rows: int,
    output_name: str,
    experiment: str,
) -> BatchReport:
    with client.start_run(experiment, f"predict {model.name} v{model.version}") as run:
        run_id = run.run_id
        client.log_params(
            run_id,
            {
                "model_uri": model_uri,
                "model_name": model.name,
                "model_version": model.version,
                "input": ref,
                "engine": engine,
                "batch_rows": batch_rows,
            },
        )
        if input_version is not None:
            client.log_input(run_id, input_version.artifact_id, role="dataset")
        else:
            client.set_tag(run_id, "input_sha256", _content_hash(partitions))
        package = _package_artifact(registry, model, model_uri)
        if package:
            client.log_input(run_id, package, role="model")
        if report.skew:
            client.log_metrics(
                run_id,
                {
                    "skewed_features": len(report.skewed_features),
                    "max_skew": max(i.value for i in report.skew),
                },
            )
        client.log_metrics(
            run_id,
            {
                "rows_in": report.rows_in,
                "rows_scored": report.rows_scored,
                "rows_rejected": report.rows_rejected,
                "rows_atypical": report.rows_atypical,
                "values_restored": sum(report.restored.values()),
                "duration_s": report.duration_s,
                **_resources(),
            },
        )
        client.log_dict(run_id, report.reasons, "rejection_reasons.json")
        if report.atypical or report.restored:
            client.log_dict(run_id, {"atypical": report.atypical, "restored": report.restored}, "guards.json")
        output_version = None
        if not isinstance(report.output, Path):
            client.set_tag(run_id, "output_uri", report.output)
        if datasets is not None and report.rows_scored:
            added = datasets.add(output_name, report.output, by_reference=True)
            output_version = f"{added.name}@{added.version}"
            client.set_tag(run_id, "output_version", output_version)
            # lineage: model (an input of this run) → output dataset version (an output of it)
            client.store.lineage.add_events(
                client._execution_id(run_id), [(added.artifact_id, EventType.OUTPUT, "predictions")]
            )
            with _statistics_folder(report.output) as stats:
                datasets.record(
                    added,
                    {
                        "input_statistics": ("ExampleStatistics", stats / "inputs.json"),
                        "prediction_statistics": ("ExampleStatistics", stats / "predictions.json"),
                    },
                    execution_type="BatchPredictionStatistics",
                )
    return dataclasses.replace(report, run_id=run_id, output_version=output_version)


@contextlib.contextmanager
def _statistics_folder(output: Path | str) -> Iterator[Path]:
    """The output's ``_statistics`` folder, copied from a remote output into a temporary folder."""
    if isinstance(output, Path):
        yield output / STATISTICS_DIR
        return
    fs, path = resolve_fs(output, what="Output URL")
    with tempfile.TemporaryDirectory(prefix="loopml-predict-stats-") as tmp:
        for name in ("inputs.json", "predictions.json"):
            fs.get_file(f"{path.rstrip('/')}/{STATISTICS_DIR}/{name}", f"{tmp}/{name}")
        yield Path(tmp)
