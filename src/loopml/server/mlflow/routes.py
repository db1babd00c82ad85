"""Every router of the MLflow-compatible API, for the app factory to mount."""

from __future__ import annotations

from fastapi import APIRouter

from loopml.server.mlflow import artifacts, tracking

__all__ = ["mlflow_routers"]


def mlflow_routers() -> list[APIRouter]:
    """The MLflow API's routers (tracking; artifacts and registry when mounted)."""
    return [tracking.router, artifacts.router]
