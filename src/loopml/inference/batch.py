"""Batch scoring of Arrow record batches with a served model: validate, predict, post-process.

The same :class:`~loopml.inference.model.ServedModel` and input builders as online serving; what
batch adds is row-level rejection. A record batch is validated and predicted as a whole (the fast
path); when the model or the checks refuse it, it is split in halves until the refused rows stand
alone, so a bad row costs ``O(log n)`` extra calls and every rejected row comes out with its reason.
"""

from __future__ import annotations

import collections
import dataclasses
import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from loopml.errors import InvalidInput
from loopml.inference.atypical import AtypicalCheck, AtypicalInput, AtypicalPolicy, AtypicalScorer
from loopml.inference.columnar import arrow_input
from loopml.inference.inputs import ModelInput
from loopml.inference.model import ServedModel
from loopml.inference.outputs import PREDICT, PROBABILITIES, TOP_K_LABELS, TOP_K_SCORES
from loopml.inference.restoration import InputRestoration, InputRestorer
from loopml.inference.schema import ColumnKind

__all__ = [
    "ATYPICAL_COLUMN",
    "ATYPICAL_REASONS_COLUMN",
    "LABEL_COLUMN",
    "OUTPUTS",
    "BatchScorer",
    "ScoredBatch",
    "check_input_schema",
]

LABEL_COLUMN = "prediction"
"""The predicted label (or value) column of the output."""
ATYPICAL_COLUMN = "atypical"
"""True for rows the atypical-input scorer flags (policy ``flag`` only)."""
ATYPICAL_REASONS_COLUMN = "atypical_reasons"
"""Why a flagged row is atypical (``out_of_range:age, distance``); empty for typical rows."""
OUTPUTS = ("label", "scores")
"""Prediction outputs a caller may ask for: the label and the class scores."""


def _fits(kind: ColumnKind, arrow_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_null(arrow_type):
        return True
    if kind in (ColumnKind.FLOAT, ColumnKind.INT):
        return bool(pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type))
    if kind is ColumnKind.BOOL:
        return bool(pa.types.is_boolean(arrow_type))
    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))


def check_input_schema(model: ServedModel, schema: pa.Schema, *, where: str) -> None:
    """Refuse input whose columns cannot feed the model (before any row is read).

    Raises:
        InvalidInput: a signature column is missing or of an incompatible type, naming it.
    """
    names = set(schema.names)
    missing = [c.name for c in model.schema.columns if c.name not in names]
    if missing:
        raise InvalidInput(
            f"{where} lacks the model input column(s) {missing}; the model takes {list(model.schema.names)} "
            f"and the input has {schema.names}."
        )
    for col in model.schema.columns:
        arrow_type = schema.field(col.name).type
        if not _fits(col.kind, arrow_type):
            raise InvalidInput(
                f"{where}: column {col.name!r} is {arrow_type}, but the model's signature takes "
                f"{col.arrow_type}; convert the column or score with the model it was prepared for."
            )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ScoredBatch:
    """One scored record batch.

    Attributes:
        table: The kept input columns and the prediction columns of the accepted rows, in order.
        rejected: One row per refused input row: ``row`` (its index in the partition), ``reason``
            and ``values`` (the row as JSON).
        atypical_rows: Scored rows the atypical-input scorer found atypical (any policy).
        atypical: Reason kind (``out_of_range`` ...) → scored rows with it.
        restored: Repair (``clipped:COL``, ``fallback:COL``) → values it changed.
    """

    table: pa.Table
    rejected: pa.Table
    atypical_rows: int = 0
    atypical: dict[str, int] = dataclasses.field(default_factory=dict)
    restored: dict[str, int] = dataclasses.field(default_factory=dict)


REJECTED_SCHEMA = pa.schema([("row", pa.int64()), ("reason", pa.string()), ("values", pa.string())])


