"""How split examples are laid out: one Parquet file per split inside a Dataset folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from loopml.errors import InvalidInput
from loopml.pipeline import Dataset

__all__ = ["EVAL", "SPLITS", "TRAIN", "read_split", "split_path"]

TRAIN = "train"
EVAL = "eval"
SPLITS = (TRAIN, EVAL)


def split_path(folder: Path, split: str) -> Path:
    """The Parquet file of ``split`` inside an examples folder."""
    return folder / f"{split}.parquet"


def read_split(examples: Dataset, split: str, *, columns: list[str] | None = None) -> pd.DataFrame:
    """Read one split of an examples artifact made by :func:`loopml.components.ingest`.

    Raises:
        InvalidInput: the artifact has no such split.
    """
    path = split_path(examples.local_path(), split)
    if not path.is_file():
        known = ", ".join(examples.properties.get("splits", [])) or "none"
        raise InvalidInput(
            f"Examples {examples.artifact_id} have no split {split!r} (splits: {known}); "
            "pass examples made by the ingest component."
        )
    return pd.read_parquet(path, columns=columns)
