"""Feedback: ground-truth labels for logged predictions, stored for a lateness-aware join.

A label names the predictions it is the truth for by **request id** (every prediction in the
log carries one; ``row`` picks one row of a multi-row request, or all rows when omitted) or by
a **key**: the value of an input feature (``key_field``, e.g. a customer id) of the logged rows.
Labels may arrive long after the predictions, out of order, more than once, or for ids the log
does not hold yet: they are all kept, and every monitoring window they belong to picks them up
when it is (re)computed. Of two labels for the same key, the one observed later wins (ties: the
larger value), so the stored truth does not depend on the order they arrived in.

A label must have the type of the model's predictions as logged (``out.predict``): a string
class, an integer class, a boolean or a number (regressors); anything else is refused as a whole
batch with the offending entries named.

Example:
    >>> from loopml.store.sql import open_store
    >>> store = open_store("sqlite://")
    >>> service = FeedbackService(store.feedback)
    >>> service.add("churn", [Feedback(key="req-1", label="yes"), Feedback(key="req-2", label="no")])
    FeedbackResult(received=2, inserted=2, replaced=0, unchanged=0)
    >>> service.add("churn", [Feedback(key="req-1", label="yes")]).unchanged
    1
    >>> store.close()
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from loopml.errors import InvalidInput
from loopml.monitor.predictions import OUTPUT_PREFIX
from loopml.store.entities import StoredLabel
from loopml.store.repositories import FeedbackRepository

__all__ = [
    "PREDICTION_COLUMN",
    "Feedback",
    "FeedbackResult",
    "FeedbackService",
    "LabelType",
    "label_type_of_log",
    "parse_feedback_document",
    "read_feedback_csv",
]

PREDICTION_COLUMN = f"{OUTPUT_PREFIX}predict"
"""The logged output that labels are compared with."""
_MAX_KEY = 250
_MAX_LISTED = 5


class LabelType(enum.StrEnum):
    """The type a model's labels must have (that of its logged predictions)."""

    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    NUMBER = "number"


@dataclass(frozen=True, slots=True, kw_only=True)
class Feedback:
    """One label.

    Attributes:
        key: The request id (or, with a key field, the key feature's value).
        label: The true class or value.
        row: The row within the request; None labels every row of it.
        observed_at: When the truth was observed (default: when it is received).
    """

    key: str
    label: str | int | float | bool
    row: int | None = None
    observed_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackResult:
    """What adding labels did: received, newly stored, replacing a stored one, already known."""

    received: int
    inserted: int
    replaced: int
    unchanged: int


def label_type_of_log(root: Path | str | None, model: str) -> LabelType | None:
    """The label type the newest log file of ``model`` implies; None without a log (or prediction)."""
    import pyarrow.parquet as pq  # Parquet: with the first label, not when a server starts

    if root is None:
        return None
    files = sorted(Path(root).glob(f"model={model}/hour=*/part-*.parquet"))
    for path in reversed(files):
        try:
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowException):
            continue  # a corrupt partition: try an older one
        if PREDICTION_COLUMN not in schema.names:
            return None
        t = schema.field(PREDICTION_COLUMN).type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_boolean(t):
            return LabelType.BOOLEAN
        if pa.types.is_integer(t):
            return LabelType.INTEGER
        if pa.types.is_floating(t):
            return LabelType.NUMBER
        return LabelType.STRING
    return None


def _coerce(value: object, kind: LabelType | None) -> str | int | float | bool | None:
    """``value`` as a label of ``kind`` (CSV strings are parsed), or None when it cannot be one."""
    if value is None or isinstance(value, (list, dict, tuple)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if kind is None:
        return value if isinstance(value, (str, int, float, bool)) else None
    if kind is LabelType.STRING:
        if isinstance(value, (bool, float)):
            return None
        return str(value) if isinstance(value, (str, int)) else None
    if kind is LabelType.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        return {"true": True, "1": True, "false": False, "0": False}.get(text)
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value) if kind is LabelType.NUMBER else int(value.strip())
        except ValueError:
            return None
    if kind is LabelType.INTEGER:
        if isinstance(value, float):
            return int(value) if value.is_integer() else None
        return value if isinstance(value, int) else None
    number = float(value) if isinstance(value, (int, float)) else math.nan
    return number if math.isfinite(number) else None


