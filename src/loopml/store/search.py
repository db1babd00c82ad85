"""The run search filter grammar: a tokenizer and a recursive-descent parser producing an AST.

Grammar (keywords are case-insensitive)::

    filter     := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := primary ("and" primary)*
    primary    := "(" or_expr ")" | comparison
    comparison := identifier operator value
    identifier := ("metrics" | "params" | "tags" | "attributes") "." key | attribute
                | "datasets" "." ("name" | "digest" | "context")   (a run matches if any input does)
    key        := bare_word | `back quoted` | "quoted" | 'quoted'
    attribute  := status | run_name | run_id | experiment_id | start_time | end_time
    operator   := = | != | < | <= | > | >=               (metrics, times: numbers)
                | = | != | LIKE | ILIKE | IN | NOT IN     (params, tags, names, datasets: strings)
                | IS NULL | IS NOT NULL                   (no value: the key is absent / present;
                                                           not on datasets)
    value      := number | 'string' | "string" | "(" string ("," string)* ")"

Example:
    >>> node = parse_filter("metrics.auc > 0.8 and params.model = 'gbm'")
    >>> [c.key for c in node.operands]
    ['auc', 'model']
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from loopml.errors import InvalidInput
from loopml.store.dataset_inputs import DATASET_KEYS
from loopml.store.entities import RunStatus

__all__ = [
    "NULL_OPS",
    "BoolOp",
    "Comparison",
    "Entity",
    "FilterNode",
    "OrderKey",
    "parse_filter",
    "parse_order_by",
]


class Entity(enum.StrEnum):
    METRIC = "metrics"
    PARAM = "params"
    TAG = "tags"
    ATTRIBUTE = "attributes"
    DATASET = "datasets"


NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
#: Presence tests: a metric, param or tag the run has (not) logged; an attribute (not) set.
NULL_OPS = ("IS NULL", "IS NOT NULL")
NUMERIC_ATTRIBUTES = ("start_time", "end_time")
STRING_ATTRIBUTES = ("status", "run_name", "run_id", "experiment_id")
_ATTRIBUTE_ALIASES = {"name": "run_name"} | {a: a for a in NUMERIC_ATTRIBUTES + STRING_ATTRIBUTES}
_PREFIXES = {
    "metrics": Entity.METRIC,
    "metric": Entity.METRIC,
    "params": Entity.PARAM,
    "param": Entity.PARAM,
    "tags": Entity.TAG,
    "tag": Entity.TAG,
    "attributes": Entity.ATTRIBUTE,
    "attribute": Entity.ATTRIBUTE,
    "attr": Entity.ATTRIBUTE,
    "run": Entity.ATTRIBUTE,
    "datasets": Entity.DATASET,
    "dataset": Entity.DATASET,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """``<entity>.<key> <op> <value>``; ``value`` is a float/int, a string or a tuple of strings.

    ``IS NULL`` and ``IS NOT NULL`` have no value (None).
    """

    entity: Entity
    key: str
    op: str
    value: float | int | str | tuple[str, ...] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BoolOp:
    """``AND`` or ``OR`` of two or more nodes."""

    op: str
    operands: tuple[FilterNode, ...]


FilterNode = Comparison | BoolOp


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderKey:
    """One ``order_by`` item: ``metrics.auc DESC``."""

    entity: Entity
    key: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # WORD STRING QUOTED_KEY NUMBER OP LPAREN RPAREN COMMA END
    text: str
    pos: int


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<NUMBER>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<WORD>[A-Za-z_][A-Za-z0-9_.\-:]*)
  | (?P<STRING>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<QUOTED_KEY>`[^`]*`)
  | (?P<OP>!=|<>|<=|>=|==|=|<|>)
  | (?P<LPAREN>\()
  | (?P<RPAREN>\))
  | (?P<COMMA>,)
    """,
    re.VERBOSE,
)


