"""ONNX models run with onnxruntime, and checked conversion of scikit-learn models with skl2onnx."""

from __future__ import annotations

import dataclasses
import importlib.metadata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from loopml.errors import InvalidInput, require_extra

require_extra("onnxruntime", extra="onnx", feature="The ONNX model flavor")
require_extra("onnx", extra="onnx", feature="The ONNX model flavor")

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

__all__ = ["DEFAULT_ATOL", "OnnxConversion", "OnnxFlavor", "convert_sklearn"]

DEFAULT_ATOL = 1e-5
_FILE = "model.onnx"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class OnnxConversion:
    """The result of converting a model to ONNX and comparing it on an evaluation set.

    Attributes:
        model_bytes: The serialised ONNX model.
        max_abs_diff: Largest absolute difference to the original (probabilities for
            classifiers, predictions otherwise) on the evaluation set.
        label_mismatches: Rows whose predicted label differs (0 for regressors).
        atol: The tolerance the difference was held to.
        rows: Number of evaluation rows compared.
    """

    model_bytes: bytes
    max_abs_diff: float
    label_mismatches: int
    atol: float
    rows: int

    @property
    def is_match(self) -> bool:
        """True when the converted model agrees with the original within ``atol``."""
        return self.max_abs_diff <= self.atol and self.label_mismatches == 0

    def record(self) -> dict[str, Any]:
        """What ``model.yaml`` records about the conversion."""
        return {
            "to": "onnx",
            "kept": self.is_match,
            "max_abs_diff": self.max_abs_diff,
            "label_mismatches": self.label_mismatches,
            "atol": self.atol,
            "rows": self.rows,
        }


def _as_float32(data: Any) -> np.ndarray:
    values = data.to_numpy() if hasattr(data, "to_numpy") else np.asarray(data)
    try:
        return np.ascontiguousarray(values, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise InvalidInput(f"ONNX models take numeric input; could not convert to float32: {err}") from err


def convert_sklearn(model: Any, eval_data: Any, *, atol: float = DEFAULT_ATOL) -> OnnxConversion:
    """Convert a fitted scikit-learn model with skl2onnx and compare it on ``eval_data``.

    Args:
        model: A fitted scikit-learn estimator or pipeline with numeric input.
        eval_data: Rows to compare the original and converted model on.
        atol: Largest allowed absolute difference of probabilities (or predictions).

    Returns:
        The conversion; keep it only if ``is_match``.

    Raises:
        MissingDependency: skl2onnx is not installed.
        InvalidInput: the model cannot be converted, with skl2onnx's reason.
    """
    require_extra("skl2onnx", extra="onnx", feature="Converting scikit-learn models to ONNX")
    from skl2onnx import to_onnx

    x = _as_float32(eval_data)
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    options = {id(final): {"zipmap": False}} if hasattr(final, "predict_proba") else None
    try:
        proto = to_onnx(model, x[:1], options=options)
    except Exception as err:  # skl2onnx raises many types for unsupported models
        raise InvalidInput(f"skl2onnx cannot convert {type(model).__name__}: {err}") from err
    model_bytes = proto.SerializeToString()
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: x})
    labels = np.asarray(outputs[0]).reshape(len(x), -1).squeeze(axis=1) if len(x) else np.asarray([])
    if hasattr(final, "predict_proba") and len(outputs) > 1:
        diff = np.abs(np.asarray(outputs[1], dtype=np.float64) - model.predict_proba(eval_data))
        mismatches = int(np.sum(labels != np.asarray(model.predict(eval_data))))
    else:
        diff = np.abs(labels.astype(np.float64) - np.asarray(model.predict(eval_data), dtype=np.float64))
        mismatches = 0
    return OnnxConversion(
        model_bytes=model_bytes,
        max_abs_diff=float(diff.max(initial=0.0)),
        label_mismatches=mismatches,
        atol=atol,
        rows=len(x),
    )


class OnnxFlavor:
    """ONNX graphs (``onnx.ModelProto``, raw bytes or a matching :class:`OnnxConversion`)."""

    name = "onnx"
    runs_code = False

    def handles(self, model: object) -> bool:
        """True for ONNX protos and conversions."""
        return isinstance(model, onnx.ModelProto | OnnxConversion)

    def framework_versions(self) -> dict[str, str]:
        """onnx and onnxruntime versions."""
        return {p: importlib.metadata.version(p) for p in ("onnx", "onnxruntime")}

    def save(self, model: Any, directory: Path) -> list[str]:
        """Write ``model.onnx``; a conversion that did not match is refused."""
        if isinstance(model, OnnxConversion):
            if not model.is_match:
                raise InvalidInput(
                    f"The ONNX conversion differs from the original by {model.max_abs_diff:.3g} "
                    f"(tolerance {model.atol:g}, {model.label_mismatches} label mismatches); "
                    "keep the scikit-learn flavor instead."
                )
            data = model.model_bytes
        elif isinstance(model, onnx.ModelProto):
            data = model.SerializeToString()
        else:
            raise InvalidInput(f"The onnx flavor saves ONNX models, got {type(model).__name__}.")
        (directory / _FILE).write_bytes(data)
        return [_FILE]

    def load(self, directory: Path, files: Sequence[str]) -> Any:
        """An onnxruntime CPU inference session."""
        return ort.InferenceSession(str(directory / files[0]), providers=["CPUExecutionProvider"])

    def predict(self, model: Any, data: Any) -> np.ndarray:
        """The first output (labels or values)."""
        out = model.run(None, {model.get_inputs()[0].name: _as_float32(data)})
        return np.asarray(out[0]).reshape(len(out[0]), -1).squeeze(axis=1)

    def predict_proba(self, model: Any, data: Any) -> np.ndarray:
        """The second output (probabilities) of a converted classifier."""
        out = model.run(None, {model.get_inputs()[0].name: _as_float32(data)})
        if len(out) < 2:
            raise InvalidInput("This ONNX model has no probability output; call predict instead.")
        return np.asarray(out[1])
