"""Datasets: versions, statistics per feature (distribution, missing, zeros, top values), schema."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from loopml.artifacts import BlobStore
from loopml.data import DatasetStatistics, DatasetVersions
from loopml.data.derived import DerivedStatistics
from loopml.errors import LoopmlError
from loopml.security.auth import ResourceKind
from loopml.server._deps import Blobs, StoreDep
from loopml.server._visibility import visibility_of
from loopml.server.ui._render import page
from loopml.server.ui._session import UI_PREFIX
from loopml.store.entities import Artifact, EventType
from loopml.ui import bar_chart

__all__ = ["router"]

router = APIRouter(prefix=f"{UI_PREFIX}/datasets", include_in_schema=False)
_MAX_DOC = 32 * 1024 * 1024  # statistics, schema and anomalies documents read for a page
Name = Annotated[str | None, Query(max_length=200)]


@router.get("")
def datasets(request: Request, store: StoreDep, blobs: Blobs) -> HTMLResponse:
    visible = visibility_of(request)
    found = [a for a in DatasetVersions(store, blobs).list() if visible.shows(ResourceKind.DATASET, a.name)]
    latest: dict[str, Artifact] = {}
    counts: dict[str, int] = {}
    for a in found:
        counts[a.name] = counts.get(a.name, 0) + 1
        if a.name not in latest or (a.version or 0) > (latest[a.name].version or 0):
            latest[a.name] = a
    return page(request, "datasets.html", latest=sorted(latest.values(), key=lambda a: a.name), counts=counts)


@router.get("/{dataset}")
def dataset_versions(request: Request, dataset: str, store: StoreDep, blobs: Blobs) -> HTMLResponse:
    versions = sorted(DatasetVersions(store, blobs).list(dataset), key=lambda a: -(a.version or 0))
    return page(request, "dataset.html", name=dataset, versions=versions)


@router.get("/{dataset}/versions/{version}")
def dataset_version(
    request: Request,
    dataset: str,
    version: int,
    store: StoreDep,
    blobs: Blobs,
    stats: Name = None,
    split: Name = None,
) -> HTMLResponse:
    found = DatasetVersions(store, blobs).get(f"{dataset}@{version}")
    finder = DerivedStatistics(store, blobs)
    computed = finder.list(found)
    chosen = next((s for s in computed if s.artifact_id == stats), computed[-1] if computed else None)
    statistics, error = None, None
    if chosen is not None:
        wanted = split or (chosen.splits[0] if chosen.splits else None)
        try:
            doc = finder.document(chosen, split=wanted)
            raw = blobs.read_bytes(doc.sha256, label=doc.label, size=doc.size)
            statistics = DatasetStatistics.from_json(raw, source=doc.label)
        except LoopmlError as err:
            error = str(err)
    outputs = _outputs_of(store, found.artifact_id)
    return page(
        request,
        "dataset_version.html",
        v=found,
        computed=computed,
        chosen=chosen,
        split=split,
        statistics=statistics,
        error=error,
        charts=_charts(statistics),
        schemas=[(a, _text(blobs, a)) for a in outputs if a.type == "Schema"][-1:],
        anomalies=[(a, _anomalies(blobs, a)) for a in outputs if a.type == "Anomalies"][-1:],
    )


def _outputs_of(store: Any, artifact_id: str) -> list[Artifact]:
    """Artifacts written by executions that read ``artifact_id`` (schema, anomalies ...), oldest first."""
    found: list[Artifact] = []
    for event in store.lineage.list_events(artifact_id=artifact_id):
        if event.type is not EventType.INPUT:
            continue
        for out in store.lineage.list_events(execution_id=event.execution_id):
            if out.type is EventType.OUTPUT:
                found.append(store.artifacts.get(out.artifact_id))
    return sorted(found, key=lambda a: a.created_at)


def _text(blobs: BlobStore, artifact: Artifact) -> str:
    if not artifact.sha256 or (artifact.size or 0) > _MAX_DOC:
        return ""
    try:
        return blobs.read_bytes(artifact.sha256, label=f"{artifact.type} {artifact.name}").decode(
            "utf-8", "replace"
        )
    except LoopmlError as err:
        return f"({err})"


def _anomalies(blobs: BlobStore, artifact: Artifact) -> list[dict[str, Any]]:
    try:
        doc = json.loads(_text(blobs, artifact) or "{}")
    except ValueError:
        return []
    found = doc.get("anomalies", []) if isinstance(doc, dict) else []
    return [a for a in found if isinstance(a, dict)]


def _charts(statistics: DatasetStatistics | None) -> dict[str, Any]:
    """Per feature: a bar chart of its equal-width histogram (numbers) or top values (strings)."""
    charts: dict[str, Any] = {}
    for f in statistics.features if statistics is not None else ():
        if f.num_stats is not None and f.num_stats.histograms:
            histogram = f.num_stats.histograms[0]
            items = [(f"{b.low_value:.4g} to {b.high_value:.4g}", b.sample_count) for b in histogram.buckets]
            charts[f.name] = bar_chart(items)
        elif f.string_stats is not None and f.string_stats.top_values:
            charts[f.name] = bar_chart([(v.value, v.frequency) for v in f.string_stats.top_values[:20]])
    return charts
