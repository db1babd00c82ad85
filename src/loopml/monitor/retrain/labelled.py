"""The labelled rows a candidate is judged on: what the model was asked in a span, with the labels
that arrived for it through feedback (rows without a label are left out)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from loopml.monitor.labels import join_labels
from loopml.monitor.log_window import read_window
from loopml.monitor.predictions import INPUT_PREFIX
from loopml.monitor.retrain.records import Span
from loopml.store.repositories import FeedbackRepository

__all__ = ["labelled_log_rows"]


def labelled_log_rows(
    root: Path | str,
    feedback: FeedbackRepository,
    *,
    model_of: Callable[[str], str],
    label: str = "label",
    key_field: str | None = None,
) -> Callable[[str, Span], pd.DataFrame]:
    """A data source for :class:`~loopml.monitor.retrain.ChampionChallengerEvaluator`.

    Args:
        root: The prediction log.
        feedback: Where labels are stored.
        model_of: The model whose log a deployment's rows are in.
        label: The name of the label column in the frame.
        key_field: Also join labels keyed by this input feature.

    Returns:
        ``(deployment, span) -> frame`` of the model's inputs (columns named as the model takes
        them) and ``label``, one row per labelled logged row.
    """

    def rows(deployment: str, span: Span) -> pd.DataFrame:
        model = model_of(deployment)
        table = read_window(root, model, span.start, span.end).table()
        if table.num_rows == 0:
            return pd.DataFrame()
        joined = join_labels(table, feedback, model, key_field=key_field)
        keep = pc.is_valid(joined.values)
        inputs = [c for c in table.column_names if c.startswith(INPUT_PREFIX)]
        frame = pa.table({**{c[len(INPUT_PREFIX) :]: table[c] for c in inputs}, label: joined.values}).filter(
            keep
        )
        return frame.to_pandas()

    return rows
