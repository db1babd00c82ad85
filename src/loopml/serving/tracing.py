"""OpenTelemetry traces of the model server: one span per inference request, with child spans
``validate`` (parse, signature check, guards), ``queue`` (waiting for a micro-batch), ``predict``
(the batch in the model) and ``log`` (handing the request to the prediction log and metrics).

A caller's W3C ``traceparent`` header makes the request span a child of the caller's trace. Off by
default (no cost beyond one flag check per request); on with serve.yaml ``tracing:`` (OTLP/HTTP
export to ``otlp_endpoint``, a sampling ratio), or with an SDK tracer provider given by the
embedding program (the tests use the in-memory exporter). Needs ``pip install 'loopml[otel]'``.

A deployment's request has the same stages plus ``route`` (the route choice) and one ``shadow``
span per shadow copy it is mirrored to (the hand-off to the mirror, which answers later on its
own); its stages carry ``loopml.deployment``, ``loopml.route`` (primary, canary or the A/B arm) and
``loopml.version`` (see :func:`labelled`), and so does the request span (:func:`annotate`): its
version is the one that answered (the canary's, each arm's joined by commas), not the primary's.

Child spans are recorded after the fact with the times the data plane measured, so nothing is
opened or closed across the micro-batcher's thread hand-off.
"""

from __future__ import annotations

import contextvars
import dataclasses
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from loopml.errors import InvalidInput, MissingDependency

__all__ = ["Tracing", "TracingConfig", "annotate", "labelled", "mark", "record_child", "request_started"]

#: The request traced in this task: (tracer, span, its start in ns), or None when tracing is off.
_CURRENT: contextvars.ContextVar[tuple[Any, Any, int] | None] = contextvars.ContextVar(
    "loopml_trace", default=None
)
#: Attributes every child span recorded in this context carries (see :func:`labelled`).
_LABELS: contextvars.ContextVar[tuple[tuple[str, Any], ...]] = contextvars.ContextVar(
    "loopml_trace_labels", default=()
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TracingConfig:
    """serve.yaml ``tracing:``.

    Attributes:
        otlp_endpoint: OTLP/HTTP traces URL (e.g. ``http://collector:4318/v1/traces``).
        sample_ratio: Fraction of new traces kept (a caller's sampled parent is always followed).
        service_name: ``service.name`` of the spans.
    """

    otlp_endpoint: str
    sample_ratio: float = 1.0
    service_name: str = "loopml-serve"

    def __post_init__(self) -> None:
        if not isinstance(self.otlp_endpoint, str) or not self.otlp_endpoint.startswith(
            ("http://", "https://")
        ):
            raise InvalidInput(
                f"serve.yaml tracing.otlp_endpoint must be an http(s) URL; got {self.otlp_endpoint!r:.80}."
            )
        ratio = self.sample_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
            raise InvalidInput(
                f"serve.yaml tracing.sample_ratio must be a number from 0 to 1; got {ratio!r:.40}."
            )

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any]) -> TracingConfig:
        """From the parsed ``tracing:`` section; unknown keys are refused by name."""
        if not isinstance(section, Mapping):
            raise InvalidInput("serve.yaml tracing must be a mapping with otlp_endpoint (and sample_ratio).")
        unknown = sorted(set(section) - {"otlp_endpoint", "sample_ratio", "service_name"})
        if unknown:
            raise InvalidInput(
                f"Unknown key tracing.{unknown[0]} in serve.yaml; tracing accepts otlp_endpoint, "
                "sample_ratio and service_name."
            )
        if "otlp_endpoint" not in section:
            raise InvalidInput("serve.yaml tracing.otlp_endpoint is missing; it is required.")
        return cls(**section)


def _sdk() -> Any:
    try:
        from opentelemetry.sdk import trace as sdk_trace
    except ImportError as err:
        raise MissingDependency("Tracing needs the OpenTelemetry SDK: pip install 'loopml[otel]'.") from err
    return sdk_trace


class Tracing:
    """The server's tracer: starts request spans, parents them on the caller's ``traceparent``.

    Args:
        provider: An OpenTelemetry SDK ``TracerProvider``; None turns tracing off.
    """

    def __init__(self, provider: Any | None = None) -> None:
        self.enabled = provider is not None
        self._provider = provider
        self._tracer = provider.get_tracer("loopml.serving") if provider is not None else None

    @classmethod
    def from_config(cls, config: TracingConfig | None) -> Tracing:
        """A tracer exporting over OTLP/HTTP in batches, or off when ``config`` is None.

        Raises:
            MissingDependency: the OpenTelemetry SDK or exporter is not installed.
        """
        if config is None:
            return cls(None)
        sdk_trace = _sdk()
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as err:
            raise MissingDependency("OTLP export needs pip install 'loopml[otel]'.") from err
        provider = sdk_trace.TracerProvider(
            resource=Resource.create({"service.name": config.service_name}),
            sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)),
        )
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=config.otlp_endpoint)))
        return cls(provider)

    @contextmanager
    def request(self, name: str, headers: Mapping[str, str], attributes: Mapping[str, Any]) -> Iterator[Any]:
        """The span of one request (a child of the caller's ``traceparent`` when given)."""
        if self._tracer is None:
            yield None
            return
        from opentelemetry.propagate import extract
        from opentelemetry.trace import SpanKind

        parent = extract(dict(headers))
        started = time.time_ns()
        with self._tracer.start_as_current_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=dict(attributes), start_time=started
        ) as span:
            token = _CURRENT.set((self._tracer, span, started))
            try:
                yield span
            finally:
                _CURRENT.reset(token)

    def shutdown(self) -> None:
        """Export what is buffered and stop."""
        if self._provider is not None:
            self._provider.shutdown()


def mark() -> int:
    """A timestamp for :func:`record_child` (0 when this request is not traced: no clock read)."""
    return time.time_ns() if _CURRENT.get() is not None else 0


def request_started() -> int:
    """When the current request span started, in ns (0 when this request is not traced)."""
    current = _CURRENT.get()
    return current[2] if current is not None else 0


def record_child(name: str, start_ns: int, end_ns: int | None = None, /, **attributes: Any) -> None:
    """Record a finished child span of the current request span (nothing when not traced)."""
    current = _CURRENT.get()
    if current is None or not start_ns:
        return
    from opentelemetry import trace

    tracer, parent, _ = current
    every = {**dict(_LABELS.get()), **attributes}
    span = tracer.start_span(
        name, context=trace.set_span_in_context(parent), start_time=start_ns, attributes=every or None
    )
    span.end(end_time=end_ns or time.time_ns())


@contextmanager
def labelled(**attributes: Any) -> Iterator[None]:
    """Child spans recorded within carry ``attributes`` too (per task: concurrent parts keep their own).

    Nothing is kept when this request is not traced.
    """
    if _CURRENT.get() is None:
        yield
        return
    token = _LABELS.set((*_LABELS.get(), *attributes.items()))
    try:
        yield
    finally:
        _LABELS.reset(token)


def annotate(**attributes: Any) -> None:
    """Set ``attributes`` on the current request span (nothing when not traced)."""
    current = _CURRENT.get()
    if current is not None:
        current[1].set_attributes(attributes)
