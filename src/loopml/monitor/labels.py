"""The label join: feedback labels attached to the rows of one window of the prediction log.

A row takes, in this order, the label for its request id and row, the label for its whole request
(``row`` -1), or the label for its key feature's value (with a key field). The join reads only
stored labels and the window's rows, so recomputing a window gives the same result whatever the
order, repetition or lateness of the labels: lateness only decides *when* a window sees them.

Example:
    >>> import pyarrow as pa
    >>> from loopml.store.sql import open_store
    >>> from loopml.monitor.feedback import Feedback, FeedbackService
    >>> store = open_store("sqlite://")
    >>> _ = FeedbackService(store.feedback).add("m", [Feedback(key="r1", label="yes")])
    >>> rows = pa.table({"request_id": ["r1", "r1", "r2"], "row": pa.array([0, 1, 0], pa.int32())})
    >>> joined = join_labels(rows, store.feedback, "m")
    >>> joined.values.to_pylist(), joined.labels_used
    (['yes', 'yes', None], 1)
    >>> store.close()
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopml.monitor.predictions import INPUT_PREFIX
from loopml.store.entities import StoredLabel
from loopml.store.repositories import FeedbackRepository

__all__ = ["JoinedLabels", "join_labels"]

_SEP = "\x1f"


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinedLabels:
    """Labels aligned with a window's rows (null where none), and how many stored labels were used."""

    values: pa.Array
    labels_used: int

    @property
    def labelled(self) -> int:
        return len(self.values) - int(self.values.null_count)


def _values(labels: list[StoredLabel]) -> pa.Array:
    raw = [lab.value for lab in labels]
    if all(isinstance(v, str) for v in raw):
        return pa.array(raw, pa.string())
    if all(isinstance(v, bool) for v in raw):
        return pa.array(raw, pa.bool_())
    if all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
        return pa.array(raw, pa.int64())
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
        return pa.array([float(v) for v in raw], pa.float64())
    return pa.array([str(v) for v in raw], pa.string())


def _fetch(repository: FeedbackRepository, model: str, key_field: str, keys: pa.Array) -> list[StoredLabel]:
    """Labels for ``keys``: all of the model's in one query when there are fewer than keys."""
    count, _ = repository.state(model)
    if count == 0:
        return []
    unique = pc.unique(keys.drop_null())
    if count <= len(unique):
        return repository.list(model, key_field=key_field)
    return repository.find(model, key_field=key_field, keys=unique.to_pylist())


def join_labels(
    table: pa.Table, repository: FeedbackRepository, model: str, *, key_field: str | None = None
) -> JoinedLabels:
    """The label of each row of ``table`` (``request_id``, ``row`` and, with ``key_field``, its input)."""
    n = table.num_rows
    if n == 0:
        return JoinedLabels(values=pa.nulls(0), labels_used=0)
    ids = table["request_id"].combine_chunks()
    by_id = _fetch(repository, model, "", ids)
    by_key: list[StoredLabel] = []
    key_column = f"{INPUT_PREFIX}{key_field}" if key_field else None
    if key_column is not None and key_column in table.column_names:
        keys = table[key_column].combine_chunks().cast(pa.string())
        by_key = [lab for lab in _fetch(repository, model, key_field or "", keys) if lab.row == -1]
    stored = [*by_id, *by_key]
    if not stored:
        return JoinedLabels(values=pa.nulls(n), labels_used=0)
    values = _values(stored)
    index = pa.nulls(n, pa.int32())
    if by_id:
        # only rows whose request has a label need the (request, row) lookup
        labelled_ids = pa.array(sorted({lab.key for lab in by_id}), pa.string())
        rows = pc.indices_nonzero(pc.is_in(ids, value_set=labelled_ids))
        if len(rows):
            some_ids = ids.take(rows)
            row_keys = pc.binary_join_element_wise(
                some_ids, table["row"].combine_chunks().take(rows).cast(pa.string()), _SEP
            )
            whole_keys = pc.binary_join_element_wise(some_ids, pa.scalar("*"), _SEP)
            label_keys = pa.array(
                [f"{lab.key}{_SEP}{lab.row}" if lab.row >= 0 else f"{lab.key}{_SEP}*" for lab in by_id],
                pa.string(),
            )
            found = pc.coalesce(
                pc.index_in(row_keys, value_set=label_keys), pc.index_in(whole_keys, value_set=label_keys)
            )
            scattered = np.full(n, -1, dtype=np.int64)
            scattered[rows.to_numpy()] = found.fill_null(-1).to_numpy(zero_copy_only=False)
            index = pa.array(scattered, mask=scattered < 0).cast(pa.int32())
    if by_key:
        keyed = pc.index_in(keys, value_set=pa.array([lab.key for lab in by_key], pa.string()))
        index = pc.coalesce(index, pc.add(keyed, pa.scalar(len(by_id), pa.int32())))
    used = len(pc.unique(index.drop_null()))
    return JoinedLabels(values=values.take(index), labels_used=used)
