"""loopml.serving: the inference server.

The data plane of :mod:`loopml.inference` (load through the registry's verified path, validate
against the signature, predict, apply the output policy), micro-batched, under thin protocol
adapters: the Open Inference Protocol (KServe V2) REST with the binary tensor extension, TF
Serving REST and the MLflow scoring protocol, in one ASGI app.

Example:
    >>> from loopml.serving import ModelSource, build_app  # doctest: +SKIP
    >>> app = build_app([ModelSource(uri="models:/churn@champion")], registry=registry)  # doctest: +SKIP
"""

from loopml.inference import (
    Batching,
    InputSchema,
    ModelInput,
    ModelSource,
    OutputPolicy,
    ServedModel,
    load_served_model,
    serve_predictor,
)
from loopml.serving.app import AppOptions, create_app
from loopml.serving.dataplane import DataPlane, InferenceResult, InferenceSink, ModelRepository
from loopml.serving.metrics import ServingMetrics

__all__ = [
    "AppOptions",
    "Batching",
    "DataPlane",
    "InferenceResult",
    "InferenceSink",
    "InputSchema",
    "ModelInput",
    "ModelRepository",
    "ModelSource",
    "OutputPolicy",
    "ServedModel",
    "ServingMetrics",
    "create_app",
    "load_served_model",
    "serve_predictor",
]
