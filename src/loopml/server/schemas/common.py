"""Shared wire types: the strict base model, bounded numbers and strings, NaN-safe floats."""

from __future__ import annotations

import math
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema, model_validator

from loopml.store import MAX_RESULTS_LIMIT, PAGE_TOKEN_PATTERN

__all__ = [
    "ERROR_RESPONSES",
    "Alias",
    "ArtifactPath",
    "DatasetRef",
    "ErrorOut",
    "Id",
    "Int64",
    "Key",
    "MaxResults",
    "Millis",
    "ModelName",
    "Name",
    "PageToken",
    "RecordKey",
    "RunFilePath",
    "Text",
    "Wire",
    "WireFloat",
    "checked_here",
    "from_wire_float",
    "to_wire_float",
]

#: Largest whole number on the wire: 2**63 - 1024, the last int64 a JSON double holds exactly, so
#: a client comparing as floats and the server comparing as ints agree on the bound.
INT64_MAX = 2**63 - 1024
#: Longest name or key (``loopml.store.validation.MAX_KEY_LENGTH``).
MAX_NAME_LENGTH = 250
_CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
#: A name: no control characters (C0, DEL, C1).
NAME_PATTERN = f"^[^{_CONTROL}]+$"
_EDGE = f"[^{_CONTROL}\\s/\\\\]"  # first and last character of a key: no space, no separator
_EDGE_NO_DOT = f"[^{_CONTROL}\\s/\\\\.]"
_INNER = f"[^{_CONTROL}/\\\\]"
#: A key (param, metric, tag key; experiment, model and dataset name): no control characters, no
#: ``/`` or ``\\``, no leading or trailing space, not ``.`` or ``..``.
KEY_PATTERN = f"^(?:{_EDGE_NO_DOT}|{_EDGE_NO_DOT}{_EDGE}|\\.{_EDGE_NO_DOT}|{_EDGE}{_INNER}+{_EDGE})$"
_SEGMENT = KEY_PATTERN[1:-1]
#: A metric, param or run tag key: key parts joined by ``/`` (``train/loss``; see
#: ``loopml.store.validation.check_record_key``).
RECORD_KEY_PATTERN = f"^{_SEGMENT}(?:/{_SEGMENT})*$"


def _alias_pattern() -> str:
    """A letter or ``_`` then up to 63 letters, digits, ``_ . -``; never ``latest`` (any case).

    Written without look-arounds, which the server's regular expression engine lacks: six
    characters are an alias when they differ from ``latest`` at some position.
    """
    first, rest = "A-Za-z_", "A-Za-z0-9_.\\-"
    classes = [first, *[rest] * 5]
    six = []
    for i, letter in enumerate("latest"):
        same = "".join(f"[{c}{c.upper()}]" for c in "latest"[:i])
        pool = "".join(c for c in _characters(classes[i]) if c.lower() != letter).replace("-", "\\-")
        six.append(f"{same}[{pool}]" + f"[{rest}]" * (5 - i))
    return f"^(?:[{first}][{rest}]{{0,4}}|[{first}][{rest}]{{6,63}}|{'|'.join(six)})$"


def _characters(ranges: str) -> str:
    """The characters of a character-class body such as ``A-Za-z0-9_.\\-``."""
    out, i = [], 0
    while i < len(ranges):
        if ranges[i] == "\\":
            out.append(ranges[i + 1])
            i += 2
        elif i + 2 < len(ranges) and ranges[i + 1] == "-":
            out += [chr(c) for c in range(ord(ranges[i]), ord(ranges[i + 2]) + 1)]
            i += 3
        else:
            out.append(ranges[i])
            i += 1
    return "".join(out)


#: An alias (``loopml.store._models.check_alias_name``).
ALIAS_PATTERN = _alias_pattern()


def _artifact_path_pattern() -> str:
    """``/``-separated segments, none empty, ``.`` or ``..``; no control character, ``\\`` or ``%``.

    The first segment has no ``:`` either (no URL scheme, no drive letter). Every path it matches
    passes :func:`loopml.server._paths.normalise_artifact_path` unchanged.
    """
    banned = f"{_CONTROL}\\\\/%"

    def segment(extra: str) -> str:
        inner = f"[^{banned}{extra}]"
        edge = f"[^{banned}{extra}.]"
        return f"(?:{edge}{inner}*|\\.{edge}{inner}*|\\.\\.{inner}+)"

    return f"^{segment(':')}(?:/{segment('')})*$"


#: A run artifact's or package file's relative path (see :func:`_artifact_path_pattern`).
ARTIFACT_PATH_PATTERN = _artifact_path_pattern()
#: A content hash: 64 lowercase hex digits.
SHA256_PATTERN = "^[0-9a-f]{64}$"
#: A dataset version: ``NAME`` or ``NAME@N`` (N a positive integer, at most nine digits).
DATASET_REF_PATTERN = f"^[^{_CONTROL}@]{{1,{MAX_NAME_LENGTH}}}(?:@0*[1-9][0-9]{{0,8}})?$"


