"""Liveness (``/healthz``) and readiness (``/readyz``: the metadata store answers)."""

from __future__ import annotations

from fastapi import APIRouter

from loopml.errors import LoopmlError, StoreUnavailable
from loopml.server._deps import StoreDep
from loopml.server.schemas.common import ERROR_RESPONSES, Wire

__all__ = ["router"]

router = APIRouter(tags=["health"], responses={503: ERROR_RESPONSES[503]})


class Health(Wire):
    status: str


@router.get("/healthz")
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz")
def readyz(store: StoreDep) -> Health:
    try:
        store.experiments.find_by_name("__readiness_probe__")
    except LoopmlError as err:
        raise StoreUnavailable(f"The metadata store at {store.url} does not answer: {err}") from err
    return Health(status="ready")
