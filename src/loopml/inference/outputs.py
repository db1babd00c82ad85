"""Output names and the passive output-obfuscation policy: label only, top-k, rounding."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from loopml.errors import InvalidInput

__all__ = [
    "PREDICT",
    "PROBABILITIES",
    "SCORES",
    "TOP_K_LABELS",
    "TOP_K_SCORES",
    "OutputPolicy",
    "positive_scores",
]

PREDICT = "predict"
"""The predicted label (classifiers) or value (regressors), one per row."""
PROBABILITIES = "predict_proba"
"""Class probabilities, ``[n, n_classes]`` in the order of the model's classes."""
TOP_K_LABELS = "top_k_labels"
"""The ``k`` most likely classes per row, most likely first (top-k policy)."""
TOP_K_SCORES = "top_k_scores"
"""Their probabilities (top-k policy)."""
SCORES = "_positive_scores"
"""Internal: a binary classifier's raw positive-class probability per row, kept beside the
outputs for the release gates (never returned to a caller, whatever the output policy)."""


def positive_scores(outputs: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """The raw probability of the second (positive) class per row, for a binary classifier.

    None for a model without probabilities or with more than two classes (a multi-class
    model has no single score to rank by).

    Example:
        >>> positive_scores({"predict": np.array([1]), "predict_proba": np.array([[0.3, 0.7]])}).tolist()
        [0.7]
    """
    proba = outputs.get(PROBABILITIES)
    if proba is None or proba.ndim != 2 or proba.shape[1] != 2:
        return None
    return np.asarray(proba[:, 1], dtype=np.float64)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class OutputPolicy:
    """What a model's answers may reveal (MITRE ATLAS "passive output obfuscation").

    Attributes:
        label_only: Return the predicted label only; no scores.
        top_k: Replace the full probability vector by the ``k`` most likely classes and their scores.
        decimals: Round every score to this many decimals.

    Example:
        >>> policy = OutputPolicy(decimals=2)
        >>> raw = {"predict": np.array([1]), "predict_proba": np.array([[0.1234, 0.8766]])}
        >>> out = policy.apply(raw, classes=None)
        >>> out["predict_proba"].tolist()
        [[0.12, 0.88]]
    """

    label_only: bool = False
    top_k: int | None = None
    decimals: int | None = None

    def __post_init__(self) -> None:
        if self.top_k is not None and (not isinstance(self.top_k, int) or self.top_k < 1):
            raise InvalidInput(f"Output policy top_k must be an integer >= 1; got {self.top_k!r}.")
        if self.decimals is not None and (not isinstance(self.decimals, int) or not 0 <= self.decimals <= 15):
            raise InvalidInput(
                f"Output policy decimals must be an integer in [0, 15]; got {self.decimals!r}."
            )
        if self.label_only and self.top_k is not None:
            raise InvalidInput("Output policy: label_only and top_k exclude each other; choose one.")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, where: str) -> OutputPolicy:
        """Parse ``{label_only, top_k, decimals}`` (a ``serve.yaml`` section).

        Raises:
            InvalidInput: unknown keys or values of the wrong type, naming ``where``.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{where} must be a mapping with label_only, top_k, decimals.")
        unknown = sorted(set(data) - {"label_only", "top_k", "decimals"})
        if unknown:
            raise InvalidInput(f"{where} has unknown key(s) {unknown}; valid: label_only, top_k, decimals.")
        label_only = data.get("label_only", False)
        if not isinstance(label_only, bool):
            raise InvalidInput(f"{where}.label_only must be true or false; got {label_only!r}.")
        return cls(label_only=label_only, top_k=data.get("top_k"), decimals=data.get("decimals"))

    def output_names(self, *, has_probabilities: bool) -> tuple[str, ...]:
        """The outputs a model under this policy returns."""
        if self.label_only or not has_probabilities:
            return (PREDICT,)
        if self.top_k is not None:
            return (PREDICT, TOP_K_LABELS, TOP_K_SCORES)
        return (PREDICT, PROBABILITIES)

    def apply(
        self, outputs: Mapping[str, np.ndarray], *, classes: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """The outputs a caller may see, from the model's raw ``predict`` / ``predict_proba``."""
        result = {PREDICT: outputs[PREDICT]}
        proba = outputs.get(PROBABILITIES)
        if self.label_only or proba is None:
            return self._rounded(result)
        if self.top_k is not None:
            k = min(self.top_k, proba.shape[1])
            order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
            labels = np.asarray(classes)[order] if classes is not None else order
            result[TOP_K_LABELS] = labels
            result[TOP_K_SCORES] = np.take_along_axis(proba, order, axis=1)
        else:
            result[PROBABILITIES] = proba
        return self._rounded(result)

    def _rounded(self, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.decimals is None:
            return outputs
        return {
            name: np.round(values, self.decimals) if values.dtype.kind == "f" else values
            for name, values in outputs.items()
        }
