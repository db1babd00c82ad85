"""Reading and writing data-validation outputs: statistics JSON, anomalies JSON, HTML (atomic writes)."""

from __future__ import annotations

import os
from pathlib import Path

from loopml.atomic_write import write_text_atomic
from loopml.data.statistics import DatasetStatistics
from loopml.data.validation import ValidationResult
from loopml.errors import InvalidInput

__all__ = ["read_statistics", "write_anomalies", "write_statistics", "write_text"]


def read_statistics(path: str | os.PathLike[str]) -> DatasetStatistics:
    """Load statistics JSON written by :func:`write_statistics` / ``loopml data stats``.

    Raises:
        InvalidInput: the file is missing, unreadable or not statistics JSON.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(
            f"Cannot read statistics {str(p)!r}: {err}. Create it with `loopml data stats`."
        ) from err
    return DatasetStatistics.from_json(text, source=str(p))


def write_statistics(stats: DatasetStatistics, path: str | os.PathLike[str]) -> Path:
    """Write statistics JSON atomically."""
    return write_text_atomic(Path(path), stats.to_json())


def write_anomalies(result: ValidationResult, path: str | os.PathLike[str]) -> Path:
    """Write the validation result JSON atomically."""
    return write_text_atomic(Path(path), result.to_json())


def write_text(text: str, path: str | os.PathLike[str]) -> Path:
    """Write any text output (HTML report, SVG) atomically."""
    return write_text_atomic(Path(path), text)
