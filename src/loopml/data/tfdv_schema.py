"""Import a TFDV / TFX ``schema.pbtxt`` (needs ``tensorflow-metadata``, no TensorFlow).

Maps each feature's type (BYTES → STRING, INT, FLOAT, BOOL via ``bool_domain``), presence,
string domain (inline or a named top-level ``string_domain``), ``int_domain`` / ``float_domain``
ranges and ``drift_comparator`` / ``skew_comparator`` (``infinity_norm`` → ``l_infinity``,
``jensen_shannon_divergence`` → ``jensen_shannon`` with ``method: tfdv``, TFDV's own method).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from loopml.data.drift import Comparator, ComparatorType
from loopml.data.schema import FeatureSchema, Presence, Schema
from loopml.data.statistics import FeatureType
from loopml.errors import InvalidInput, require_extra

__all__ = ["read_tfdv_schema"]


def _comparator(message: Any) -> Comparator | None:
    if message.HasField("infinity_norm") and message.infinity_norm.HasField("threshold"):
        return Comparator(
            type=ComparatorType.L_INFINITY, threshold=message.infinity_norm.threshold, method="tfdv"
        )
    jsd = message.jensen_shannon_divergence
    if message.HasField("jensen_shannon_divergence") and jsd.HasField("threshold"):
        return Comparator(type=ComparatorType.JENSEN_SHANNON, threshold=jsd.threshold, method="tfdv")
    return None


def _feature(f: Any, domains: dict[str, tuple[str, ...]]) -> FeatureSchema:
    kind = f.WhichOneof("domain_info")
    ftype = {1: FeatureType.STRING, 2: FeatureType.INT, 3: FeatureType.FLOAT}.get(f.type)
    if kind == "bool_domain":
        ftype = FeatureType.BOOL
    if ftype is None:
        raise InvalidInput(f"Feature {f.name!r} has a type loopml does not validate (STRUCT). Remove it.")
    domain = None
    lo = hi = None
    if kind == "domain":
        if f.domain not in domains:
            raise InvalidInput(f"Feature {f.name!r} names string_domain {f.domain!r}, which is not defined.")
        domain = domains[f.domain]
    elif kind == "string_domain":
        domain = tuple(f.string_domain.value)
    elif kind in ("int_domain", "float_domain"):
        d = getattr(f, kind)
        lo = float(d.min) if d.HasField("min") else None
        hi = float(d.max) if d.HasField("max") else None
    presence = Presence(
        min_fraction=f.presence.min_fraction if f.HasField("presence") else 0.0,
        min_count=int(f.presence.min_count) if f.HasField("presence") else 0,
    )
    return FeatureSchema(
        name=f.name,
        type=ftype,
        presence=presence,
        domain=domain,
        min=lo,
        max=hi,
        allow_nan=not (kind == "float_domain" and f.float_domain.disallow_nan),
        drift_comparator=_comparator(f.drift_comparator) if f.HasField("drift_comparator") else None,
        skew_comparator=_comparator(f.skew_comparator) if f.HasField("skew_comparator") else None,
    )


def read_tfdv_schema(path: str | os.PathLike[str]) -> Schema:
    """Read a TFDV ``schema.pbtxt`` (text protobuf of ``tensorflow_metadata`` ``Schema``).

    Raises:
        MissingDependency: ``tensorflow-metadata`` is not installed.
        InvalidInput: the file is not a valid text-format schema (names line and column).
    """
    require_extra("tensorflow_metadata", extra="tfdv", feature="Importing a TFDV schema.pbtxt")
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    p = Path(path)
    try:
        message = text_format.Parse(p.read_text(encoding="utf-8"), schema_pb2.Schema())
    except OSError as err:
        raise InvalidInput(f"Cannot read {str(p)!r}: {err}.") from err
    except text_format.ParseError as err:
        raise InvalidInput(f"{p}: not a TFDV schema ({err}). Fix the text protobuf.") from err
    domains = {d.name: tuple(d.value) for d in message.string_domain}
    return Schema(features=tuple(_feature(f, domains) for f in message.feature))
