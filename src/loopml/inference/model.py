"""A served model: a verified, loaded package with its input schema and output policy."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.inference.inputs import ModelInput
from loopml.inference.outputs import PREDICT, PROBABILITIES, OutputPolicy
from loopml.inference.schema import InputSchema
from loopml.registry.package import Predictor

__all__ = ["Batching", "ServedModel", "serve_predictor"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Batching:
    """Adaptive micro-batching across concurrent requests.

    Attributes:
        enabled: Whether requests to this model are batched together.
        max_batch_rows: A batch holds at most this many rows (one request is never split).
        max_wait_ms: How long a batch may wait for more requests once concurrency is seen: it
            goes at once when it holds as many requests as the recent batches did and none is
            inside the server on its way to it (being read, parsed or checked).
    """

    enabled: bool = True
    max_batch_rows: int = 512
    max_wait_ms: float = 2.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_batch_rows, int) or self.max_batch_rows < 1:
            raise InvalidInput(f"max_batch_rows must be an integer >= 1; got {self.max_batch_rows!r}.")
        if not isinstance(self.max_wait_ms, int | float) or not 0 <= self.max_wait_ms <= 1000:
            raise InvalidInput(f"max_wait_ms must be a number in [0, 1000]; got {self.max_wait_ms!r}.")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ServedModel:
    """One model version ready to answer requests.

    Attributes:
        name: The name clients address it by.
        version: Its version (the registry version number, or ``"1"`` for a package folder).
        source: Where it was loaded from (``models:/...`` URI or package folder).
        predictor: The verified predictor (model + packaged transform).
        schema: The input columns requests are checked against.
        policy: The output obfuscation policy.
        batching: The micro-batching settings.
        accepts_matrix: Whether rows go to the model as a NumPy matrix (numeric signatures whose
            first stage was not fitted on named columns).
        has_probabilities: Whether the model gives class probabilities.
        classes: The class labels of a classifier, or None.
        labels: Registry aliases pointing at this version when it was loaded (TF Serving labels).
        registered: The registry version it was loaded from, as ``NAME/VERSION`` (None: a package
            folder); unlike ``name``, never the name clients address it by.
    """

    name: str
    version: str
    source: str
    predictor: Predictor
    schema: InputSchema
    policy: OutputPolicy = dataclasses.field(default_factory=OutputPolicy)
    batching: Batching = dataclasses.field(default_factory=Batching)
    accepts_matrix: bool = False
    has_probabilities: bool = False
    classes: np.ndarray | None = None
    labels: tuple[str, ...] = ()
    registered: str | None = None

    @property
    def registered_versions(self) -> tuple[str, ...]:
        """The registry versions (``NAME/VERSION``) whose models compute its answers: its own, or
        none for a package folder (an ensemble: its members')."""
        return (self.registered,) if self.registered is not None else ()

    @property
    def output_names(self) -> tuple[str, ...]:
        """The outputs this model returns under its policy."""
        return self.policy.output_names(has_probabilities=self.has_probabilities)

    @property
    def flavor(self) -> str:
        """The package flavor (``sklearn``, ``onnx`` ...)."""
        return self.predictor.flavor.name

    def _features(self, rows: ModelInput) -> Any:
        if self.accepts_matrix and rows.matrix is not None:
            data: Any = rows.matrix
        else:
            import pandas as pd  # the column path only: numeric signatures never reach it

            data = pd.DataFrame(rows.column_values(self.schema), columns=list(self.schema.names))
        transform = self.predictor.transform
        return transform.transform(data) if transform is not None else data

    def predict(self, rows: ModelInput) -> dict[str, np.ndarray]:
        """Raw outputs for ``rows`` (``predict``, and ``predict_proba`` when the model has it).

        Raises:
            InvalidInput: the model (or its transform) refused the values.
        """
        try:
            features = self._features(rows)
            flavor, model = self.predictor.flavor, self.predictor.model
            if self.has_probabilities:
                proba = np.asarray(flavor.predict_proba(model, features))
                if self.classes is not None:
                    labels = self.classes[np.argmax(proba, axis=1)]
                else:
                    labels = flavor.predict(model, features)
                return {PREDICT: np.asarray(labels), PROBABILITIES: proba}
            return {PREDICT: np.asarray(flavor.predict(model, features))}
        except (ValueError, TypeError) as err:
            raise InvalidInput(f"The model refused the input: {str(err)[:300]}") from err

    def postprocess(self, outputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Apply the output policy."""
        return self.policy.apply(outputs, classes=self.classes)


def _first_stage(predictor: Predictor) -> Any:
    return predictor.transform if predictor.transform is not None else predictor.model


def _has_probabilities(predictor: Predictor) -> bool:
    model = predictor.model
    if predictor.flavor.name == "onnx":
        return len(model.get_outputs()) >= 2
    return hasattr(model, "predict_proba")


def serve_predictor(
    predictor: Predictor,
    *,
    name: str,
    version: str,
    source: str,
    policy: OutputPolicy | None = None,
    batching: Batching | None = None,
    labels: tuple[str, ...] = (),
    registered: str | None = None,
) -> ServedModel:
    """Wrap a loaded predictor for serving, working out its fast paths.

    Raises:
        InvalidInput: the package has no input signature.
    """
    schema = InputSchema.from_signature(predictor.package.spec.signature)
    stage = _first_stage(predictor)
    accepts_matrix = schema.is_numeric and (
        predictor.flavor.name in {"sklearn", "xgboost", "lightgbm", "onnx"}
        and getattr(stage, "feature_names_in_", None) is None
    )
    classes = getattr(predictor.model, "classes_", None)
    return ServedModel(
        name=name,
        version=version,
        source=source,
        predictor=predictor,
        schema=schema,
        policy=policy or OutputPolicy(),
        batching=batching or Batching(),
        accepts_matrix=accepts_matrix,
        has_probabilities=_has_probabilities(predictor),
        classes=np.asarray(classes) if classes is not None else None,
        labels=labels,
        registered=registered,
    )