class _Tally:
    """What scoring the parts of one batch counted."""

    __slots__ = ("atypical", "atypical_rows", "restored")

    def __init__(self) -> None:
        self.atypical_rows = 0
        self.atypical: collections.Counter[str] = collections.Counter()
        self.restored: collections.Counter[str] = collections.Counter()


class BatchScorer:
    """Scores record batches with one model.

    Args:
        model: The verified model.
        keep: Input columns copied beside the predictions (default: every input column).
        outputs: Which predictions to write: ``label``, ``scores`` (default both).
        atypical: Atypical-input scoring against the package's training statistics, as in
            serving: ``log`` counts atypical rows, ``flag`` also adds the ``atypical`` and
            ``atypical_reasons`` columns, ``reject`` sets those rows aside with their reasons.
        restoration: Input restoration (clip to the training range, unseen categories to a
            fallback), applied after validation and atypical scoring, before prediction.

    Raises:
        InvalidInput: an unknown output, or a restoration the package's statistics cannot support.
    """

    def __init__(
        self,
        model: ServedModel,
        *,
        keep: Sequence[str] | None = None,
        outputs: Sequence[str] = OUTPUTS,
        atypical: AtypicalCheck | None = None,
        restoration: InputRestoration | None = None,
    ) -> None:
        unknown = sorted(set(outputs) - set(OUTPUTS))
        if unknown or not outputs:
            raise InvalidInput(
                f"Unknown prediction output(s) {unknown or '[]'}; choose from {list(OUTPUTS)}."
            )
        self.model = model
        self.keep = tuple(keep) if keep is not None else None
        self.outputs = tuple(outputs)
        self.atypical = atypical
        stats = model.predictor.training_stats
        self._atypical = (
            AtypicalScorer(model.schema, stats, max_distance=atypical.max_distance) if atypical else None
        )
        self._restorer = (
            InputRestorer(model.schema, stats, restoration)
            if restoration is not None and restoration.is_active
            else None
        )

    def kept(self, schema: pa.Schema) -> list[str]:
        """The input columns copied to the output (by default, all but those named as predictions).

        Raises:
            InvalidInput: ``keep`` names a column the input lacks, or one a prediction column takes.
        """
        taken = self._prediction_names()
        if self.keep is None:
            return [n for n in schema.names if n not in taken]
        missing = [n for n in self.keep if n not in schema.names]
        if missing:
            raise InvalidInput(f"--keep names column(s) {missing} the input lacks; it has {schema.names}.")
        clashing = [n for n in self.keep if n in taken]
        if clashing:
            raise InvalidInput(
                f"--keep names column(s) {clashing}, which the prediction columns take; rename them in the "
                "input or leave them out of --keep."
            )
        return list(self.keep)

    def _prediction_names(self) -> frozenset[str]:
        """Every column name scoring may add (an input scored before carries them too)."""
        classes = self.model.classes if self.model.classes is not None else ()
        return _RESERVED | {f"score_{c}" for c in classes} | {TOP_K_LABELS, TOP_K_SCORES}

    def read_columns(self, schema: pa.Schema) -> list[str]:
        """The input columns scoring reads (the signature's and the kept ones)."""
        wanted = [*self.model.schema.names, *self.kept(schema)]
        return list(dict.fromkeys(wanted))

    def _rows(self, table: pa.Table) -> ModelInput:
        return arrow_input(self.model.schema, table, as_matrix=self.model.accepts_matrix)

    def _guarded(self, rows: ModelInput, tally: _Tally) -> tuple[ModelInput, dict[str, pa.Array]]:
        """Atypical scoring and restoration: the rows to predict and the flag columns."""
        flags: dict[str, pa.Array] = {}
        if self._atypical is not None and self.atypical is not None:
            report = self._atypical.score(rows)
            if report.is_atypical and self.atypical.policy is AtypicalPolicy.REJECT:
                raise AtypicalInput(f"atypical input (policy reject): {'; '.join(report.flags()[:3])}")
            if self.atypical.policy is AtypicalPolicy.FLAG:
                flags[ATYPICAL_COLUMN] = pa.array([bool(r) for r in report.reasons], type=pa.bool_())
                flags[ATYPICAL_REASONS_COLUMN] = pa.array([", ".join(r) for r in report.reasons], pa.string())
            tally.atypical_rows += len(report.atypical_rows)
            tally.atypical.update(report.reason_counts())
        if self._restorer is not None:
            rows, repaired = self._restorer.restore(rows)
            tally.restored.update(repaired)
        return rows, flags

    def _predict(self, table: pa.Table, tally: _Tally) -> dict[str, pa.Array]:
        part = _Tally()
        rows, flags = self._guarded(self._rows(table), part)
        outputs = self.model.postprocess(self.model.predict(rows))
        tally.atypical_rows += part.atypical_rows
        tally.atypical.update(part.atypical)
        tally.restored.update(part.restored)
        return self._columns(outputs) | flags

    def _columns(self, outputs: dict[str, np.ndarray]) -> dict[str, pa.Array]:
        result: dict[str, pa.Array] = {}
        if "label" in self.outputs:
            result[LABEL_COLUMN] = pa.array(outputs[PREDICT])
        if "scores" in self.outputs:
            proba = outputs.get(PROBABILITIES)
            if proba is not None:
                classes = self.model.classes if self.model.classes is not None else range(proba.shape[1])
                for i, cls in enumerate(classes):
                    result[f"score_{cls}"] = pa.array(proba[:, i])
            if TOP_K_LABELS in outputs:
                result[TOP_K_LABELS] = pa.array(list(outputs[TOP_K_LABELS]))
                result[TOP_K_SCORES] = pa.array(list(outputs[TOP_K_SCORES]))
        return result

    def _split(
        self,
        table: pa.Table,
        offset: int,
        good: list[tuple[pa.Table, dict[str, pa.Array]]],
        bad: list[dict[str, object]],
        tally: _Tally,
    ) -> None:
        try:
            good.append((table, self._predict(table, tally)))
        except InvalidInput as err:
            if table.num_rows == 1:
                values = json.dumps(table.to_pylist()[0], default=str, allow_nan=True)
                bad.append({"row": offset, "reason": str(err), "values": values})
                return
            mid = table.num_rows // 2
            self._split(table.slice(0, mid), offset, good, bad, tally)
            self._split(table.slice(mid), offset + mid, good, bad, tally)

    def score(self, batch: pa.RecordBatch | pa.Table, *, offset: int = 0) -> ScoredBatch:
        """Score one batch; ``offset`` is the index of its first row in the partition.

        Raises:
            InvalidInput: the batch's columns do not fit the signature (column named).
        """
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        check_input_schema(self.model, table.schema, where="The input")
        kept = self.kept(table.schema)
        good: list[tuple[pa.Table, dict[str, pa.Array]]] = []
        bad: list[dict[str, object]] = []
        tally = _Tally()
        if table.num_rows:
            self._split(table, offset, good, bad, tally)
        parts = []
        for part, predictions in good:
            arrays = [part.column(n) for n in kept] + list(predictions.values())
            parts.append(pa.table(arrays, names=[*kept, *predictions]))
        scored = pa.concat_tables(parts) if parts else self._empty(table.select(kept))
        return ScoredBatch(
            table=scored,
            rejected=pa.Table.from_pylist(bad, schema=REJECTED_SCHEMA),
            atypical_rows=tally.atypical_rows,
            atypical=dict(tally.atypical),
            restored=dict(tally.restored),
        )

    def _empty(self, kept: pa.Table) -> pa.Table:
        return kept.slice(0, 0)


_RESERVED = frozenset({LABEL_COLUMN, ATYPICAL_COLUMN, ATYPICAL_REASONS_COLUMN})
