"""Wire types of the monitoring API: a monitoring pass asked for by a caller."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from loopml.server.schemas.common import Wire

__all__ = ["MonitorRun"]

Column = Annotated[str, Field(min_length=1, max_length=200)]


class MonitorRun(Wire):
    """``POST /api/v1/deployments/{name}/monitoring/run``: what ``loopml monitor run`` passes on."""

    window: Annotated[str, Field(max_length=32, pattern=r"^(hour|day|requests:[1-9][0-9]{0,8})$")] = "hour"
    slices: Annotated[list[Column], Field(max_length=20)] = Field(default_factory=list)
    key_field: Column | None = None
    label_horizon: Annotated[str, Field(min_length=1, max_length=32)] = "7d"
    now: Annotated[str | None, Field(max_length=64, description="Compute as of (ISO 8601).")] = None
