"""The search filter parser alone: AST shapes, operators, quoting, numbers and error positions."""

from __future__ import annotations

import re

import pytest

from loopml.errors import InvalidInput
from loopml.store.search import BoolOp, Comparison, Entity, OrderKey, parse_filter, parse_order_by


def test_simple_comparison() -> None:
    assert parse_filter("metrics.auc > 0.8") == Comparison(entity=Entity.METRIC, key="auc", op=">", value=0.8)


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_numeric_operators(op: str) -> None:
    node = parse_filter(f"metrics.loss {op} 1")
    assert isinstance(node, Comparison) and node.op == op and node.value == 1


@pytest.mark.parametrize(
    ("text", "value"), [("-1", -1), ("1e3", 1000.0), ("-2.5E-2", -0.025), (".5", 0.5), ("3.", 3.0)]
)
def test_numbers(text: str, value: float) -> None:
    node = parse_filter(f"metrics.x = {text}")
    assert isinstance(node, Comparison) and node.value == value


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("params.m = 'gbm'", "=", "gbm"),
        ('params.m != "gbm"', "!=", "gbm"),
        ("params.m like 'g%'", "LIKE", "g%"),
        ("params.m ILIKE 'G%'", "ILIKE", "G%"),
        ("params.m in ('a', \"b\")", "IN", ("a", "b")),
        ("params.m NOT IN ('a')", "NOT IN", ("a",)),
        ("params.m = 'it''s'", "=", "it's"),
        ("params.m = 'it\\'s'", "=", "it's"),
    ],
)
def test_string_operators(text: str, op: str, value: object) -> None:
    node = parse_filter(text)
    assert isinstance(node, Comparison) and (node.op, node.value) == (op, value)


@pytest.mark.parametrize(
    ("text", "entity", "key"),
    [
        ("metrics.`my key` > 1", Entity.METRIC, "my key"),
        ("tags.\"a b\" = 'x'", Entity.TAG, "a b"),
        ("metrics.train-loss.avg < 1", Entity.METRIC, "train-loss.avg"),
        ("attributes.status = 'running'", Entity.ATTRIBUTE, "status"),
        ("run_name = 'x'", Entity.ATTRIBUTE, "run_name"),
        ("start_time > 5", Entity.ATTRIBUTE, "start_time"),
        ("attr.end_time < 5", Entity.ATTRIBUTE, "end_time"),
        ("attributes.run_id = 'abc'", Entity.ATTRIBUTE, "run_id"),
    ],
)
def test_identifiers(text: str, entity: Entity, key: str) -> None:
    node = parse_filter(text)
    assert isinstance(node, Comparison) and (node.entity, node.key) == (entity, key)


def test_status_is_normalised() -> None:
    node = parse_filter("status = 'finished'")
    assert isinstance(node, Comparison) and node.value == "FINISHED"


def test_and_or_precedence_and_parentheses() -> None:
    node = parse_filter("metrics.a > 1 OR metrics.b > 2 AND params.c = 'x'")
    assert isinstance(node, BoolOp) and node.op == "OR"
    assert isinstance(node.operands[1], BoolOp) and node.operands[1].op == "AND"
    grouped = parse_filter("(metrics.a > 1 or metrics.b > 2) and params.c = 'x'")
    assert isinstance(grouped, BoolOp) and grouped.op == "AND"
    assert isinstance(grouped.operands[0], BoolOp) and grouped.operands[0].op == "OR"


def test_presence_tests() -> None:
    assert parse_filter("tags.team IS NULL") == Comparison(
        entity=Entity.TAG, key="team", op="IS NULL", value=None
    )
    assert parse_filter("metrics.`a b` is not null") == Comparison(
        entity=Entity.METRIC, key="a b", op="IS NOT NULL", value=None
    )
    with pytest.raises(InvalidInput, match="NULL after IS"):
        parse_filter("params.x IS 'a'")
    with pytest.raises(InvalidInput, match="end_time"):
        parse_filter("run_name IS NULL")


def test_blank_filter() -> None:
    assert parse_filter(None) is None and parse_filter("   ") is None


@pytest.mark.parametrize(
    ("text", "position", "token"),
    [
        ("metrics.auc >", 14, "the end"),
        ("metrics.auc ~ 1", 13, "'~ 1'"),
        ("metrics.auc LIKE 'x'", 13, "'LIKE'"),
        ("params.m > 'x'", 10, "'>'"),
        ("params.m = 3", 12, "'3'"),
        ("bogus = 1", 1, "'bogus'"),
        ("things.x = 1", 1, "'things.x'"),
        ("metrics.a > 1 metrics.b > 2", 15, "'metrics.b'"),
        ("(metrics.a > 1", 15, "the end"),
        ("params.m IN 'a'", 13, "'a'"),
        ("status = 'sleeping'", 1, "'status'"),
        ("params.m = 'unterminated", 12, "'''unterminat"),
    ],
)
def test_errors_name_position_and_token(text: str, position: int, token: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_filter(text)
    message = str(info.value)
    assert f"position {position} " in message
    assert token.strip("'")[:5] in message


def test_dataset_fields() -> None:
    node = parse_filter("datasets.name = 'train' and dataset.Context IN ('eval')")
    assert isinstance(node, BoolOp)
    assert [(c.entity, c.key, c.op) for c in node.operands] == [  # type: ignore[union-attr]
        (Entity.DATASET, "name", "="),
        (Entity.DATASET, "context", "IN"),
    ]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("datasets.name > 'x'", "one of =, !=, LIKE, ILIKE, IN, NOT IN for datasets.name"),
        ("datasets.digest IS NULL", "for datasets.digest"),
        ("datasets.schema = 'x'", "datasets.name, datasets.digest, datasets.context"),
        ("datasets.name = 3", "a quoted string"),
    ],
)
def test_dataset_errors(text: str, needle: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(needle)):
        parse_filter(text)


def test_order_by_dataset_is_refused() -> None:
    with pytest.raises(InvalidInput, match="several inputs"):
        parse_order_by(["datasets.name"])


def test_order_by() -> None:
    assert parse_order_by(["metrics.auc DESC", "start_time", "params.`x y` asc"]) == [
        OrderKey(entity=Entity.METRIC, key="auc", descending=True),
        OrderKey(entity=Entity.ATTRIBUTE, key="start_time"),
        OrderKey(entity=Entity.PARAM, key="x y"),
    ]


@pytest.mark.parametrize("item", ["metrics.auc DOWN", "", "nope", "metrics.auc desc extra"])
def test_order_by_errors(item: str) -> None:
    with pytest.raises(InvalidInput):
        parse_order_by([item])