def _ms(when: dt.datetime | None, default: int) -> int:
    if when is None:
        return default
    if when.tzinfo is None:
        raise InvalidInput(
            f"A label's observed_at must carry a time zone (e.g. UTC); got {when.isoformat()}."
        )
    return int(when.timestamp() * 1000)


class FeedbackService:
    """Adds ground-truth labels for one store, checked against the prediction log's types.

    Args:
        repository: Where labels are kept (``store.feedback``).
        log_root: The prediction log, which tells the type labels must have; None accepts any
            string or finite number, as long as one batch does not mix types.
    """

    def __init__(self, repository: FeedbackRepository, *, log_root: Path | str | None = None) -> None:
        self._repository = repository
        self._log_root = log_root

    @property
    def repository(self) -> FeedbackRepository:
        return self._repository

    def add(
        self,
        model: str,
        labels: Sequence[Feedback],
        *,
        key_field: str | None = None,
        now: dt.datetime | None = None,
    ) -> FeedbackResult:
        """Store ``labels`` for ``model``'s predictions (all or none).

        Args:
            model: The registered model whose logged predictions they label.
            labels: The labels.
            key_field: The input feature their keys are values of; None: keys are request ids.
            now: The receiving time (default: now), the ``observed_at`` of labels without one.

        Raises:
            InvalidInput: an empty model name or key, a bad row, or a label of the wrong type
                (the first few offending entries are named).
        """
        if not model or "/" in model:
            raise InvalidInput(f"Feedback needs a model name without '/'; got {model!r}.")
        if key_field is not None and not key_field:
            raise InvalidInput("The feedback key field must be an input feature's name; got ''.")
        received = int((now or dt.datetime.now(dt.UTC)).timestamp() * 1000)
        kind = label_type_of_log(self._log_root, model)
        stored: list[StoredLabel] = []
        bad: list[str] = []
        for i, item in enumerate(labels):
            value = _coerce(item.label, kind)
            if kind is None and value is not None and stored and type(value) is not type(stored[0].value):
                value = None
            problem = (
                "an empty or too long key"
                if not item.key or len(item.key) > _MAX_KEY
                else "a negative row"
                if item.row is not None and item.row < 0
                else None
                if value is not None
                else f"label {item.label!r}"
            )
            if problem is not None:
                bad.append(f"#{i + 1} ({item.key!r}): {problem}")
                continue
            assert value is not None
            stored.append(
                StoredLabel(
                    model=model,
                    key_field=key_field or "",
                    key=item.key,
                    row=-1 if item.row is None else item.row,
                    value=value,
                    observed_at=_ms(item.observed_at, received),
                )
            )
        if bad:
            expected = (
                f"a {kind.value} like the model's logged predictions"
                if kind is not None
                else "a string or a finite number, the same type for every label"
            )
            more = f" and {len(bad) - _MAX_LISTED} more" if len(bad) > _MAX_LISTED else ""
            raise InvalidInput(
                f"Refused {len(bad)} of {len(labels)} feedback labels for model {model!r} "
                f"(nothing stored): {'; '.join(bad[:_MAX_LISTED])}{more}. Each label must be {expected}, "
                "with a non-empty key (request id) of at most 250 characters and a row >= 0 when given."
            )
        written = self._repository.upsert(stored)
        return FeedbackResult(
            received=len(labels),
            inserted=written.inserted,
            replaced=written.replaced,
            unchanged=written.unchanged,
        )

    def counts(self, model: str) -> tuple[int, int]:
        """How many labels ``model`` has, and when one last changed (ms; 0 when none)."""
        return self._repository.state(model)


