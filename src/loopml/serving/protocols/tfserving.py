"""TensorFlow Serving REST API: model status, metadata, ``:predict``, ``:classify`` and ``:regress``.

``/v1/models/{m}``, ``/v1/models/{m}/versions/{v}`` and ``/v1/models/{m}/labels/{l}`` (a label is
a registry alias the model was loaded through). ``:predict`` takes ``instances`` (rows: objects
keyed by column, or lists in signature order) or ``inputs`` (columns); answers ``predictions`` or
``outputs`` respectively. Errors are ``{"error": "..."}``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loopml.errors import InvalidInput, NotFound
from loopml.inference.inputs import ModelInput, from_columns, from_records, from_rows
from loopml.inference.model import ServedModel
from loopml.inference.outputs import PREDICT, PROBABILITIES
from loopml.inference.schema import ColumnKind
from loopml.serving._answers import mark_answer
from loopml.serving._http import BODY_ADVICE, Guard, json_response, mark_model, parse_json, require_json
from loopml.serving.dataplane import DataPlane
from loopml.web.body_limits import read_body

__all__ = ["routes"]

PROTOCOL = "tfserving"
_DTYPES = {
    ColumnKind.FLOAT: "DT_DOUBLE",
    ColumnKind.INT: "DT_INT64",
    ColumnKind.BOOL: "DT_BOOL",
    ColumnKind.STRING: "DT_STRING",
}


def _rows(model: ServedModel, instances: Any) -> ModelInput:
    if not isinstance(instances, list) or not instances:
        raise InvalidInput("'instances' must be a non-empty list of rows.")
    first = instances[0]
    if isinstance(first, dict):
        return from_records(model.schema, instances, as_matrix=model.accepts_matrix)
    if not isinstance(first, list) and len(model.schema.columns) == 1:
        return from_columns(model.schema, {model.schema.names[0]: instances}, as_matrix=model.accepts_matrix)
    return from_rows(model.schema, instances, as_matrix=model.accepts_matrix)


def _columns(model: ServedModel, inputs: Any) -> ModelInput:
    if isinstance(inputs, dict):
        return from_columns(model.schema, inputs, as_matrix=model.accepts_matrix)
    return _rows(model, inputs)


def _row_outputs(outputs: dict[str, np.ndarray]) -> list[Any]:
    if len(outputs) == 1:
        only: list[Any] = next(iter(outputs.values())).tolist()
        return only
    listed = {name: values.tolist() for name, values in outputs.items()}
    n = len(next(iter(listed.values())))
    return [{name: values[i] for name, values in listed.items()} for i in range(n)]


class TfServingEndpoints:
    """The TF Serving handlers over one data plane."""

    def __init__(self, plane: DataPlane, *, max_body_bytes: int) -> None:
        self.plane = plane
        self.max_body_bytes = max_body_bytes

    def _model(self, request: Request) -> ServedModel:
        return mark_model(request, self._find(request))

    def _find(self, request: Request) -> ServedModel:
        params = request.path_params
        name = params["model"]
        if "label" in params:
            label = params["label"]
            for model in self.plane.repository.all():
                if model.name == name and label in model.labels:
                    return model
            known = sorted({lab for m in self.plane.repository.all() if m.name == name for lab in m.labels})
            self.plane.model(name)  # an unknown model says so first
            raise NotFound(
                f"Model {name!r} has no served label {label!r}; labels: {', '.join(known) or 'none'}."
            )
        return self.plane.model(name, params.get("version"))

    async def status(self, request: Request) -> Response:
        model = self._model(request)
        versions = (
            [model]
            if "version" in request.path_params or "label" in request.path_params
            else [m for m in self.plane.repository.all() if m.name == model.name] or [model]
        )
        return json_response(
            {
                "model_version_status": [
                    {
                        "version": m.version,
                        "state": "AVAILABLE",
                        "status": {"error_code": "OK", "error_message": ""},
                    }
                    for m in versions
                ]
            }
        )

    async def metadata(self, request: Request) -> Response:
        model = self._model(request)
        inputs = {
            c.name: {
                "dtype": _DTYPES[c.kind],
                "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False},
                "name": c.name,
            }
            for c in model.schema.columns
        }
        outputs = {
            name: {"name": name, "tensor_shape": {"dim": [{"size": "-1", "name": ""}]}}
            for name in model.output_names
        }
        signature = {"inputs": inputs, "outputs": outputs, "method_name": "tensorflow/serving/predict"}
        return json_response(
            {
                "model_spec": {"name": model.name, "signature_name": "", "version": model.version},
                "metadata": {
                    "signature_def": {
                        "signature_def": {"serving_default": signature},
                        "@type": "type.googleapis.com/tensorflow.serving.SignatureDefMap",
                    }
                },
            }
        )

    async def _body(self, request: Request) -> dict[str, Any]:
        require_json(request)
        doc = parse_json(await read_body(request, limit=self.max_body_bytes, advice=BODY_ADVICE))
        if not isinstance(doc, dict):
            raise InvalidInput(f"The request must be a JSON object; got {type(doc).__name__}.")
        return doc

    async def predict(self, request: Request) -> Response:
        model = self._model(request)
        doc = await self._body(request)
        has_instances, has_inputs = "instances" in doc, "inputs" in doc
        if has_instances == has_inputs:
            raise InvalidInput("Send exactly one of 'instances' (rows) or 'inputs' (columns).")
        rows = _rows(model, doc["instances"]) if has_instances else _columns(model, doc["inputs"])
        result = await self.plane.infer(
            model,
            rows,
            protocol=PROTOCOL,
            principal=request.scope.get("loopml.principal"),
            caller=request.scope.get("loopml.caller"),
            headers=request.headers,
        )
        mark_answer(request, result)
        if has_instances:
            return json_response({"predictions": _row_outputs(result.outputs)})
        outputs = result.outputs
        return json_response({"outputs": next(iter(outputs.values())) if len(outputs) == 1 else outputs})

    def _examples(self, model: ServedModel, doc: dict[str, Any]) -> ModelInput:
        examples = doc.get("examples")
        if not isinstance(examples, list) or not examples:
            raise InvalidInput("'examples' must be a non-empty list of objects (feature name → value).")
        context = doc.get("context") or {}
        if not isinstance(context, dict):
            raise InvalidInput("'context' must be an object of features shared by every example.")
        merged = [{**context, **e} if isinstance(e, dict) else e for e in examples]
        return from_records(model.schema, merged, as_matrix=model.accepts_matrix)

    async def classify(self, request: Request) -> Response:
        model = self._model(request)
        if not model.has_probabilities or model.classes is None:
            raise InvalidInput(
                f"Model {model.name!r} is not a classifier with probabilities; use :regress or :predict."
            )
        if model.policy.label_only:
            raise InvalidInput(f"Model {model.name!r} returns labels only (output policy); use :predict.")
        rows = self._examples(model, await self._body(request))
        result = await self.plane.infer(
            model,
            rows,
            protocol=PROTOCOL,
            principal=request.scope.get("loopml.principal"),
            caller=request.scope.get("loopml.caller"),
            headers=request.headers,
        )
        mark_answer(request, result)
        if PROBABILITIES in result.outputs:
            labels = [str(c) for c in model.classes.tolist()]
            scores = result.outputs[PROBABILITIES].tolist()
            classes = [[[labels[j], p] for j, p in enumerate(row)] for row in scores]
        else:
            top_labels, top_scores = (v.tolist() for k, v in result.outputs.items() if k != PREDICT)
            classes = [
                [[str(lab), s] for lab, s in zip(ls, ss, strict=True)]
                for ls, ss in zip(top_labels, top_scores, strict=True)
            ]
        return json_response({"result": classes})

    async def regress(self, request: Request) -> Response:
        model = self._model(request)
        if model.has_probabilities:
            raise InvalidInput(f"Model {model.name!r} is a classifier; use :classify or :predict.")
        rows = self._examples(model, await self._body(request))
        result = await self.plane.infer(
            model,
            rows,
            protocol=PROTOCOL,
            principal=request.scope.get("loopml.principal"),
            caller=request.scope.get("loopml.caller"),
            headers=request.headers,
        )
        mark_answer(request, result)
        return json_response({"result": result.outputs[PREDICT].astype(np.float64)})


def routes(plane: DataPlane, *, max_body_bytes: int, guard: Guard) -> list[Route]:
    """The TF Serving routes, each wrapped by ``guard``."""
    ep = TfServingEndpoints(plane, max_body_bytes=max_body_bytes)
    found: list[Route] = []
    for base in (
        "/v1/models/{model}",
        "/v1/models/{model}/versions/{version}",
        "/v1/models/{model}/labels/{label}",
    ):
        found += [
            Route(base, guard(ep.status, PROTOCOL, False), methods=["GET"]),
            Route(f"{base}/metadata", guard(ep.metadata, PROTOCOL, False), methods=["GET"]),
            Route(f"{base}:predict", guard(ep.predict, PROTOCOL, True), methods=["POST"]),
            Route(f"{base}:classify", guard(ep.classify, PROTOCOL, True), methods=["POST"]),
            Route(f"{base}:regress", guard(ep.regress, PROTOCOL, True), methods=["POST"]),
        ]
    return found