def _fail(text: str, pos: int, token: str, expected: str) -> InvalidInput:
    shown = repr(token) if token else "the end"
    return InvalidInput(
        f"Invalid search filter at position {pos + 1} near {shown}: expected {expected}. "
        f"Filter: {text!r}. Example: metrics.auc > 0.8 and params.model = 'gbm'"
    )


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise _fail(text, pos, text[pos : pos + 10], "a name, operator, number or quoted string")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("END", "", len(text)))
    return tokens


def _unquote(token: _Token) -> str:
    body = token.text[1:-1]
    if token.kind == "QUOTED_KEY":
        return body
    quote = token.text[0]
    return re.sub(r"\\(.)", r"\1", body.replace(quote * 2, quote))


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    @property
    def peek(self) -> _Token:
        return self.tokens[self.index]

    def next(self) -> _Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def is_word(self, *words: str) -> bool:
        return self.peek.kind == "WORD" and self.peek.text.lower() in words

    def error(self, expected: str, token: _Token | None = None) -> InvalidInput:
        token = token or self.peek
        return _fail(self.text, token.pos, token.text, expected)

    def expect_end(self) -> None:
        if self.peek.kind != "END":
            raise self.error("'and', 'or' or the end of the filter")

    def or_expr(self) -> FilterNode:
        operands = [self.and_expr()]
        while self.is_word("or"):
            self.next()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else BoolOp(op="OR", operands=tuple(operands))

    def and_expr(self) -> FilterNode:
        operands = [self.primary()]
        while self.is_word("and"):
            self.next()
            operands.append(self.primary())
        return operands[0] if len(operands) == 1 else BoolOp(op="AND", operands=tuple(operands))

    def primary(self) -> FilterNode:
        if self.peek.kind == "LPAREN":
            self.next()
            node = self.or_expr()
            if self.peek.kind != "RPAREN":
                raise self.error("')'")
            self.next()
            return node
        return self.comparison()

    def identifier(self) -> tuple[Entity, str]:
        token = self.next()
        if token.kind != "WORD":
            raise self.error("a name such as metrics.auc, params.lr, tags.team or status", token)
        prefix, dot, key = token.text.partition(".")
        if not dot:
            return Entity.ATTRIBUTE, self._attribute(prefix, token)
        entity = _PREFIXES.get(prefix.lower())
        if entity is None:
            raise self.error("a prefix metrics., params., tags., attributes. or datasets.", token)
        if not key:
            quoted = self.next()
            if quoted.kind not in ("QUOTED_KEY", "STRING"):
                raise self.error(f"a key after '{prefix}.'", quoted)
            key = _unquote(quoted)
        if entity is Entity.ATTRIBUTE:
            key = self._attribute(key, token)
        elif entity is Entity.DATASET and key.lower() not in DATASET_KEYS:
            raise self.error(f"a dataset field ({', '.join(f'datasets.{k}' for k in DATASET_KEYS)})", token)
        elif entity is Entity.DATASET:
            key = key.lower()
        return entity, key

    def _attribute(self, name: str, token: _Token) -> str:
        canonical = _ATTRIBUTE_ALIASES.get(name.lower())
        if canonical is None:
            known = ", ".join(sorted(_ATTRIBUTE_ALIASES))
            raise self.error(f"an attribute ({known}) or metrics./params./tags.<key>", token)
        return canonical

    def operator(self) -> str:
        token = self.next()
        if token.kind == "OP":
            return {"<>": "!=", "==": "="}.get(token.text, token.text)
        if token.kind == "WORD":
            word = token.text.upper()
            if word in ("LIKE", "ILIKE", "IN"):
                return word
            if word == "NOT" and self.is_word("in"):
                self.next()
                return "NOT IN"
            if word == "IS":
                negated = self.is_word("not")
                if negated:
                    self.next()
                if self.is_word("null"):
                    self.next()
                    return "IS NOT NULL" if negated else "IS NULL"
                raise self.error("NULL after IS / IS NOT", self.peek)
        raise self.error(
            "an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL)", token
        )

    def comparison(self) -> Comparison:
        start = self.peek
        entity, key = self.identifier()
        op_token = self.peek
        op = self.operator()
        numeric = entity is Entity.METRIC or key in NUMERIC_ATTRIBUTES
        if op in NULL_OPS:
            if entity is Entity.DATASET:
                raise self.error(f"one of {', '.join(STRING_OPS)} for datasets.{key}", op_token)
            if entity is Entity.ATTRIBUTE and key != "end_time":
                raise self.error("IS NULL / IS NOT NULL on metrics., params., tags. or end_time", op_token)
            return Comparison(entity=entity, key=key, op=op, value=None)
        allowed = NUMERIC_OPS if numeric else STRING_OPS
        if op not in allowed:
            what = f"{entity.value}.{key}" if entity is not Entity.ATTRIBUTE else key
            raise self.error(f"one of {', '.join(allowed)} for {what}", op_token)
        value: float | int | str | tuple[str, ...]
        if numeric:
            value = self.number()
        elif op in ("IN", "NOT IN"):
            value = self.string_list()
        else:
            value = self.string()
        if entity is Entity.ATTRIBUTE and key == "status" and op not in ("LIKE", "ILIKE"):
            value = self._status(value, start)
        return Comparison(entity=entity, key=key, op=op, value=value)

    def number(self) -> float | int:
        token = self.next()
        if token.kind != "NUMBER":
            raise self.error("a number", token)
        text = token.text
        return int(text) if re.fullmatch(r"-?\d+", text) else float(text)

    def string(self) -> str:
        token = self.next()
        if token.kind != "STRING":
            raise self.error("a quoted string such as 'gbm'", token)
        return _unquote(token)

    def string_list(self) -> tuple[str, ...]:
        if self.next().kind != "LPAREN":
            raise self.error("'(' starting a list such as ('a', 'b')", self.tokens[self.index - 1])
        items = [self.string()]
        while self.peek.kind == "COMMA":
            self.next()
            items.append(self.string())
        if self.next().kind != "RPAREN":
            raise self.error("',' or ')'", self.tokens[self.index - 1])
        return tuple(items)

    def _status(self, value: object, token: _Token) -> str | tuple[str, ...]:
        names = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
        valid = {s.value for s in RunStatus}
        normalised = [str(n).upper() for n in names]
        for name in normalised:
            if name not in valid:
                raise self.error(f"a status among {', '.join(sorted(valid))}", token)
        return normalised[0] if isinstance(value, str) else tuple(normalised)


