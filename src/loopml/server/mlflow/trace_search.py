"""MLflow's trace search grammar, parsed into the store's trace conditions and order.

A filter is ``AND``-joined comparisons. Attributes (``attributes.``/``attribute.``/``trace.`` or no
prefix): ``request_id`` and ``status`` with ``= != IN NOT IN``; ``timestamp_ms`` (``timestamp``)
and ``execution_time_ms`` (``execution_time``) with ``= != < <= > >=``; ``name`` (the tag
``mlflow.traceName``) and ``run_id`` (the metadata ``mlflow.sourceRun``) with ``= != IN NOT IN``.
``tags.<key>`` and ``metadata.<key>`` (``request_metadata.``) take ``= != IN NOT IN``; keys with
dots may be quoted with backticks. Order keys: ``timestamp_ms``, ``execution_time_ms``,
``status``, ``request_id``, ``experiment_id``, each ``ASC`` (default) or ``DESC``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from loopml.errors import InvalidInput
from loopml.store.trace_queries import TraceCondition, TraceField, TraceOrder

__all__ = ["SOURCE_RUN", "TRACE_NAME", "parse_trace_filter", "parse_trace_order"]

#: The tag holding a trace's name, and the metadata naming the run it was logged in.
TRACE_NAME = "mlflow.traceName"
SOURCE_RUN = "mlflow.sourceRun"

_STRING = r"'(?:[^']|'')*'|\"[^\"]*\""
_COMPARISON = re.compile(
    rf"""\s*(?P<ident>(?:[A-Za-z_]+\.)?(?:`[^`]+`|"[^"]+"|[A-Za-z_][\w.\-]*))\s*
    (?P<op>!=|<=|>=|=|<|>|\bNOT\s+IN\b|\bIN\b)\s*
    (?P<value>{_STRING}|-?\d+|\(\s*(?:{_STRING})(?:\s*,\s*(?:{_STRING}))*\s*,?\s*\))\s*""",
    re.VERBOSE | re.IGNORECASE,
)
_AND = re.compile(r"AND\b\s*", re.IGNORECASE)
_ITEM = re.compile(_STRING)
_EXAMPLE = (
    "Example: attributes.status = 'OK' AND attributes.timestamp_ms > 1700000000000 AND tags.team = 'ml'"
)
_PREFIXES = {
    "attribute": TraceField.ATTRIBUTE,
    "attributes": TraceField.ATTRIBUTE,
    "trace": TraceField.ATTRIBUTE,
    "tag": TraceField.TAG,
    "tags": TraceField.TAG,
    "metadata": TraceField.METADATA,
    "request_metadata": TraceField.METADATA,
}
#: MLflow's attribute names → (where the value is, its key there).
_ATTRIBUTES: dict[str, tuple[TraceField, str]] = {
    "request_id": (TraceField.ATTRIBUTE, "trace_id"),
    "trace_id": (TraceField.ATTRIBUTE, "trace_id"),
    "timestamp": (TraceField.ATTRIBUTE, "timestamp_ms"),
    "timestamp_ms": (TraceField.ATTRIBUTE, "timestamp_ms"),
    "execution_time": (TraceField.ATTRIBUTE, "execution_time_ms"),
    "execution_time_ms": (TraceField.ATTRIBUTE, "execution_time_ms"),
    "status": (TraceField.ATTRIBUTE, "status"),
    "name": (TraceField.TAG, TRACE_NAME),
    "run_id": (TraceField.METADATA, SOURCE_RUN),
}
_ORDER_KEYS = {
    "experiment_id": "experiment_id",
    "timestamp": "timestamp_ms",
    "timestamp_ms": "timestamp_ms",
    "execution_time": "execution_time_ms",
    "execution_time_ms": "execution_time_ms",
    "status": "status",
    "request_id": "trace_id",
}


def _unquote(text: str) -> str:
    if text[:1] in "`\"'" and text[-1:] == text[:1]:
        return text[1:-1].replace("''", "'") if text[0] == "'" else text[1:-1]
    return text


def _where(ident: str, whole: str) -> tuple[TraceField, str]:
    prefix, dot, rest = ident.partition(".")
    field = _PREFIXES.get(prefix.lower()) if dot else None
    if field is TraceField.TAG or field is TraceField.METADATA:
        return field, _unquote(rest)
    name = _unquote(rest if field is TraceField.ATTRIBUTE else ident).lower()
    if name not in _ATTRIBUTES:
        raise InvalidInput(
            f"Unknown trace attribute {ident!r} in filter {whole!r}; use one of "
            f"{', '.join(sorted(_ATTRIBUTES))}, tags.<key> or metadata.<key>. {_EXAMPLE}"
        )
    return _ATTRIBUTES[name]


def _condition(ident: str, op: str, raw: str, whole: str) -> TraceCondition:
    field, key = _where(ident, whole)
    op = " ".join(op.upper().split())
    value: str | int | tuple[str, ...]
    if raw.startswith("("):
        value = tuple(_unquote(item) for item in _ITEM.findall(raw))
    elif raw[:1] in "'\"":
        value = _unquote(raw)
    else:
        value = int(raw)
    try:
        return TraceCondition(field=field, key=key, op=op, value=value)
    except InvalidInput as err:
        raise InvalidInput(f"{err} In trace filter {whole!r}. {_EXAMPLE}") from err


def parse_trace_filter(text: str | None) -> list[TraceCondition]:
    """Parse an MLflow trace filter (empty: no condition).

    Raises:
        InvalidInput: naming the part that does not parse and showing an example.

    Example:
        >>> [c.key for c in parse_trace_filter("status = 'OK' AND tags.`a.b` = 'x'")]
        ['status', 'a.b']
    """
    if not text or not text.strip():
        return []
    conditions: list[TraceCondition] = []
    position = 0
    while True:
        found = _COMPARISON.match(text, position)
        if found is None:
            raise InvalidInput(
                f"Invalid trace filter {text!r} near {text[position:].strip()[:60]!r}. {_EXAMPLE}"
            )
        conditions.append(_condition(found["ident"], found["op"], found["value"], text))
        position = found.end()
        if position == len(text):
            return conditions
        joined = _AND.match(text, position)
        if joined is None:
            raise InvalidInput(
                f"Invalid trace filter {text!r} near {text[position:].strip()[:60]!r}: join comparisons "
                f"with AND (OR is not supported). {_EXAMPLE}"
            )
        position = joined.end()


def parse_trace_order(order_by: Sequence[str]) -> list[TraceOrder]:
    """Parse MLflow's ``order_by`` of a trace search (``timestamp_ms DESC`` ...).

    Raises:
        InvalidInput: for an unknown key or direction.
    """
    orders: list[TraceOrder] = []
    for item in order_by:
        words = item.split()
        prefix, dot, rest = (words[0].lower() if words else "").partition(".")
        column = rest if dot and prefix in ("attribute", "attributes", "trace") else prefix + dot + rest
        direction = words[1].upper() if len(words) > 1 else "ASC"
        if column not in _ORDER_KEYS or direction not in ("ASC", "DESC") or len(words) > 2:
            raise InvalidInput(
                f"Invalid trace order_by {item!r}: use one of {', '.join(sorted(_ORDER_KEYS))}, "
                "then ASC or DESC."
            )
        orders.append(TraceOrder(key=_ORDER_KEYS[column], ascending=direction == "ASC"))
    return orders
