"""A deployment's monitoring: its windows, drift and performance over time, label coverage, alerts.

Read only, over the windows ``loopml monitor run`` (or ``loopml server --monitor-every``) stored;
shown to whoever may see the deployment (:func:`~loopml.server.ui.deployments.visible_deployment`).
The charts are drawn in the browser from their JSON, each also served as CSV.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from loopml.errors import InvalidInput, NotFound
from loopml.monitor.alerts import AlertStatus
from loopml.monitor.records import WindowRecord
from loopml.monitor.service import MonitorService, MonitorStatus, WindowSummary
from loopml.monitor.targets import Target, model_of_uri
from loopml.server._visibility import visibility_of
from loopml.server.ui._render import chart_data, page
from loopml.server.ui._session import UI_PREFIX
from loopml.server.ui.deployments import visible_deployment
from loopml.services import Services
from loopml.ui import CHARTS, drift_flags, evidence_lines, monitor_chart, performance_metric, window_rows

__all__ = ["router"]

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)
#: The charts cover the latest this many windows; the table lists the latest TABLE_ROWS.
MAX_WINDOWS = 1_000
TABLE_ROWS = 200
ALERTS = 200
Window = Annotated[str | None, Query(max_length=40, description="hour, day or requests:N")]


def _windows(
    request: Request, name: str, window: str | None
) -> tuple[Target, MonitorStatus | None, str | None, list[WindowRecord]]:
    """The target, where monitoring stands (None: nothing monitored yet), the kind shown, its windows.

    The windows are read once (:meth:`MonitorService.view`), for the status and the kind shown.
    """
    visible_deployment(request, name)
    monitor: MonitorService = _services(request).monitor()
    target = monitor.target(name)
    try:
        view = monitor.view(target, window=window)
    except NotFound:
        return target, None, None, []
    return target, view.status, view.kind, list(view.records[-MAX_WINDOWS:])


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@dataclass(frozen=True, slots=True, kw_only=True)
class _Entry:
    """One deployment on the overview: its windows, the latest one and how many alerts are open."""

    name: str
    model: str | None
    windows: int
    latest: WindowRecord | None
    drifted: tuple[str, ...]
    open_alerts: int


@router.get("/monitoring")
def monitoring_index(request: Request) -> HTMLResponse:
    """Every deployment the caller sees, with its latest window and its open alerts.

    A bounded number of queries whatever the number of deployments: the deployments, the open
    alerts, and each deployment's window count and latest window (:meth:`MonitorService.summaries`).
    """
    services = _services(request)
    visible = visibility_of(request)
    summaries = services.monitor().summaries()
    open_alerts = Counter(a.deployment for a in services.alerts().list(status=AlertStatus.OPEN, limit=10_000))
    entries = [
        _entry(d.name, d.spec.primary, summaries.get(d.name), open_alerts[d.name])
        for d in sorted(services.deployments.list(), key=lambda d: d.name)
        if visible.shows_deployment(d.spec.model_uris())
    ]
    return page(request, "monitoring_index.html", entries=entries)


def _entry(name: str, primary: str, summary: WindowSummary | None, open_alerts: int) -> _Entry:
    try:
        model: str | None = model_of_uri(primary)
    except InvalidInput:  # a primary that is no registry URI
        model = None
    latest = summary.latest if summary else None
    return _Entry(
        name=name,
        model=model,
        windows=summary.windows if summary else 0,
        latest=latest,
        drifted=drift_flags(latest) if latest else (),
        open_alerts=open_alerts,
    )


@router.get("/deployments/{name}/monitoring")
def monitoring_page(request: Request, name: str, window: Window = None) -> HTMLResponse:
    target, status, kind, records = _windows(request, name, window)
    alerts = _services(request).alerts().list(name, limit=ALERTS)
    charts = [c for c in CHARTS if monitor_chart(records, c).has_data]
    return page(
        request,
        "monitoring.html",
        name=name,
        target=target,
        monitored=status,
        kind=kind,
        records=records,
        rows=window_rows(records)[:TABLE_ROWS],
        metric=performance_metric(records),
        charts=charts,
        titles=CHARTS,
        open_alerts=[a for a in alerts if a.is_open],
        resolved_alerts=[a for a in alerts if not a.is_open],
        evidence=evidence_lines,
    )


@router.get("/deployments/{name}/monitoring/{chart}.{fmt}")
def monitoring_chart(request: Request, name: str, chart: str, fmt: str, window: Window = None) -> Response:
    """One chart's series as JSON (what the page draws) or CSV (one column per line)."""
    if fmt not in ("json", "csv"):
        raise NotFound(f"No format {fmt!r}; ask for {chart}.json or {chart}.csv.")
    _, _, _, records = _windows(request, name, window)
    found = monitor_chart(records, chart)
    if fmt == "json":
        return chart_data(found.payload())
    header, rows = found.rows()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8")
