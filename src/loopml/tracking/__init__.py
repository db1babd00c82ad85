"""Experiment tracking: the client, runs, metrics, artifacts, reproducibility records and lineage."""

from loopml.tracking.active_run import ActiveRun
from loopml.tracking.client import DEFAULT_EXPERIMENT, Client
from loopml.tracking.lineage import (
    LineageEdge,
    LineageGraph,
    LineageNode,
    NodeKind,
    record_execution,
    walk,
)
from loopml.tracking.reproducibility import ReproductionSteps, capture, reproduction_steps

__all__ = [
    "DEFAULT_EXPERIMENT",
    "ActiveRun",
    "Client",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "NodeKind",
    "ReproductionSteps",
    "capture",
    "record_execution",
    "reproduction_steps",
    "walk",
]