def _keys_by_name(schema: dict[str, Any]) -> None:
    """State a mapping's key pattern as ``propertyNames`` (what the server enforces).

    Pydantic writes the key pattern of ``dict[Key, V]`` as ``patternProperties``, which lets any
    other key through in JSON Schema; the server refuses those keys, so the document says so.
    """
    patterns = schema.get("patternProperties")
    if isinstance(patterns, dict) and len(patterns) == 1 and "propertyNames" in schema:
        [(pattern, values)] = patterns.items()
        del schema["patternProperties"]
        schema["propertyNames"] = {**schema["propertyNames"], "pattern": pattern}
        schema["additionalProperties"] = values
    for value in schema.values():
        if isinstance(value, dict):
            _keys_by_name(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    _keys_by_name(item)


class Wire(BaseModel):
    """Base of every request and response body: unknown fields and type coercion are refused."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, json_schema_extra=lambda schema, _: _keys_by_name(schema)
    )

    @model_validator(mode="before")
    @classmethod
    def _whole_numbers(cls, data: Any) -> Any:
        """Take ``3.0`` for an integer field: JSON Schema counts it an integer, strings stay refused."""
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields

        def whole(key: str, value: Any) -> Any:
            wanted = key in fields and _wants_int(fields[key].annotation)
            return int(value) if wanted and isinstance(value, float) and value.is_integer() else value

        return {key: whole(key, value) for key, value in data.items()}


def _wants_int(annotation: Any) -> bool:
    """Whether a field takes integers and no floats (``int``, ``int | None``)."""
    options = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    bare = {get_args(o)[0] if get_origin(o) is Annotated else o for o in options}  # ``VersionNumber | None``
    return int in bare and float not in bare


Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH, pattern=KEY_PATTERN)]
RecordKey = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH, pattern=RECORD_KEY_PATTERN)
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN)]
#: A registered model name: a key without ``@`` (it separates the alias in ``models:/NAME@ALIAS``).
ModelName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH, pattern=KEY_PATTERN.replace("/", "/@")),
]
Alias = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ALIAS_PATTERN)]
Text = Annotated[str, StringConstraints(max_length=100_000)]
#: A URI a client records or adds data from: no control character or backslash (further rules,
#: which depend on the server's artifact root and reference roots, answer 400 naming them).
URI_PATTERN = "^[^\\x00-\\x1f\\x7f\\\\]+$"
ArtifactPath = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1_000),
    # stated, and checked by ``check_request_path`` for its messages (400 naming the rule)
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 1_000, "pattern": ARTIFACT_PATH_PATTERN}),
    Field(
        description="A relative path: `/`-separated, no `.`/`..`/empty part, no `\\`, `%` or control "
        "character, no `:` in the first part."
    ),
]


def checked_here(pattern: str, *, max_length: int) -> WithJsonSchema:
    """State a string's ``pattern`` that the server checks itself, to answer a 400 naming the rule
    it breaks rather than the bare pattern (the check and the pattern accept the same strings)."""
    return WithJsonSchema({"type": "string", "minLength": 1, "maxLength": max_length, "pattern": pattern})


#: A run's artifact path, which is also the artifact's name (at most 250 characters).
RunFilePath = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH, "pattern": ARTIFACT_PATH_PATTERN}
    ),
]
DatasetRef = Annotated[
    str,
    StringConstraints(min_length=1, pattern=DATASET_REF_PATTERN),
    Field(description="`NAME` (the latest version) or `NAME@N`."),
]
Int64 = Annotated[int, Field(ge=-INT64_MAX, le=INT64_MAX)]
#: The ``next_page_token`` of a previous page, passed back to read the next one.
PageToken = Annotated[
    str,
    StringConstraints(pattern=PAGE_TOKEN_PATTERN),
    Field(description="The `next_page_token` of a previous page (opaque; pass it back unchanged)."),
]
#: Items per page.
MaxResults = Annotated[int, Field(ge=1, le=MAX_RESULTS_LIMIT)]
Millis = Annotated[int, Field(ge=0, le=INT64_MAX)]
#: JSON has no NaN or infinities; they travel as the strings "NaN", "Infinity", "-Infinity".
WireFloat = float | Literal["NaN", "Infinity", "-Infinity"]


class ErrorDetail(Wire):
    """An error: its code (the ``code`` of its class), message, structured fields and request id."""

    code: str
    message: str
    details: dict[str, Any] | None = Field(
        default=None, description="The error's structured fields, e.g. `rules` of a policy_violation."
    )
    request_id: str | None = Field(
        default=None, description="The request's X-Request-ID; the server's log has the full detail under it."
    )


class ErrorOut(Wire):
    """The body of every error response."""

    error: ErrorDetail


#: Documented error responses of every API operation.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in {
        400: "Malformed request or invalid input",
        401: "Missing or bad credentials",
        403: "Permission missing",
        404: "Not found",
        405: "Method not allowed",
        409: "Conflict with stored state",
        413: "Body too large",
        422: "Request does not match the schema, or integrity check failed",
        429: "Rate limited",
        503: "Store unavailable",
    }.items()
}

_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def to_wire_float(value: float) -> float | Literal["NaN", "Infinity", "-Infinity"]:
    """``value`` as JSON allows it: finite floats as numbers, the rest as strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def from_wire_float(value: float | str) -> float:
    """The float a :data:`WireFloat` stands for."""
    return _SPECIAL[value] if isinstance(value, str) else float(value)
