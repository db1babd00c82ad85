"""The data schema: expected type, presence, domain, range and drift / skew comparators per feature.

``infer_schema(stats)`` proposes one; ``write_schema`` saves it as commented, editable YAML and
``read_schema`` loads it back, naming the line and field of any mistake.

Example:
    >>> import pyarrow as pa
    >>> from loopml.data.compute import compute_statistics
    >>> schema = infer_schema(compute_statistics(pa.table({"c": ["a", "b", "a"]})))
    >>> schema.get_feature("c").domain
    ('a', 'b')
    >>> parse_schema(dump_schema(schema)) == schema
    True
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from loopml.atomic_write import write_text_atomic
from loopml.data.drift import (
    CATEGORICAL_EFFECT_FLOOR,
    DEFAULT_ALPHA,
    NUMERIC_EFFECT_FLOOR,
    Comparator,
    ComparatorType,
)
from loopml.data.statistics import DatasetStatistics, FeatureStatistics, FeatureType
from loopml.errors import InvalidInput

__all__ = [
    "DEFAULT_JSD_THRESHOLD",
    "DEFAULT_L_INFINITY_THRESHOLD",
    "FeatureSchema",
    "Presence",
    "Schema",
    "dump_schema",
    "infer_schema",
    "parse_schema",
    "read_schema",
    "write_schema",
]

MAX_DOMAIN_SIZE = 100
MIN_ROWS_FOR_ID = 50
"""Rows a feature needs before "one distinct value per row" marks it as a row id."""
DEFAULT_L_INFINITY_THRESHOLD = 0.05
DEFAULT_JSD_THRESHOLD = 0.02
FORMAT = "loopml.schema"


@dataclass(frozen=True, slots=True, kw_only=True)
class Presence:
    """How often a feature must be present: fraction of examples and absolute count."""

    min_fraction: float = 0.0
    min_count: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_fraction <= 1.0:
            raise InvalidInput(f"presence.min_fraction must be in [0, 1]. Got {self.min_fraction!r}.")
        if self.min_count < 0:
            raise InvalidInput(f"presence.min_count must be >= 0. Got {self.min_count!r}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureSchema:
    """What is expected of one feature."""

    name: str
    type: FeatureType
    presence: Presence = Presence()
    domain: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    allow_nan: bool = False
    drift_comparator: Comparator | None = None
    skew_comparator: Comparator | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Schema:
    """The expected features of a dataset."""

    features: tuple[FeatureSchema, ...]

    def feature(self, name: str) -> FeatureSchema | None:
        """The schema of ``name``, or None."""
        return next((f for f in self.features if f.name == name), None)

    def get_feature(self, name: str) -> FeatureSchema:
        """The schema of ``name``.

        Raises:
            InvalidInput: no such feature.
        """
        found = self.feature(name)
        if found is None:
            raise InvalidInput(
                f"No feature {name!r} in the schema. Known: {', '.join(f.name for f in self.features)}"
            )
        return found

    def with_threshold(self, threshold: float) -> Schema:
        """A copy with every drift / skew threshold set to ``threshold`` (the ``--threshold`` shortcut)."""

        def fix(c: Comparator | None) -> Comparator | None:
            return None if c is None else replace(c, threshold=threshold)

        return Schema(
            features=tuple(
                replace(f, drift_comparator=fix(f.drift_comparator), skew_comparator=fix(f.skew_comparator))
                for f in self.features
            )
        )


def _default_comparator(f: FeatureStatistics) -> Comparator:
    if f.string_stats is not None:
        return Comparator(type=ComparatorType.CALIBRATED, threshold=CATEGORICAL_EFFECT_FLOOR)
    return Comparator(type=ComparatorType.CALIBRATED, threshold=NUMERIC_EFFECT_FLOOR)


def is_partition_like(f: FeatureStatistics) -> bool:
    """One value in the whole dataset: a partition key (``year=2015``) or a constant."""
    if f.num_non_missing == 0:
        return False
    if f.string_stats is not None:
        return f.string_stats.is_exact and f.string_stats.unique == 1
    s = f.num_stats
    return s is not None and s.num_nan == 0 and s.min == s.max


def is_id_like(f: FeatureStatistics, n: int) -> bool:
    """A distinct value on every row: a string id, or an integer id filling ``min..max``."""
    if n < MIN_ROWS_FOR_ID or f.num_non_missing != n:
        return False
    if f.string_stats is not None:
        return f.type is FeatureType.STRING and f.string_stats.unique == n
    s = f.num_stats
    if f.type is not FeatureType.INT or s is None or s.num_nan or not math.isfinite(s.max - s.min):
        return False
    if s.max - s.min + 1 != n:
        return False
    # n integers spanning exactly n values are all distinct only if evenly spread: check the quantiles
    span = s.max - s.min
    return all(abs(q.value - (s.min + q.rank * span)) <= 0.01 * span + 1 for q in s.quantiles)


def is_bool_int(f: FeatureStatistics) -> bool:
    """An INT feature whose values are all 0 or 1 (TFDV infers a ``bool_domain`` for it)."""
    s = f.num_stats
    return f.type is FeatureType.INT and s is not None and s.min == 0 and s.max == 1


def _infer_feature(f: FeatureStatistics, *, n: int, infer_ranges: bool, comparators: bool) -> FeatureSchema:
    always = n > 0 and f.num_non_missing == n
    presence = Presence(min_fraction=1.0 if always else 0.0, min_count=1 if f.num_non_missing else 0)
    bookkeeping = is_partition_like(f) or is_id_like(f, n)
    domain = None
    if (
        f.string_stats is not None
        and f.string_stats.is_exact
        and 0 < f.string_stats.unique <= MAX_DOMAIN_SIZE
        and not bookkeeping
    ):
        domain = tuple(sorted(b.label for b in f.string_stats.rank_histogram))
    lo = hi = None
    allow_nan = False
    if f.num_stats is not None:
        allow_nan = f.num_stats.num_nan > 0
        finite = math.isfinite(f.num_stats.min) and math.isfinite(f.num_stats.max)
        if infer_ranges and finite and not bookkeeping:
            lo, hi = f.num_stats.min, f.num_stats.max
    comp = _default_comparator(f) if comparators and not bookkeeping else None
    return FeatureSchema(
        name=f.name,
        type=FeatureType.BOOL if is_bool_int(f) else f.type,
        presence=presence,
        domain=domain,
        min=lo,
        max=hi,
        allow_nan=allow_nan,
        drift_comparator=comp,
        skew_comparator=comp,
    )


def infer_schema(stats: DatasetStatistics, *, infer_ranges: bool = False, comparators: bool = True) -> Schema:
    """Propose a schema from statistics, as TFDV's ``infer_schema`` does.

    Args:
        stats: Statistics of a representative (training) dataset.
        infer_ranges: Also require values within the observed [min, max].
        comparators: Add default drift and skew comparators: ``calibrated`` (significance at
            ``alpha`` 0.002 and an effect floor of L-infinity 0.01 for categorical features, JSD
            0.001 for numeric ones).

    Returns:
        A schema: every feature with its type, presence (``min_fraction`` 1 when always present),
        a domain for string features with at most 100 distinct values, type BOOL for INT
        features holding only 0 and 1 (TFDV's ``bool_domain``). Bookkeeping columns get no
        comparator, domain or range: row ids (a distinct value on every row: strings, or integers
        filling ``min..max``) and partition keys (one value in the whole dataset, e.g. ``year``
        read from ``year=2015/``), whose change between spans is expected, not drift.
    """
    return Schema(
        features=tuple(
            _infer_feature(f, n=stats.num_examples, infer_ranges=infer_ranges, comparators=comparators)
            for f in stats.features
        )
    )


# --- YAML -------------------------------------------------------------------------------------

_HEADER = """\
# loopml data schema: edit freely, then `loopml data validate STATS --schema THIS_FILE`.
# Per feature:
#   type: INT | FLOAT | STRING | BOOL
#   presence: min_fraction (0..1 of examples) and min_count (examples) that must have a value
#   domain: allowed string values (others raise ENUM_TYPE_UNEXPECTED_STRING_VALUES)
#   min / max: allowed numeric range (optional); allow_nan: whether NaN is expected
#   drift_comparator / skew_comparator: {type: calibrated | l_infinity | jensen_shannon | psi | ks |
#     wasserstein, threshold: number, method: quantile | tfdv (jensen_shannon, l_infinity), alpha: number
#     (calibrated only)}; remove to disable. `calibrated` alarms when the change is significant at
#     `alpha` (false-alarm rate per comparison) and its size exceeds `threshold` (L-infinity for
#     categorical features, Jensen-Shannon divergence for numeric ones).
#   Row ids and partition keys (one value in the whole dataset) get no comparator by default.
"""


def _comparator_dict(c: Comparator | None) -> dict[str, Any] | None:
    if c is None:
        return None
    out: dict[str, Any] = {"type": c.type.value, "threshold": c.threshold}
    if c.type is ComparatorType.JENSEN_SHANNON or (
        c.type is ComparatorType.L_INFINITY and c.method == "tfdv"
    ):
        out["method"] = c.method
    if c.type is ComparatorType.CALIBRATED:
        out["alpha"] = c.alpha
    return out


def _feature_dict(f: FeatureSchema) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": f.name,
        "type": f.type.value,
        "presence": {"min_fraction": f.presence.min_fraction, "min_count": f.presence.min_count},
    }
    if f.domain is not None:
        out["domain"] = list(f.domain)
    if f.min is not None:
        out["min"] = f.min
    if f.max is not None:
        out["max"] = f.max
    if f.type in (FeatureType.INT, FeatureType.FLOAT):
        out["allow_nan"] = f.allow_nan
    for key in ("drift_comparator", "skew_comparator"):
        value = _comparator_dict(getattr(f, key))
        if value is not None:
            out[key] = value
    return out


def dump_schema(schema: Schema) -> str:
    """The schema as commented YAML text."""
    parts = [_HEADER, f"format: {FORMAT}\nversion: 1\nfeatures:\n"]
    for f in schema.features:
        text = yaml.safe_dump([_feature_dict(f)], sort_keys=False, default_flow_style=None, width=100)
        parts.append(f"  # {f.name}: {f.type.value}\n" + "".join(f"  {line}\n" for line in text.splitlines()))
    return "".join(parts)


def write_schema(schema: Schema, path: str | os.PathLike[str]) -> Path:
    """Write the schema YAML atomically; returns the path."""
    return write_text_atomic(Path(path), dump_schema(schema))


class _Located:
    """A YAML mapping with the line of each key, for messages that point at the mistake."""

    def __init__(self, node: yaml.MappingNode, source: str, where: str) -> None:
        self.source, self.where, self.line = source, where, node.start_mark.line + 1
        self.items: dict[str, yaml.Node] = {}
        for key, value in node.value:
            self.items[str(key.value)] = value

    def error(self, field: str, message: str, node: yaml.Node | None = None) -> InvalidInput:
        line = node.start_mark.line + 1 if node is not None else self.line
        return InvalidInput(f"{self.source}, line {line}, field {self.where}{field}: {message}")

    def scalar(
        self, field: str, kind: type, *, default: Any = ..., choices: Mapping[str, Any] | None = None
    ) -> Any:
        node = self.items.get(field)
        if node is None:
            if default is ...:
                raise self.error(field, "is required.")
            return default
        value = yaml.safe_load(yaml.serialize(node))
        if choices is not None:
            if str(value) not in choices:
                raise self.error(field, f"must be one of {', '.join(choices)}. Got {value!r}.", node)
            return choices[str(value)]
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise self.error(field, f"must be {kind.__name__}. Got {value!r}.", node)
        return value

    def mapping(self, field: str) -> _Located | None:
        node = self.items.get(field)
        if node is None:
            return None
        if not isinstance(node, yaml.MappingNode):
            raise self.error(field, "must be a mapping (key: value lines).", node)
        return _Located(node, self.source, f"{self.where}{field}.")


def _comparator(loc: _Located | None) -> Comparator | None:
    if loc is None:
        return None
    kind = loc.scalar("type", str, choices={c.value: c for c in ComparatorType})
    threshold = loc.scalar("threshold", float)
    method = loc.scalar("method", str, default="quantile", choices={"quantile": "quantile", "tfdv": "tfdv"})
    if threshold < 0:
        raise loc.error("threshold", f"must be >= 0. Got {threshold!r}.", loc.items["threshold"])
    alpha = loc.scalar("alpha", float, default=DEFAULT_ALPHA)
    if not 0 < alpha < 1:
        raise loc.error("alpha", f"must be in (0, 1), e.g. 0.005. Got {alpha!r}.", loc.items["alpha"])
    return Comparator(type=kind, threshold=threshold, method=method, alpha=alpha)


def _feature(node: yaml.Node, source: str, index: int) -> FeatureSchema:
    if not isinstance(node, yaml.MappingNode):
        raise InvalidInput(f"{source}, line {node.start_mark.line + 1}: features[{index}] must be a mapping.")
    loc = _Located(node, source, f"features[{index}].")
    presence = loc.mapping("presence")
    domain_node = loc.items.get("domain")
    domain = None
    if domain_node is not None:
        if not isinstance(domain_node, yaml.SequenceNode):
            raise loc.error("domain", "must be a list of values.", domain_node)
        domain = tuple(str(v.value) for v in domain_node.value)
    pres = Presence()
    if presence is not None:
        fraction = presence.scalar("min_fraction", float, default=0.0)
        if not 0 <= fraction <= 1:
            raise presence.error(
                "min_fraction", f"must be in [0, 1]. Got {fraction!r}.", presence.items["min_fraction"]
            )
        count = presence.scalar("min_count", int, default=0)
        if count < 0:
            raise presence.error("min_count", f"must be >= 0. Got {count!r}.", presence.items["min_count"])
        pres = Presence(min_fraction=fraction, min_count=count)
    return FeatureSchema(
        name=loc.scalar("name", str),
        type=loc.scalar("type", str, choices={t.value: t for t in FeatureType}),
        presence=pres,
        domain=domain,
        min=loc.scalar("min", float, default=None),
        max=loc.scalar("max", float, default=None),
        allow_nan=loc.scalar("allow_nan", bool, default=False),
        drift_comparator=_comparator(loc.mapping("drift_comparator")),
        skew_comparator=_comparator(loc.mapping("skew_comparator")),
    )


def parse_schema(text: str, *, source: str = "schema") -> Schema:
    """Parse schema YAML.

    Raises:
        InvalidInput: not YAML, or a field is missing or wrong (names the line and the field).
    """
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise InvalidInput(f"{source}{where}: not valid YAML ({getattr(err, 'problem', err)}).") from err
    if not isinstance(root, yaml.MappingNode):
        raise InvalidInput(
            f"{source}: expected a mapping with 'features:'. Write it with `loopml data schema`."
        )
    top = _Located(root, source, "")
    top.scalar("format", str, default=FORMAT, choices={FORMAT: FORMAT})
    features = top.items.get("features")
    if not isinstance(features, yaml.SequenceNode):
        raise top.error("features", "is required and must be a list of features.", features)
    parsed = tuple(_feature(node, source, i) for i, node in enumerate(features.value))
    seen: set[str] = set()
    for i, f in enumerate(parsed):
        if f.name in seen:
            raise InvalidInput(
                f"{source}, line {features.value[i].start_mark.line + 1}, field features[{i}].name: "
                f"duplicate feature {f.name!r}."
            )
        seen.add(f.name)
    return Schema(features=parsed)


def read_schema(path: str | os.PathLike[str]) -> Schema:
    """Read a schema YAML file (TFDV ``schema.pbtxt``: :func:`loopml.data.tfdv_schema.read_tfdv_schema`).

    Raises:
        InvalidInput: unreadable or invalid file (names the line and the field).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(f"Cannot read schema {str(p)!r}: {err}.") from err
    return parse_schema(text, source=str(p))
