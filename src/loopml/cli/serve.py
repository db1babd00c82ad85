"""``loopml serve MODEL_URI...``: the inference server (Open Inference Protocol, TF Serving, MLflow).

Binds 127.0.0.1 by default and refuses any other address unless ``--auth`` is on.
"""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path
from typing import Annotated

import typer

from loopml.cli import _context
from loopml.errors import InvalidInput

__all__ = ["serve"]


def serve(
    model_uris: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="MODEL_URI...",
            help="models:/NAME@ALIAS, models:/NAME/VERSION or a package folder (the first also answers "
            "/invocations).",
            show_default=False,
        ),
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="A serve.yaml (models, output policy, batching, limits).")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option("--port", min=0, max=65535, help="TCP port [8080].")] = None,
    grpc_port: Annotated[
        int | None,
        typer.Option(
            "--grpc-port",
            min=0,
            max=65535,
            help="Also serve the Open Inference Protocol over gRPC on this port (needs loopml[grpc]).",
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, max=64, help="Worker processes sharing the socket [1].")
    ] = None,
    prediction_log: Annotated[
        bool | None,
        typer.Option(
            "--prediction-log/--no-prediction-log", help="Log every request to <home>/predictions [on]."
        ),
    ] = None,
    auth: Annotated[
        bool | None,
        typer.Option("--auth/--no-auth", help="Require a platform token (needed on a non-loopback address)."),
    ] = None,
    per_minute: Annotated[
        int | None,
        typer.Option(
            "--per-minute", min=1, help="Requests per minute per caller and model (serve.yaml wins)."
        ),
    ] = None,
    per_day: Annotated[
        int | None,
        typer.Option("--per-day", min=1, help="Requests per UTC day per caller and model (serve.yaml wins)."),
    ] = None,
    deployments: Annotated[
        list[str] | None,
        typer.Option(
            "--deployment",
            help="Also serve this deployment (repeatable), routed by its stored state and followed live "
            "(`loopml deploy create`).",
        ),
    ] = None,
    atypical: Annotated[
        str | None,
        typer.Option(
            "--atypical",
            help="Atypical-input policy for every model without one: log, flag or reject (serve.yaml wins).",
        ),
    ] = None,
) -> None:
    """Serve models over the Open Inference Protocol (/v2), TF Serving (/v1) and MLflow (/invocations).

    With --grpc-port, the Open Inference Protocol over gRPC too, from the same process and models.

    Every model is verified (checksums, scanner, signature per the promotion policy) before it is
    served; one that fails is never served.
    """
    # Start-up creates about a million objects that live as long as the server (modules, models);
    # collecting them over and over while they are created frees nothing and costs ~0.4 CPU s.
    # run_server freezes them and switches the collector back on when the models are loaded.
    gc.disable()
    try:
        from loopml.inference.atypical import AtypicalCheck
        from loopml.inference.loading import ModelSource
        from loopml.serving.config import ServeConfig, ServedDeployment
        from loopml.serving.guards import QueryLimits
        from loopml.serving.server import run_server

        if config_file is not None:
            config = ServeConfig.load(config_file)
            if model_uris:
                config = dataclasses.replace(
                    config, models=(*config.models, *(ModelSource(uri=u) for u in model_uris))
                )
        elif model_uris or deployments:
            config = ServeConfig(
                models=tuple(ModelSource(uri=u) for u in model_uris or ()),
                deployments=tuple(ServedDeployment(name=d) for d in deployments or ()),
            )
            deployments = None
        else:
            raise InvalidInput(
                "Nothing to serve: give MODEL_URI... "
                "(e.g. `loopml serve models:/census-employment@champion`), "
                "--deployment NAME or --config serve.yaml."
            )
        if deployments:
            config = dataclasses.replace(
                config, deployments=(*config.deployments, *(ServedDeployment(name=d) for d in deployments))
            )
        config = dataclasses.replace(  # re-checks the bind address against auth
            config,
            host=config.host if host is None else host,
            port=config.port if port is None else port,
            grpc_port=config.grpc_port if grpc_port is None else grpc_port,
            workers=config.workers if workers is None else workers,
            auth=config.auth if auth is None else auth,
            prediction_log=config.prediction_log if prediction_log is None else prediction_log,
        )
        if per_minute is not None or per_day is not None or atypical is not None:
            config = config.with_default_guards(
                limits=QueryLimits(per_minute=per_minute, per_day=per_day)
                if per_minute is not None or per_day is not None
                else None,
                atypical=AtypicalCheck.from_mapping({"policy": atypical}, where="--atypical")
                if atypical
                else None,
            )
        settings = _context.settings()
        typer.echo(
            f"loopml serve: loading {len(config.models)} model(s) "
            f"and {len(config.deployments)} deployment(s) for http://{config.host}:{config.port} "
            f"(/v2, /v1/models, /invocations, /metrics)"
            + (f" and grpc://{config.host}:{config.grpc_port}" if config.grpc_port is not None else ""),
            err=True,
        )
        run_server(config, settings)
    finally:  # also when start-up fails in a process that goes on (tests, embedding)
        gc.enable()
