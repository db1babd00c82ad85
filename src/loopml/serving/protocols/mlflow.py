"""The MLflow scoring protocol: ``POST /invocations`` and ``/ping``, ``/health``, ``/version``.

``/invocations`` serves the first model given to the server (as ``mlflow models serve`` serves
one). JSON bodies hold exactly one of ``dataframe_split``, ``dataframe_records``, ``instances`` or
``inputs`` (plus optional ``params``); ``text/csv`` bodies have a header row. The answer is
``{"predictions": [...]}``: one label (or value) per row.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loopml import __version__
from loopml.errors import InvalidInput, NotFound
from loopml.inference.inputs import ModelInput, from_columns, from_records, from_rows
from loopml.inference.model import ServedModel
from loopml.inference.outputs import PREDICT
from loopml.inference.schema import ColumnKind
from loopml.serving._answers import mark_answer
from loopml.serving._http import BODY_ADVICE, Guard, json_response, mark_model, media_type, parse_json
from loopml.serving.dataplane import DataPlane
from loopml.serving.errors import UnsupportedMediaType
from loopml.web.body_limits import read_body

__all__ = ["routes"]

PROTOCOL = "mlflow"
_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def _split(model: ServedModel, value: Any) -> ModelInput:
    if not isinstance(value, dict) or "data" not in value:
        raise InvalidInput("'dataframe_split' must be an object with 'data' (rows) and optional 'columns'.")
    rows, columns = value["data"], value.get("columns")
    if columns is None:
        return from_rows(model.schema, rows, as_matrix=model.accepts_matrix)
    if not isinstance(columns, list) or not isinstance(rows, list):
        raise InvalidInput("dataframe_split 'columns' and 'data' must be lists.")
    if len(set(columns)) != len(columns):
        raise InvalidInput(f"dataframe_split 'columns' repeats a name: {columns}.")
    width = len(columns)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise InvalidInput(f"dataframe_split row {i} must be a list of {width} values (one per column).")
    return from_columns(
        model.schema,
        {c: [row[j] for row in rows] for j, c in enumerate(columns)},
        as_matrix=model.accepts_matrix,
    )


def _instances(model: ServedModel, value: Any) -> ModelInput:
    if isinstance(value, dict):
        return from_columns(model.schema, value, as_matrix=model.accepts_matrix)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return from_records(model.schema, value, as_matrix=model.accepts_matrix)
    if (
        isinstance(value, list)
        and value
        and not isinstance(value[0], list)
        and len(model.schema.columns) == 1
    ):
        return from_columns(model.schema, {model.schema.names[0]: value}, as_matrix=model.accepts_matrix)
    return from_rows(model.schema, value, as_matrix=model.accepts_matrix)


def parse_json_payload(model: ServedModel, doc: Any) -> ModelInput:
    """Rows of an MLflow JSON scoring request.

    Raises:
        InvalidInput: not exactly one known format key, or bad rows.
    """
    if not isinstance(doc, dict):
        raise InvalidInput(f"The request must be a JSON object with one of {', '.join(_FORMATS)}.")
    present = [k for k in _FORMATS if k in doc]
    unknown = sorted(set(doc) - {*_FORMATS, "params"})
    if len(present) != 1 or unknown:
        raise InvalidInput(
            f"The request must hold exactly one of {', '.join(_FORMATS)} (and optionally 'params'); "
            f"got keys {sorted(doc)}."
        )
    key = present[0]
    if key == "dataframe_split":
        return _split(model, doc[key])
    if key == "dataframe_records":
        return from_records(model.schema, doc[key], as_matrix=model.accepts_matrix)
    return _instances(model, doc[key])


def _csv_value(kind: ColumnKind, name: str, row: int, text: str) -> Any:
    if text == "":
        return None
    if kind is ColumnKind.STRING:
        return text
    if kind is ColumnKind.BOOL:
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise InvalidInput(f"CSV column {name!r} row {row}: {text[:40]!r} is not true/false.")
    try:
        number = float(text)
    except ValueError:
        raise InvalidInput(f"CSV column {name!r} row {row}: {text[:40]!r} is not a number.") from None
    return int(number) if kind is ColumnKind.INT and number.is_integer() else number


def parse_csv(model: ServedModel, body: bytes) -> ModelInput:
    """Rows of a CSV scoring request (a header row naming the columns).

    Raises:
        InvalidInput: not UTF-8, no header, ragged rows or values of the wrong type.
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InvalidInput(f"The CSV body is not valid UTF-8 (byte {err.start}).") from err
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
        records = list(reader)
    except StopIteration:
        raise InvalidInput("The CSV body is empty; send a header row and at least one data row.") from None
    except csv.Error as err:
        raise InvalidInput(f"The CSV body is malformed: {err}.") from err
    kinds = {c.name: c.kind for c in model.schema.columns}
    columns: dict[str, list[Any]] = {name: [] for name in header}
    for i, record in enumerate(records):
        if len(record) != len(header):
            raise InvalidInput(f"CSV row {i + 1} has {len(record)} fields; the header has {len(header)}.")
        for name, text_value in zip(header, record, strict=True):
            kind = kinds.get(name, ColumnKind.STRING)
            columns[name].append(_csv_value(kind, name, i + 1, text_value))
    return from_columns(model.schema, columns, as_matrix=model.accepts_matrix)


class MlflowEndpoints:
    """The MLflow scoring handlers over one data plane."""

    def __init__(self, plane: DataPlane, *, max_body_bytes: int) -> None:
        self.plane = plane
        self.max_body_bytes = max_body_bytes

    async def ping(self, request: Request) -> Response:
        return Response("\n", media_type="application/json")

    async def version(self, request: Request) -> Response:
        return Response(__version__, media_type="text/plain")

    async def invocations(self, request: Request) -> Response:
        names = self.plane.names()
        if not names:
            raise NotFound("This server serves no model; /invocations answers with the first one served.")
        model = mark_model(request, self.plane.model(names[0]))
        kind = media_type(request)
        if kind not in ("application/json", "text/csv", ""):
            raise UnsupportedMediaType(
                f"Content-Type {kind!r} is not accepted; /invocations reads 'application/json' "
                "(dataframe_split, dataframe_records, instances, inputs) or 'text/csv'."
            )
        body = await read_body(request, limit=self.max_body_bytes, advice=BODY_ADVICE)
        rows = parse_csv(model, body) if kind == "text/csv" else parse_json_payload(model, parse_json(body))
        result = await self.plane.infer(
            model,
            rows,
            protocol=PROTOCOL,
            principal=request.scope.get("loopml.principal"),
            caller=request.scope.get("loopml.caller"),
            headers=request.headers,
        )
        mark_answer(request, result)
        return json_response({"predictions": result.outputs[PREDICT]})


def routes(plane: DataPlane, *, max_body_bytes: int, guard: Guard) -> list[Route]:
    """The MLflow scoring routes, each wrapped by ``guard``."""
    ep = MlflowEndpoints(plane, max_body_bytes=max_body_bytes)
    return [
        Route("/ping", guard(ep.ping, PROTOCOL, False), methods=["GET"]),
        Route("/health", guard(ep.ping, PROTOCOL, False), methods=["GET"]),
        Route("/version", guard(ep.version, PROTOCOL, False), methods=["GET"]),
        Route("/invocations", guard(ep.invocations, PROTOCOL, True), methods=["POST"]),
    ]
