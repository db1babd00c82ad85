"""Pydantic wire schemas of the REST API (domain dataclasses <-> JSON); strict, closed, bounded."""

from loopml.server.schemas.common import Wire, WireFloat, from_wire_float, to_wire_float
from loopml.server.schemas.lineage import ArtifactCreate, ArtifactOut, BlobOut, ExecutionOut
from loopml.server.schemas.tracking import ExperimentOut, MetricWire, RunOut

__all__ = [
    "ArtifactCreate",
    "ArtifactOut",
    "BlobOut",
    "ExecutionOut",
    "ExperimentOut",
    "MetricWire",
    "RunOut",
    "Wire",
    "WireFloat",
    "from_wire_float",
    "to_wire_float",
]
