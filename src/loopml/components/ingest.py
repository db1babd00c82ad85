"""``ingest``: read a dataset version (registering new data first) and split it deterministically
into train and eval examples."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from loopml.components._splits import EVAL, SPLITS, TRAIN, split_path
from loopml.data import DatasetVersion, DatasetVersions
from loopml.data.versions import parse_ref
from loopml.errors import InvalidInput
from loopml.pipeline import Dataset, component, current_step, scratch_dir
from loopml.store import EventType

__all__ = ["ingest"]

_BUCKETS = 10_000
_SAMPLE_KEY = "loopml-sample-01"  # 16 bytes: the hash key of the subsampling order


def _read(path: Path, file_format: str) -> pd.DataFrame:
    if path.is_dir() and file_format == "csv":
        return ds.dataset(str(path), format="csv", partitioning="hive").to_table().to_pandas()
    if path.is_dir() or path.suffix in (".parquet", ".pq", ".parq"):
        return pd.read_parquet(path)
    if path.suffix in (".csv", ".gz", ".tsv", ".txt"):
        return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")
    raise InvalidInput(f"ingest: cannot read {str(path)!r}; give a Parquet or CSV file, or a folder of them.")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _register(versions: DatasetVersions, name: str, source: Path, *, by_reference: bool) -> DatasetVersion:
    """The latest version of ``name`` when it holds exactly these bytes, else a new version."""
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    if versions.list(name):
        latest = versions.get(name)
        if sorted(f.sha256 for f in latest.files) == sorted(_sha256(f) for f in files):
            return latest
    return versions.add(name, source, by_reference=by_reference)


@contextmanager
def _input(
    versions: DatasetVersions, *, source: str, dataset_name: str, dataset: str, by_reference: bool
) -> Iterator[tuple[DatasetVersion, Path]]:
    """The dataset version to read and a local path to its data.

    ``dataset`` names a registered version, which is materialised from the artifact store;
    otherwise ``source`` is registered under ``dataset_name`` (reusing the latest version when
    the bytes are the same) and read in place.
    """
    if dataset:
        if source:
            raise InvalidInput(
                f"ingest: give either source={source!r} (with dataset_name) or dataset={dataset!r}, not both."
            )
        name, number = parse_ref(dataset)
        if dataset_name and dataset_name != name:
            raise InvalidInput(
                f"ingest: dataset_name={dataset_name!r} contradicts dataset={dataset!r}; drop dataset_name."
            )
        if number is None:
            raise InvalidInput(
                f"ingest: dataset must pin a version, as in {name}@3, so the step's cache key names the "
                f"data it reads. Got {dataset!r}; `loopml data list {name}` shows the versions."
            )
        version = versions.get(dataset)
        with versions.materialize(version) as local:
            yield version, local
        return
    if not source or not dataset_name:
        raise InvalidInput(
            "ingest: give source (a CSV/Parquet file or folder) with dataset_name to register it under, "
            "or dataset=NAME@VERSION to read a registered version."
        )
    path = Path(source)
    if not path.exists():
        raise InvalidInput(f"ingest: source {source!r} does not exist; give a CSV/Parquet file or folder.")
    yield _register(versions, dataset_name, path, by_reference=by_reference), path


def _hash_buckets(frame: pd.DataFrame, key: str, *, hash_key: str | None = None) -> np.ndarray:
    if key and key not in frame.columns:
        raise InvalidInput(
            f"ingest: split key column {key!r} is not in the data; "
            f"columns: {', '.join(map(str, frame.columns))}."
        )
    values = frame[key] if key else frame
    hashed = pd.util.hash_pandas_object(values, index=False, **({"hash_key": hash_key} if hash_key else {}))
    return np.asarray(hashed.to_numpy() % _BUCKETS)


def _is_eval(
    frame: pd.DataFrame,
    *,
    split: str,
    key: str,
    eval_percent: int,
    time_column: str,
    eval_since: float | None,
) -> np.ndarray:
    if split == "hash":
        if not 0 < eval_percent < 100:
            raise InvalidInput(f"ingest: eval_percent must be between 1 and 99. Got {eval_percent}.")
        return _hash_buckets(frame, key) < eval_percent * (_BUCKETS // 100)
    if not time_column or time_column not in frame.columns:
        raise InvalidInput(
            f"ingest: split='time' needs time_column, a column of the data; got {time_column!r}. "
            f"Columns: {', '.join(map(str, frame.columns))}."
        )
    if eval_since is None:
        raise InvalidInput(
            "ingest: split='time' needs eval_since: rows at or after it become the eval split."
        )
    return np.asarray(frame[time_column].to_numpy() >= eval_since)


def _subsample(train: pd.DataFrame, *, rows: int, stratify: str, key: str) -> pd.DataFrame:
    """A deterministic sample of ``rows`` rows, keeping the class shares of ``stratify``."""
    if rows <= 0 or len(train) <= rows:
        return train
    if stratify and stratify not in train.columns:
        raise InvalidInput(f"ingest: stratify column {stratify!r} is not in the data.")
    order = pd.Series(_hash_buckets(train, key, hash_key=_SAMPLE_KEY), index=train.index)
    fraction = rows / len(train)
    groups = train.groupby(stratify, sort=True).groups if stratify else {"all": train.index}
    keep: list[pd.Index] = []
    for index in groups.values():
        ranked = order.loc[index].sort_values(kind="mergesort")
        keep.append(ranked.index[: round(len(index) * fraction)])
    return train.loc[sorted(np.concatenate([k.to_numpy() for k in keep]))]


@component
def ingest(
    *,
    source: str = "",
    dataset_name: str = "",
    dataset: str = "",
    source_digest: str = "",
    by_reference: bool = False,
    split: Literal["hash", "time"] = "hash",
    key: str = "",
    eval_percent: int = 20,
    time_column: str = "",
    eval_since: float | None = None,
    max_train_rows: int = 0,
    stratify: str = "",
) -> Dataset:
    """Split a dataset version into train and eval examples: ``source`` (registered as a new version
    when its bytes are new) or the registered version ``dataset``.

    The split is deterministic: by a hash of the ``key`` column (or of the whole row), so a
    row stays on its side as data is added, or by time (rows with ``time_column >= eval_since``
    are evaluation rows). The version is recorded as this step's ``source`` input, so lineage
    reaches it from every downstream artifact (and its statistics are listed under the version).

    Args:
        source: A CSV or Parquet file, or a folder of them (hive partitions become columns).
        dataset_name: Name ``source`` is registered under.
        dataset: A registered version, ``NAME@VERSION``, to read instead of ``source``.
        source_digest: :func:`loopml.components.file_digest` of ``source``, so the cache sees new content.
        by_reference: Register the files in place (hash only) instead of copying them.
        split: ``"hash"`` or ``"time"``.
        key: Column hashed for the split (default: the whole row).
        eval_percent: Share of rows in the eval split (hash split).
        time_column: Column compared with ``eval_since`` (time split), e.g. ``year``.
        eval_since: First value of the eval span (time split).
        max_train_rows: Deterministic subsample of the train split (0 keeps every row).
        stratify: Column whose class shares the subsample keeps (usually the label).

    Returns:
        A folder with ``train.parquet`` and ``eval.parquet``; properties name the dataset version.
    """
    step = current_step()
    store = step.open_store()
    versions = DatasetVersions(store, step.blobs)
    opened = _input(
        versions, source=source, dataset_name=dataset_name, dataset=dataset, by_reference=by_reference
    )
    with opened as (version, local):
        store.lineage.add_events(step.execution_id, [(version.artifact_id, EventType.INPUT, "source")])
        frame = _read(local, version.file_format)
    where = source or dataset
    is_eval = _is_eval(
        frame, split=split, key=key, eval_percent=eval_percent, time_column=time_column, eval_since=eval_since
    )
    parts = {TRAIN: frame.loc[~is_eval], EVAL: frame.loc[is_eval]}
    full_train = len(parts[TRAIN])
    parts[TRAIN] = _subsample(parts[TRAIN], rows=max_train_rows, stratify=stratify, key=key)
    out = scratch_dir("examples")
    for name in SPLITS:
        if parts[name].empty:
            raise InvalidInput(f"ingest: the {name} split of {where!r} is empty; adjust the split settings.")
        parts[name].reset_index(drop=True).to_parquet(split_path(out, name), index=False)
    return Dataset.from_path(
        out,
        properties={
            "dataset": version.name,
            "dataset_version": version.version,
            "dataset_artifact_id": version.artifact_id,
            "splits": list(SPLITS),
            "rows": {name: len(parts[name]) for name in SPLITS},
            "columns": [str(c) for c in frame.columns],
            "split": split,
            "train_rows_before_sampling": full_train,
        },
    )
