"""Evaluation results as plain values with a JSON round trip: per-slice metrics, curves, verdict."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopml.analysis._outcomes import TaskKind
from loopml.analysis.blessing import Blessing
from loopml.analysis.bootstrap import BootstrapConfig
from loopml.analysis.fairness import FairnessGap
from loopml.analysis.slicing import OVERALL
from loopml.atomic_write import write_text_atomic
from loopml.errors import InvalidInput, NotFound

__all__ = ["Curve", "Curves", "EvaluationResult", "MetricValue", "SliceResult"]

FORMAT_VERSION = 1


def _num(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) else v


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricValue:
    """One metric on one slice: the value (``None`` with a ``reason`` when undefined) and its CI."""

    value: float | None
    lower: float | None = None
    upper: float | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "lower": self.lower, "upper": self.upper, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricValue:
        return cls(
            value=_num(data.get("value")),
            lower=_num(data.get("lower")),
            upper=_num(data.get("upper")),
            reason=data.get("reason"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SliceResult:
    """Metrics on one slice. A slice below the minimum size has no metrics and a ``note``."""

    key: str
    spec: str
    conditions: tuple[tuple[str, str], ...] = ()
    count: int
    metrics: Mapping[str, MetricValue] = field(default_factory=dict)
    baseline: Mapping[str, float | None] = field(default_factory=dict)
    confusion_matrix: tuple[tuple[int, ...], ...] | None = None
    note: str | None = None

    @property
    def is_evaluated(self) -> bool:
        return self.note is None

    def value(self, metric: str) -> float | None:
        """The metric's value, ``None`` when not computed or undefined."""
        m = self.metrics.get(metric)
        return None if m is None else m.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "spec": self.spec,
            "conditions": [list(c) for c in self.conditions],
            "count": self.count,
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
            "baseline": dict(self.baseline),
            "confusion_matrix": None
            if self.confusion_matrix is None
            else [list(r) for r in self.confusion_matrix],
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SliceResult:
        cm = data.get("confusion_matrix")
        return cls(
            key=data["key"],
            spec=data["spec"],
            conditions=tuple((str(a), str(b)) for a, b in data.get("conditions", [])),
            count=int(data["count"]),
            metrics={k: MetricValue.from_dict(v) for k, v in data.get("metrics", {}).items()},
            baseline={k: _num(v) for k, v in data.get("baseline", {}).items()},
            confusion_matrix=None if cm is None else tuple(tuple(int(x) for x in r) for r in cm),
            note=data.get("note"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Curve:
    """Points of a curve; ``counts`` holds examples per point where that matters (calibration bins)."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    counts: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "x": list(self.x),
            "y": list(self.y),
            "counts": None if self.counts is None else list(self.counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Curve:
        counts = data.get("counts")
        return cls(
            x=tuple(float(v) for v in data["x"]),
            y=tuple(float(v) for v in data["y"]),
            counts=None if counts is None else tuple(int(c) for c in counts),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Curves:
    """Overall ROC (x=FPR, y=TPR), PR (x=recall, y=precision) and calibration (x=mean score, y=observed)."""

    roc: Curve | None = None
    pr: Curve | None = None
    calibration: Curve | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: None if c is None else c.to_dict() for k, c in self._items()}

    def _items(self) -> list[tuple[str, Curve | None]]:
        return [("roc", self.roc), ("pr", self.pr), ("calibration", self.calibration)]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Curves:
        def get(name: str) -> Curve | None:
            v = data.get(name)
            return None if v is None else Curve.from_dict(v)

        return cls(roc=get("roc"), pr=get("pr"), calibration=get("calibration"))


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluationResult:
    """Sliced metrics of one model on one data set, with the gate's verdict when thresholds were given."""

    task: TaskKind
    classes: tuple[Any, ...] = ()
    metrics: tuple[str, ...]
    slices: tuple[SliceResult, ...]
    slice_specs: tuple[str, ...] = ()
    min_slice_size: int
    bootstrap: BootstrapConfig | None = None
    curves: Curves | None = None
    blessing: Blessing | None = None
    fairness: tuple[FairnessGap, ...] = ()
    has_baseline: bool = False
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def overall(self) -> SliceResult:
        return self.get_slice(OVERALL)

    def get_slice(self, key: str) -> SliceResult:
        """The slice with ``key`` (e.g. ``"SEX=2"``).

        Raises:
            NotFound: no such slice; the message lists a few existing keys.
        """
        for s in self.slices:
            if s.key == key:
                return s
        some = ", ".join(s.key for s in self.slices[:8])
        raise NotFound(f"No slice {key!r} in this evaluation; slices include: {some}.")

    def find_slice(self, key: str) -> SliceResult | None:
        """The slice with ``key``, or ``None``."""
        return next((s for s in self.slices if s.key == key), None)

    @property
    def small_slices(self) -> tuple[SliceResult, ...]:
        return tuple(s for s in self.slices if not s.is_evaluated)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "task": self.task.value,
            "classes": list(self.classes),
            "metrics": list(self.metrics),
            "slice_specs": list(self.slice_specs),
            "min_slice_size": self.min_slice_size,
            "bootstrap": None if self.bootstrap is None else self.bootstrap.to_dict(),
            "has_baseline": self.has_baseline,
            "properties": dict(self.properties),
            "slices": [s.to_dict() for s in self.slices],
            "curves": None if self.curves is None else self.curves.to_dict(),
            "blessing": None if self.blessing is None else self.blessing.to_dict(),
            "fairness": [g.to_dict() for g in self.fairness],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationResult:
        """Rebuild a result from :meth:`to_dict` output.

        Raises:
            InvalidInput: the mapping is not an evaluation result.
        """
        try:
            boot, curves, blessing = data.get("bootstrap"), data.get("curves"), data.get("blessing")
            return cls(
                task=TaskKind(data["task"]),
                classes=tuple(data.get("classes", ())),
                metrics=tuple(data["metrics"]),
                slices=tuple(SliceResult.from_dict(s) for s in data["slices"]),
                slice_specs=tuple(data.get("slice_specs", ())),
                min_slice_size=int(data["min_slice_size"]),
                bootstrap=None if boot is None else BootstrapConfig.from_dict(boot),
                curves=None if curves is None else Curves.from_dict(curves),
                blessing=None if blessing is None else Blessing.from_dict(blessing),
                fairness=tuple(FairnessGap.from_dict(g) for g in data.get("fairness", [])),
                has_baseline=bool(data.get("has_baseline", False)),
                properties=dict(data.get("properties", {})),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidInput(f"Not an evaluation result ({type(err).__name__}: {err}).") from err

    def to_json(self) -> str:
        """The result as JSON text.

        Raises:
            InvalidInput: ``properties`` or ``classes`` hold values JSON cannot represent.
        """
        try:
            return json.dumps(self.to_dict(), indent=2, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise InvalidInput(
                f"The evaluation cannot be written as JSON ({err}); keep `properties` to strings, "
                "numbers, booleans, lists and dicts, without NaN."
            ) from err

    def save(self, path: str | Path) -> Path:
        """Write the result as JSON, atomically."""
        return write_text_atomic(Path(path), self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> EvaluationResult:
        """Read a result written by :meth:`save`.

        Raises:
            NotFound: no such file.
            InvalidInput: the file is not JSON or not an evaluation result.
        """
        p = Path(path)
        if not p.is_file():
            raise NotFound(
                f"No evaluation file at {str(p)!r}. Give the path of an evaluation.json, as the evaluate "
                "step of a pipeline writes (`loopml pipeline show RUN` lists its outputs)."
            )
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InvalidInput(f"{str(p)!r} is not valid JSON: {err}.") from err
        if not isinstance(data, dict):
            raise InvalidInput(f"{str(p)!r} does not hold an evaluation result (a JSON object).")
        return cls.from_dict(data)
