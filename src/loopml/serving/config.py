"""``serve.yaml``: which models to serve and how, plus listener settings.

Example file::

    host: 127.0.0.1
    port: 8080
    grpc_port: 8081               # Open Inference Protocol over gRPC (needs loopml[grpc]); omit for none
    workers: 2
    auth: false
    max_body_bytes: 33554432
    prediction_log: true          # or false, or a folder (default <home>/predictions)
    tracing: {otlp_endpoint: "http://127.0.0.1:4318/v1/traces", sample_ratio: 0.1}  # loopml[otel]
    deployments:                  # routed by their stored state (`loopml deploy ...`), followed live
      - churn
      - {name: census-rollout, atypical: {policy: flag}}
    poll_s: 2                     # seconds between two reads of the deployments' state
    models:
      - uri: models:/census-employment@champion
        name: census
        require_signature: false
        output: {top_k: 1, decimals: 3}
        batching: {enabled: true, max_batch_rows: 512, max_wait_ms: 2}
        limits: {per_minute: 600, per_day: 100000}    # per caller (token) and model
        atypical: {policy: flag, max_distance: 4}     # log | flag | reject
        extraction: {window_s: 60, max_probes: 50, step: 0.1}
        restore: {clip: true, fallback: {city: other}}   # clip to the training range; unseen → other

See :mod:`loopml.serving.guards` for what ``limits``, ``atypical``, ``extraction`` and ``restore``
do (``restore`` also applies to a deployment's routes: ``{name: churn, restore: {clip: true}}``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from loopml.deploy.spec import check_deployment_name
from loopml.errors import InvalidInput, NotFound
from loopml.inference.atypical import AtypicalCheck
from loopml.inference.ensemble import EnsembleSource
from loopml.inference.extraction import ExtractionCheck
from loopml.inference.loading import ModelSource
from loopml.inference.model import Batching
from loopml.inference.outputs import OutputPolicy
from loopml.inference.restoration import InputRestoration
from loopml.serving.guards import ModelGuards, QueryLimits
from loopml.serving.tracing import TracingConfig

__all__ = ["ServeConfig", "ServedDeployment", "check_bind", "is_loopback"]

_TOP_KEYS = (
    "host",
    "port",
    "grpc_port",
    "workers",
    "auth",
    "max_body_bytes",
    "prediction_log",
    "tracing",
    "models",
    "deployments",
    "poll_s",
)
_DEPLOYMENT_KEYS = ("name", "limits", "atypical", "extraction", "restore")
_MODEL_KEYS = (
    "uri",
    "name",
    "require_signature",
    "output",
    "batching",
    "log_sample_rate",
    "limits",
    "atypical",
    "extraction",
    "restore",
    "ensemble",
)
_BATCH_KEYS = ("enabled", "max_batch_rows", "max_wait_ms")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, auth_enabled: bool) -> None:
    """Refuse a non-loopback ``host`` unless authentication is on.

    Raises:
        InvalidInput: naming the host and what to do.
    """
    if not auth_enabled and not is_loopback(host):
        raise InvalidInput(
            f"Refusing to serve models on {host!r} without authentication: anyone who can reach it could "
            "query them. Pass --auth (callers then need a token from `loopml tokens create`) or bind "
            "to 127.0.0.1."
        )


def _int(value: Any, key: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidInput(f"serve.yaml {key} must be an integer in [{low}, {high}]; got {value!r}.")
    return value


def _keys(data: Any, valid: Sequence[str], where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{where} must be a mapping with keys {', '.join(valid)}.")
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise InvalidInput(f"{where} has unknown key(s) {unknown}; valid: {', '.join(valid)}.")
    return data


def _batching(data: Any, where: str) -> Batching:
    if data is None:
        return Batching()
    section = _keys(data, _BATCH_KEYS, where)
    enabled = section.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidInput(f"{where}.enabled must be true or false; got {enabled!r}.")
    default = Batching()
    return Batching(
        enabled=enabled,
        max_batch_rows=section.get("max_batch_rows", default.max_batch_rows),
        max_wait_ms=section.get("max_wait_ms", default.max_wait_ms),
    )


def _guards(data: Any, index: int, *, section: str = "models") -> ModelGuards:
    if not isinstance(data, Mapping):
        return ModelGuards()
    where = f"serve.yaml {section}[{index}]"
    return ModelGuards(
        limits=QueryLimits.from_mapping(data.get("limits"), where=f"{where}.limits"),
        atypical=AtypicalCheck.from_mapping(data.get("atypical"), where=f"{where}.atypical"),
        extraction=ExtractionCheck.from_mapping(data.get("extraction"), where=f"{where}.extraction"),
        restore=InputRestoration.from_mapping(data.get("restore"), where=f"{where}.restore"),
    )


def _model(data: Any, index: int) -> ModelSource | EnsembleSource:
    where = f"serve.yaml models[{index}]"
    if isinstance(data, str):
        return ModelSource(uri=data)
    section = _keys(data, _MODEL_KEYS, where)
    if "ensemble" in section:
        if "uri" in section or "require_signature" in section:
            raise InvalidInput(f"{where} is an ensemble: give its members under ensemble.members, not a uri.")
        return EnsembleSource.from_mapping(
            section.get("name"),
            section["ensemble"],
            where=f"{where}.ensemble",
            policy=OutputPolicy.from_mapping(section.get("output"), where=f"{where}.output"),
            batching=_batching(section.get("batching"), f"{where}.batching"),
            log_sample_rate=section.get("log_sample_rate", 1.0),
        )
    require = section.get("require_signature", False)
    if not isinstance(require, bool):
        raise InvalidInput(f"{where}.require_signature must be true or false; got {require!r}.")
    return ModelSource(
        uri=section.get("uri", ""),
        name=section.get("name"),
        policy=OutputPolicy.from_mapping(section.get("output"), where=f"{where}.output"),
        batching=_batching(section.get("batching"), f"{where}.batching"),
        require_signature=require,
        log_sample_rate=section.get("log_sample_rate", 1.0),
    )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ServedDeployment:
    """A deployment to serve (``/v2/models/{name}/infer``) and the guards of its routes."""

    name: str
    guards: ModelGuards = dataclasses.field(default_factory=ModelGuards)

    def __post_init__(self) -> None:
        check_deployment_name(self.name, field="deployments[].name")


def _deployment(data: Any, index: int) -> ServedDeployment:
    if isinstance(data, str):
        return ServedDeployment(name=data)
    section = _keys(data, _DEPLOYMENT_KEYS, f"serve.yaml deployments[{index}]")
    guards = _guards(section, index, section="deployments")
    return ServedDeployment(name=section.get("name", ""), guards=guards)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ServeConfig:
    """What ``loopml serve`` runs.

    Attributes:
        models: The models and ensembles, in order (the first one answers MLflow's ``/invocations``).
        host: Address to listen on.
        port: TCP port.
        grpc_port: TCP port of the Open Inference Protocol gRPC listener (same host), or None.
        workers: Worker processes sharing the listening socket.
        auth: Whether callers need a token.
        max_body_bytes: Largest request body accepted.
        prediction_log: Whether requests are logged (to ``log_dir``).
        log_dir: The prediction log's folder (default ``<home>/predictions``).
        guards: Per model (same order as ``models``), its request guards; missing entries: none.
        tracing: OpenTelemetry export of request traces, or None (off).
        deployments: Deployments served by their stored state, followed live.
        poll_s: Seconds between two reads of the deployments' state.
    """

    models: tuple[ModelSource | EnsembleSource, ...]
    host: str = "127.0.0.1"
    port: int = 8080
    grpc_port: int | None = None
    workers: int = 1
    auth: bool = False
    max_body_bytes: int = 32 * 1024 * 1024
    prediction_log: bool = True
    log_dir: Path | None = None
    guards: tuple[ModelGuards, ...] = ()
    tracing: TracingConfig | None = None
    deployments: tuple[ServedDeployment, ...] = ()
    poll_s: float = 2.0

    def guards_of(self, index: int) -> ModelGuards:
        """The guards of ``models[index]``."""
        return self.guards[index] if index < len(self.guards) else ModelGuards()

    def with_default_guards(
        self, *, limits: QueryLimits | None = None, atypical: AtypicalCheck | None = None
    ) -> ServeConfig:
        """Give every model without its own ``limits`` / ``atypical`` these (the CLI flags)."""
        guards = []
        for i in range(len(self.models)):
            own = self.guards_of(i)
            guards.append(
                dataclasses.replace(own, limits=own.limits or limits, atypical=own.atypical or atypical)
            )
        return dataclasses.replace(self, guards=tuple(guards))

    def __post_init__(self) -> None:
        if not self.models and not self.deployments:
            raise InvalidInput(
                "Nothing to serve: give at least one MODEL_URI (models:/NAME@ALIAS, models:/NAME/VERSION or "
                "a package folder), --deployment NAME, or a serve.yaml with 'models:' or 'deployments:'."
            )
        names = [d.name for d in self.deployments]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InvalidInput(f"serve.yaml deployments lists {twice} more than once; list each once.")
        poll = self.poll_s
        if isinstance(poll, bool) or not isinstance(poll, int | float) or not 0.05 <= poll <= 600:
            raise InvalidInput(f"serve.yaml poll_s must be a number of seconds in [0.05, 600]; got {poll!r}.")
        _int(self.port, "port", 0, 65535)
        _int(self.workers, "workers", 1, 64)
        if self.grpc_port is not None:
            _int(self.grpc_port, "grpc_port", 0, 65535)
            if self.grpc_port == self.port != 0:
                raise InvalidInput(
                    f"grpc_port and port are both {self.port}; the gRPC listener needs a port of its own."
                )
            if self.grpc_port == 0 and self.workers > 1:
                raise InvalidInput(
                    "grpc_port 0 (any free port) would give each of the workers a different port; "
                    "give a port number."
                )
        _int(self.max_body_bytes, "max_body_bytes", 1024, 2**31)
        check_bind(self.host, auth_enabled=self.auth)

    @classmethod
    def from_mapping(cls, data: Any) -> ServeConfig:
        """Parse the content of a ``serve.yaml``.

        Raises:
            InvalidInput: unknown keys or bad values, naming them.
        """
        section = _keys(data, _TOP_KEYS, "serve.yaml")
        models = section.get("models") or []
        if not isinstance(models, list):
            raise InvalidInput("serve.yaml models must be a list of model URIs or {uri, name, ...} mappings.")
        deployments = section.get("deployments") or []
        if not isinstance(deployments, list):
            raise InvalidInput(
                "serve.yaml deployments must be a list of deployment names or {name, ...} mappings."
            )
        auth = section.get("auth", False)
        if not isinstance(auth, bool):
            raise InvalidInput(f"serve.yaml auth must be true or false; got {auth!r}.")
        host = section.get("host", "127.0.0.1")
        if not isinstance(host, str):
            raise InvalidInput(f"serve.yaml host must be a string; got {host!r}.")
        log = section.get("prediction_log", True)
        if not isinstance(log, bool | str):
            raise InvalidInput(f"serve.yaml prediction_log must be true, false or a folder; got {log!r}.")
        return cls(
            prediction_log=log is not False,
            log_dir=Path(log) if isinstance(log, str) else None,
            models=tuple(_model(m, i) for i, m in enumerate(models)),
            guards=tuple(_guards(m, i) for i, m in enumerate(models)),
            deployments=tuple(_deployment(d, i) for i, d in enumerate(deployments)),
            poll_s=section.get("poll_s", 2.0),
            host=host,
            port=section.get("port", 8080),
            grpc_port=section.get("grpc_port"),
            workers=section.get("workers", 1),
            auth=auth,
            max_body_bytes=section.get("max_body_bytes", 32 * 1024 * 1024),
            tracing=TracingConfig.from_mapping(section["tracing"])
            if section.get("tracing") is not None
            else None,
        )

    @classmethod
    def load(cls, path: Path | str) -> ServeConfig:
        """Read a ``serve.yaml`` file.

        Raises:
            NotFound: no such file.
            InvalidInput: not YAML, or a bad configuration.
        """
        source = Path(path)
        if not source.is_file():
            raise NotFound(f"No serve configuration at {source}.")
        try:
            data = yaml.safe_load(source.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise InvalidInput(f"Cannot parse {source}: {err}") from err
        return cls.from_mapping(data or {})
