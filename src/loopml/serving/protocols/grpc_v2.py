"""Open Inference Protocol (KServe V2) over gRPC: ``inference.GRPCInferenceService``.

The same data plane, input mapping, model metadata and output names as the REST adapter
(:mod:`loopml.serving.protocols.v2`); errors come from the same table (``status_of``), mapped to
gRPC status codes: bad input → INVALID_ARGUMENT, unknown model or version → NOT_FOUND, missing or
bad token → UNAUTHENTICATED, no permission → PERMISSION_DENIED. Tokens travel in the
``authorization: Bearer TOKEN`` metadata; the health methods are open, as ``/v2/health/*`` is.
As over REST, query limits and probing are counted per token (per client address without
authentication), and every refusal (UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED from a
limit) is written to the audit log.

A response carries its outputs in ``raw_output_contents`` when the request sent
``raw_input_contents`` (as ``tritonclient.grpc`` does), else in typed ``contents``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from loopml import __version__
from loopml.errors import InvalidInput
from loopml.inference.model import ServedModel
from loopml.inference.outputs import PROBABILITIES, TOP_K_LABELS
from loopml.security.audit import AuditLog
from loopml.serving._auth import ModelForbidden, RequestAuthenticator
from loopml.serving.dataplane import DataPlane
from loopml.serving.errors import RateLimited, status_of
from loopml.serving.metrics import ServingMetrics
from loopml.serving.protocols import grpc_predict_v2_pb2 as pb
from loopml.serving.protocols._grpc_tensors import encode_outputs, parameter_value, request_tensors
from loopml.serving.protocols.v2 import model_metadata, to_model_input
from loopml.web.audit import REFUSALS, record_request
from loopml.web.rate_limits import RETRY_AFTER, retry_after_seconds

__all__ = ["OPEN_METHODS", "PROTOCOL", "InferenceServicer", "grpc_code", "peer_host"]

PROTOCOL = "grpc"
#: Methods answered without credentials (orchestrator probes), like REST's ``/v2/health/*``.
OPEN_METHODS = frozenset({"ServerLive", "ServerReady"})

#: HTTP status of the shared error table → gRPC status code.
_CODE_OF_STATUS: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.FAILED_PRECONDITION,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
}
_GENERIC_INTERNAL = "The model server failed to answer this request; the error was logged on the server."
_log = logging.getLogger("loopml.serving")


def peer_host(context: Any) -> str | None:
    """The client's address from a call's peer (``ipv4:127.0.0.1:5000``, ``ipv6:[::1]:5000``).

    Example:
        >>> class Call:
        ...     def __init__(self, peer): self._peer = peer
        ...     def peer(self): return self._peer
        >>> [peer_host(Call(p)) for p in ("ipv4:10.0.0.7:51234", "ipv6:[::1]:443", "unix:")]
        ['10.0.0.7', '::1', None]
    """
    peer = str(context.peer() or "")
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0] or None
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]") or None
    return None


def grpc_code(err: BaseException) -> grpc.StatusCode:
    """The gRPC status code of an exception (INTERNAL for anything not raised on purpose)."""
    return _CODE_OF_STATUS.get(status_of(err), grpc.StatusCode.INTERNAL)


@dataclasses.dataclass(slots=True)
class _Labels:
    """What one call learned for its metrics and audit record (the version(s), the caller).

    ``versions`` holds the version the call addressed, then the one(s) that answered it: a
    deployment's route, or each A/B arm of a split request.
    """

    versions: tuple[str, ...] = ("",)
    principal: str | None = None
    caller: str = ""


_Response = TypeVar("_Response")


def _tensor_metadata(entries: list[dict[str, Any]]) -> list[pb.ModelMetadataResponse.TensorMetadata]:
    return [
        pb.ModelMetadataResponse.TensorMetadata(name=e["name"], datatype=e["datatype"], shape=e["shape"])
        for e in entries
    ]


def _requested_outputs(model: ServedModel, request: pb.ModelInferRequest) -> list[str] | None:
    if not request.outputs:
        return None
    names = []
    for i, out in enumerate(request.outputs):
        if "classification" in out.parameters and parameter_value(out.parameters["classification"]):
            raise InvalidInput(
                f"outputs[{i}] asks for the classification extension, which this server does not offer; "
                f"request '{PROBABILITIES}' (or '{TOP_K_LABELS}' under a top-k policy) instead."
            )
        names.append(out.name)
    unknown = [n for n in names if n not in model.output_names]
    if unknown:
        raise InvalidInput(f"Unknown output(s) {unknown}; this model returns {list(model.output_names)}.")
    return names


class InferenceServicer:
    """The ``GRPCInferenceService`` methods over one data plane, guarded like the REST routes.

    Args:
        plane: The data plane (shared with the REST app).
        metrics: The app's metrics: in-flight gauge, request counter and latency (protocol ``grpc``).
        authenticator: Checks bearer tokens; None serves without authentication.
        audit: Where refused calls are recorded (None: not recorded).
    """

    def __init__(
        self,
        plane: DataPlane,
        *,
        metrics: ServingMetrics,
        authenticator: RequestAuthenticator | None,
        audit: AuditLog | None = None,
    ) -> None:
        self._plane = plane
        self._metrics = metrics
        self._auth = authenticator
        self._audit = audit

    async def _principal(self, context: Any, method: str, model: str | None, labels: _Labels) -> str | None:
        """Authenticate the call; ``labels`` learns whom limits count it for (token or address)."""
        if self._auth is None or method in OPEN_METHODS:
            labels.caller = f"client:{peer_host(context) or '-'}"
            return None
        header = next((v for k, v in context.invocation_metadata() or () if k == "authorization"), None)
        principal = await self._auth.check(header if isinstance(header, str) else None, model)
        labels.principal, labels.caller = principal.name, principal.rate_key
        return principal.name

    async def _answer(
        self,
        context: Any,
        method: str,
        model: str | None,
        call: Callable[[str | None, _Labels], Awaitable[_Response]],
        *,
        inference: bool = False,
    ) -> _Response:
        """Authenticate, run ``call``, count it; a failure aborts the call with its status code."""
        started = time.perf_counter()
        labels = _Labels()
        self._metrics.in_flight.inc()
        try:
            try:
                with self._plane.arrivals.request() if inference else contextlib.nullcontext():
                    response = await call(await self._principal(context, method, model, labels), labels)
            finally:
                self._metrics.in_flight.dec()
        except Exception as err:
            status = status_of(err)
            if inference:
                self._count(model, labels, str(status), started)
            if status in REFUSALS and self._audit is not None:
                await self._record_denial(context, method, model, labels, err, status)
            await self._abort(context, method, err)
            raise AssertionError("grpc.aio's abort always raises") from err  # pragma: no cover
        if inference:
            self._count(model, labels, "200", started)
        return response

    async def _record_denial(
        self, context: Any, method: str, model: str | None, labels: _Labels, err: Exception, status: int
    ) -> None:
        """Write a refused call to the audit log, as the REST guard does (never failing the call)."""
        assert self._audit is not None
        actor = err.principal.name if isinstance(err, ModelForbidden) and err.principal else labels.principal
        await record_request(
            self._audit,
            actor=actor,
            action="serving.predict",
            target=f"model:{model}" if model else None,
            client=peer_host(context),
            status_code=status,
            details={"method": method, "protocol": PROTOCOL, "message": str(err)[:500]},
        )

    def _count(self, model: str | None, labels: _Labels, status: str, started: float) -> None:
        """Count an inference call like the REST guard does (status in the shared HTTP vocabulary)."""
        for version in labels.versions:
            self._metrics.requests.labels(model or "", version, PROTOCOL, status).inc()
        self._metrics.latency.labels(model or "", PROTOCOL).observe(time.perf_counter() - started)

    @staticmethod
    async def _abort(context: Any, method: str, err: Exception) -> None:
        code = grpc_code(err)
        if code is grpc.StatusCode.INTERNAL:
            _log.error("Unexpected error while serving a gRPC %s request", method, exc_info=err)
            message = _GENERIC_INTERNAL
        else:
            message = str(err)
        trailers = (
            ((RETRY_AFTER.lower(), str(retry_after_seconds(err.retry_after))),)
            if isinstance(err, RateLimited)
            else ()
        )
        await context.abort(code, message, trailers)

    def _model(self, name: str, version: str, labels: _Labels) -> ServedModel:
        if not name:
            raise InvalidInput("The request names no model; set 'name' (or 'model_name' for ModelInfer).")
        model = self._plane.model(name, version or None)
        labels.versions = (model.version,)
        return model

    async def ServerLive(self, request: pb.ServerLiveRequest, context: Any) -> pb.ServerLiveResponse:
        async def call(principal: str | None, labels: _Labels) -> pb.ServerLiveResponse:
            return pb.ServerLiveResponse(live=True)

        return await self._answer(context, "ServerLive", None, call)

    async def ServerReady(self, request: pb.ServerReadyRequest, context: Any) -> pb.ServerReadyResponse:
        async def call(principal: str | None, labels: _Labels) -> pb.ServerReadyResponse:
            return pb.ServerReadyResponse(ready=True)

        return await self._answer(context, "ServerReady", None, call)

    async def ServerMetadata(
        self, request: pb.ServerMetadataRequest, context: Any
    ) -> pb.ServerMetadataResponse:
        async def call(principal: str | None, labels: _Labels) -> pb.ServerMetadataResponse:
            return pb.ServerMetadataResponse(name="loopml", version=__version__, extensions=[])

        return await self._answer(context, "ServerMetadata", None, call)

    async def ModelReady(self, request: pb.ModelReadyRequest, context: Any) -> pb.ModelReadyResponse:
        async def call(principal: str | None, labels: _Labels) -> pb.ModelReadyResponse:
            self._model(request.name, request.version, labels)
            return pb.ModelReadyResponse(ready=True)

        return await self._answer(context, "ModelReady", request.name, call)

    async def ModelMetadata(self, request: pb.ModelMetadataRequest, context: Any) -> pb.ModelMetadataResponse:
        async def call(principal: str | None, labels: _Labels) -> pb.ModelMetadataResponse:
            model = self._model(request.name, request.version, labels)
            doc = model_metadata(model, self._plane.versions(model.name))
            return pb.ModelMetadataResponse(
                name=doc["name"],
                versions=doc["versions"],
                platform=doc["platform"],
                inputs=_tensor_metadata(doc["inputs"]),
                outputs=_tensor_metadata(doc["outputs"]),
            )

        return await self._answer(context, "ModelMetadata", request.name, call)

    async def ModelInfer(self, request: pb.ModelInferRequest, context: Any) -> pb.ModelInferResponse:
        async def call(principal: str | None, labels: _Labels) -> pb.ModelInferResponse:
            model = self._model(request.model_name, request.model_version, labels)
            requested = _requested_outputs(model, request)
            rows = to_model_input(model, request_tensors(request))
            result = await self._plane.infer(
                model,
                rows,
                protocol=PROTOCOL,
                request_id=request.id or None,
                principal=principal,
                caller=labels.caller,
            )
            labels.versions = result.versions
            response = pb.ModelInferResponse(
                model_name=model.name, model_version=result.model.version, id=result.request_id
            )
            names = requested if requested is not None else list(result.outputs)
            encode_outputs(
                response, [(n, result.outputs[n]) for n in names], raw=bool(request.raw_input_contents)
            )
            return response

        return await self._answer(context, "ModelInfer", request.model_name, call, inference=True)