def read_feedback_csv(
    text: str, *, key_column: str = "request_id", label_column: str = "label"
) -> list[Feedback]:
    """Labels from CSV text with a key column, a label column and optional ``row`` / ``observed_at``.

    Raises:
        InvalidInput: a missing column, or a bad ``row`` / ``observed_at`` (line named).
    """
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    missing = [c for c in (key_column, label_column) if c not in columns]
    if missing:
        raise InvalidInput(
            f"The feedback CSV lacks column(s) {missing}; it has {columns}. Give a header with "
            f"'{key_column}' and '{label_column}' (optional: 'row', 'observed_at' as ISO 8601)."
        )
    return list(_rows(reader, key_column, label_column))


def _rows(reader: Iterable[dict[str, str]], key_column: str, label_column: str) -> Iterable[Feedback]:
    for line, record in enumerate(reader, start=2):
        row_text = (record.get("row") or "").strip()
        when_text = (record.get("observed_at") or "").strip()
        try:
            row = int(row_text) if row_text else None
            when = dt.datetime.fromisoformat(when_text) if when_text else None
        except ValueError as err:
            raise InvalidInput(f"Feedback CSV line {line}: bad row or observed_at ({err}).") from err
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        yield Feedback(key=record[key_column] or "", label=record[label_column], row=row, observed_at=when)


_ENTRY_KEYS = frozenset({"request_id", "key", "label", "row", "observed_at"})


def _entry(doc: Any, where: str, key_name: str) -> Feedback:
    if not isinstance(doc, Mapping):
        raise InvalidInput(
            f"{where} must be an object with {key_name!r} and 'label'; got {type(doc).__name__}."
        )
    unknown = sorted(set(doc) - _ENTRY_KEYS)
    if unknown:
        raise InvalidInput(f"{where} has unknown field(s) {unknown}; use {sorted(_ENTRY_KEYS)}.")
    key, label, row, when = doc.get(key_name), doc.get("label"), doc.get("row"), doc.get("observed_at")
    if not isinstance(key, str):
        raise InvalidInput(f"{where} needs {key_name!r} as a string; got {key!r}.")
    if not isinstance(label, (str, int, float, bool)):
        raise InvalidInput(f"{where} needs a 'label' (a string, number or boolean); got {label!r}.")
    if row is not None and (not isinstance(row, int) or isinstance(row, bool)):
        raise InvalidInput(f"{where}: 'row' must be an integer >= 0; got {row!r}.")
    try:
        observed = None if when is None else dt.datetime.fromisoformat(str(when))
    except ValueError as err:
        raise InvalidInput(
            f"{where}: 'observed_at' must be ISO 8601 (2026-03-01T10:00:00Z); got {when!r}."
        ) from err
    if observed is not None and observed.tzinfo is None:
        observed = observed.replace(tzinfo=dt.UTC)
    return Feedback(key=key, label=label, row=row, observed_at=observed)


def parse_feedback_document(doc: Any) -> tuple[str | None, list[Feedback]]:
    """The key field and labels of a feedback request body.

    One label: ``{"request_id": "...", "label": ..., "row": 0, "observed_at": "..."}``; many:
    ``{"labels": [...]}``; by a key feature: ``{"key_field": "customer", "labels": [{"key": ...,
    "label": ...}]}`` (or ``"key"`` in a single label).

    Raises:
        InvalidInput: a malformed body, naming the entry and field.

    Example:
        >>> parse_feedback_document({"request_id": "r1", "label": 1})
        (None, [Feedback(key='r1', label=1, row=None, observed_at=None)])
    """
    if not isinstance(doc, Mapping):
        raise InvalidInput(
            "A feedback body must be a JSON object with 'request_id' and 'label', or 'labels'."
        )
    key_field = doc.get("key_field")
    if key_field is not None and (not isinstance(key_field, str) or not key_field):
        raise InvalidInput(f"'key_field' must name an input feature; got {key_field!r}.")
    key_name = "key" if key_field else "request_id"
    if "labels" in doc:
        entries = doc["labels"]
        if not isinstance(entries, list) or not entries:
            raise InvalidInput(
                "'labels' must be a non-empty list of {" + repr(key_name) + ": ..., 'label': ...}."
            )
        return key_field, [_entry(e, f"labels[{i}]", key_name) for i, e in enumerate(entries)]
    single = {k: v for k, v in doc.items() if k != "key_field"}
    return key_field, [_entry(single, "The feedback body", key_name)]
