"""The Open Inference Protocol gRPC listener, run beside the REST app on the same event loop.

:func:`attach_grpc` hooks a ``grpc.aio`` server into the app's lifespan: it starts after the app
and stops (with a grace period for calls in flight) before the data plane closes, so both
protocols share the loaded models, the micro-batchers, the metrics and the prediction log.
Needs the ``grpc`` extra (``pip install 'loopml[grpc]'``).
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette

from loopml.errors import InvalidInput, InvalidState, require_extra
from loopml.security.audit import AuditLog
from loopml.serving._auth import RequestAuthenticator
from loopml.serving.dataplane import DataPlane
from loopml.serving.metrics import ServingMetrics

__all__ = ["GrpcOptions", "attach_grpc", "check_bindable", "start_grpc_server"]

_GRACE_S = 5.0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GrpcOptions:
    """Where and how the gRPC listener runs.

    Attributes:
        host: Address to listen on (the REST server's).
        port: TCP port; 0 picks a free one (read it from ``app.state.grpc_port``).
        max_message_bytes: Largest request message accepted (RESOURCE_EXHAUSTED beyond).
        reuse_port: Let several worker processes listen on the port (``SO_REUSEPORT``); off for a
            single process, so a port already taken is an error instead of a silent share.
    """

    host: str = "127.0.0.1"
    port: int = 8081
    max_message_bytes: int = 32 * 1024 * 1024
    reuse_port: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.port, int) or isinstance(self.port, bool) or not 0 <= self.port <= 65535:
            raise InvalidInput(f"The gRPC port must be an integer in [0, 65535]; got {self.port!r}.")
        if not isinstance(self.max_message_bytes, int) or self.max_message_bytes < 1024:
            raise InvalidInput(
                f"max_message_bytes must be an integer >= 1024; got {self.max_message_bytes!r}."
            )

    @property
    def address(self) -> str:
        """``host:port``, with IPv6 literals in brackets."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"


async def start_grpc_server(
    plane: DataPlane,
    *,
    metrics: ServingMetrics,
    authenticator: RequestAuthenticator | None,
    options: GrpcOptions,
    audit: AuditLog | None = None,
) -> tuple[Any, int]:
    """Start a ``grpc.aio`` server for ``plane`` on the running event loop.

    Returns:
        The server (stop it with ``await server.stop(grace)``) and the port it listens on.

    Raises:
        MissingDependency: grpcio is not installed.
        InvalidState: the address cannot be bound (port in use, unknown host).
    """
    require_extra("grpc", extra="grpc", feature="The gRPC inference listener (--grpc-port)")
    import grpc

    from loopml.serving.protocols import grpc_predict_v2_pb2_grpc as services
    from loopml.serving.protocols.grpc_v2 import InferenceServicer

    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", options.max_message_bytes),
            ("grpc.so_reuseport", 1 if options.reuse_port else 0),
        ]
    )
    services.add_GRPCInferenceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        InferenceServicer(plane, metrics=metrics, authenticator=authenticator, audit=audit), server
    )
    try:
        port = server.add_insecure_port(options.address)
    except RuntimeError as err:
        port = 0
        reason = str(err)
    else:
        reason = "the port is taken or the host is not an address of this machine"
    if not port:
        raise InvalidState(
            f"Cannot listen for gRPC on {options.address} ({reason}); pick another --grpc-port or host."
        )
    await server.start()
    return server, int(port)


def check_bindable(options: GrpcOptions) -> None:
    """Fail now, with a clear error, if the gRPC address cannot be bound (the listener itself
    starts later, inside the app's lifespan, where an error would end in a server traceback).

    Raises:
        InvalidState: naming the address and what to do.
    """
    if options.port == 0:
        return
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            options.host.strip("[]"), options.port, type=socket.SOCK_STREAM
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if options.reuse_port and hasattr(socket, "SO_REUSEPORT"):
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            probe.bind(address)
    except OSError as err:
        raise InvalidState(
            f"Cannot listen for gRPC on {options.address} ({err.strerror or err}); "
            "pick another --grpc-port or host."
        ) from err


def attach_grpc(
    app: Starlette,
    plane: DataPlane,
    *,
    metrics: ServingMetrics,
    authenticator: RequestAuthenticator | None,
    options: GrpcOptions,
    audit: AuditLog | None = None,
) -> None:
    """Serve ``plane`` over gRPC for as long as ``app`` runs (its lifespan starts and stops it).

    Refused calls are written to ``audit`` (None: not recorded), as the REST routes' are.

    The bound port is put in ``app.state.grpc_port`` once the app has started.

    Raises:
        MissingDependency: grpcio is not installed (checked now, before anything is served).
        InvalidState: the address cannot be bound (checked now too).
    """
    require_extra("grpc", extra="grpc", feature="The gRPC inference listener (--grpc-port)")
    check_bindable(options)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with inner(app):  # create_app's lifespan keeps no state
            server, port = await start_grpc_server(
                plane, metrics=metrics, authenticator=authenticator, options=options, audit=audit
            )
            app.state.grpc_port = port
            try:
                yield
            finally:
                await server.stop(_GRACE_S)

    app.router.lifespan_context = lifespan