def parse_filter(text: str | None) -> FilterNode | None:
    """Parse a search filter into an AST; ``None`` or blank text means no filter.

    Raises:
        InvalidInput: naming the position and the token where parsing failed.
    """
    if text is None or not text.strip():
        return None
    parser = _Parser(text)
    node = parser.or_expr()
    parser.expect_end()
    return node


def parse_order_by(items: Sequence[str]) -> list[OrderKey]:
    """Parse ``order_by`` items like ``"metrics.auc DESC"`` or ``"start_time"``.

    Raises:
        InvalidInput: for an unknown column or a direction other than ASC/DESC.

    Example:
        >>> parse_order_by(["metrics.auc DESC"])[0].descending
        True
    """
    if isinstance(items, str):
        items = [items]
    keys = []
    for item in items:
        parser = _Parser(item)
        entity, key = parser.identifier()
        descending = False
        if parser.is_word("asc", "desc"):
            descending = parser.next().text.lower() == "desc"
        if parser.peek.kind != "END":
            raise parser.error("ASC, DESC or the end of the order_by item")
        if entity is Entity.DATASET:
            raise InvalidInput(
                f"Runs cannot be ordered by datasets.{key} (a run may have several inputs); "
                "order by metrics., params., tags. or an attribute."
            )
        keys.append(OrderKey(entity=entity, key=key, descending=descending))
    return keys
