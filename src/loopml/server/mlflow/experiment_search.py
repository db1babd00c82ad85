"""MLflow's experiment search: its filter and order grammar over loopml's experiment list.

Filters are ``AND``-joined comparisons: ``name``/``attributes.name`` with ``=``, ``!=``,
``LIKE``, ``ILIKE``; ``tags.<key>`` with the same operators; ``creation_time`` and
``last_update_time`` with ``=  !=  <  <=  >  >=``. Order keys: ``name``, ``experiment_id``,
``creation_time``, ``last_update_time``, each ``ASC`` (default) or ``DESC``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from loopml.errors import InvalidInput
from loopml.store.entities import Experiment

__all__ = ["ExperimentFilter", "parse_experiment_filter", "sort_experiments"]

_COMPARISON = re.compile(
    r"""\s*(?P<ident>(?:attributes?\.|tags?\.)?(?:`[^`]+`|"[^"]+"|[A-Za-z_][\w.\-]*))\s*
    (?P<op>!=|<=|>=|=|<|>|\bI?LIKE\b)\s*
    (?P<value>'(?:[^']|'')*'|"[^"]*"|-?\d+)\s*""",
    re.VERBOSE | re.IGNORECASE,
)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)
_NUMERIC = ("creation_time", "last_update_time")
_EXAMPLE = "Example: name LIKE 'churn%' AND tags.team = 'growth'"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Clause:
    field: str  # "name", "creation_time", "last_update_time" or "tags.<key>"
    op: str
    value: str | int


def _like(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _unquote(text: str) -> str:
    if text[:1] in "`\"'" and text[-1:] == text[:1]:
        return text[1:-1].replace("''", "'") if text[0] == "'" else text[1:-1]
    return text


def _clause(text: str, whole: str) -> _Clause:
    found = _COMPARISON.fullmatch(text)
    if found is None:
        raise InvalidInput(f"Invalid experiment filter {whole!r} near {text.strip()!r}. {_EXAMPLE}")
    ident, op, raw = found["ident"], found["op"].upper(), found["value"]
    prefix, _, rest = ident.partition(".")
    if prefix.lower() in ("tag", "tags") and rest:
        field = "tags." + _unquote(rest)
    else:
        field = _unquote(rest if prefix.lower() in ("attribute", "attributes") and rest else ident).lower()
    if field not in ("name", *_NUMERIC) and not field.startswith("tags."):
        raise InvalidInput(
            f"Unknown experiment attribute {ident!r} in filter {whole!r}; use name, creation_time, "
            f"last_update_time or tags.<key>. {_EXAMPLE}"
        )
    numeric = field in _NUMERIC
    if numeric != raw.lstrip("-").isdigit() or (numeric and "LIKE" in op):
        raise InvalidInput(
            f"{field} {op} {raw} in filter {whole!r} compares the wrong kind of value: "
            f"times take numbers with = != < <= > >=, names and tags take quoted strings. {_EXAMPLE}"
        )
    if not numeric and op in ("<", "<=", ">", ">="):
        raise InvalidInput(f"{field} takes =, !=, LIKE or ILIKE; got {op} in filter {whole!r}.")
    return _Clause(field=field, op=op, value=int(raw) if numeric else _unquote(raw))


def _test(clause: _Clause) -> Callable[[Experiment], bool]:
    def value_of(experiment: Experiment) -> str | int | None:
        if clause.field == "name":
            return experiment.name
        if clause.field in _NUMERIC:
            return experiment.created_at
        return experiment.tags.get(clause.field[len("tags.") :])

    op, wanted = clause.op, clause.value
    if op in ("LIKE", "ILIKE"):
        pattern = _like(str(wanted), ignore_case=op == "ILIKE")
        return lambda e: isinstance(v := value_of(e), str) and pattern.match(v) is not None
    compare: dict[str, Callable[[str | int, str | int], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,  # type: ignore[operator]
        "<=": lambda a, b: a <= b,  # type: ignore[operator]
        ">": lambda a, b: a > b,  # type: ignore[operator]
        ">=": lambda a, b: a >= b,  # type: ignore[operator]
    }
    check = compare[op]
    return lambda e: (v := value_of(e)) is not None and check(v, wanted)


@dataclass(frozen=True, slots=True)
class ExperimentFilter:
    """A parsed experiment filter; call it on an experiment."""

    tests: tuple[Callable[[Experiment], bool], ...]

    def __call__(self, experiment: Experiment) -> bool:
        return all(test(experiment) for test in self.tests)


def parse_experiment_filter(text: str | None) -> ExperimentFilter:
    """Parse an MLflow experiment filter (empty: everything).

    Raises:
        InvalidInput: naming the part that does not parse and showing an example.

    Example:
        >>> from loopml.store.entities import Experiment
        >>> keep = parse_experiment_filter("name LIKE 'churn%'")
        >>> keep(Experiment(experiment_id="1", name="churn-v2", created_at=0))
        True
    """
    if not text or not text.strip():
        return ExperimentFilter(())
    return ExperimentFilter(tuple(_test(_clause(part, text)) for part in _AND.split(text)))


def sort_experiments(experiments: list[Experiment], order_by: Sequence[str]) -> list[Experiment]:
    """``experiments`` in MLflow's order: ``order_by`` items, then newest first, then by id.

    Raises:
        InvalidInput: for an unknown order key or direction.
    """
    ordered = sorted(experiments, key=lambda e: e.experiment_id)
    ordered.sort(key=lambda e: e.created_at, reverse=True)
    keys: dict[str, Callable[[Experiment], str | int]] = {
        "name": lambda e: e.name,
        "experiment_id": lambda e: e.experiment_id,
        "creation_time": lambda e: e.created_at,
        "last_update_time": lambda e: e.created_at,
    }
    for item in reversed(order_by):
        words = item.split()
        column = words[0].lower().removeprefix("attributes.").removeprefix("attribute.") if words else ""
        direction = words[1].upper() if len(words) > 1 else "ASC"
        if column not in keys or direction not in ("ASC", "DESC") or len(words) > 2:
            raise InvalidInput(
                f"Invalid experiment order_by {item!r}: use one of {sorted(keys)} then ASC or DESC."
            )
        ordered.sort(key=keys[column], reverse=direction == "DESC")
    return ordered
