"""Every router of the MLflow-compatible API, for the app factory to mount."""

from __future__ import annotations

from fastapi import APIRouter

from loopml.server.mlflow import (
    artifacts,
    listing,
    logged_models,
    metric_intervals,
    model_history,
    multipart,
    registry,
    traces,
    tracking,
)

__all__ = ["mlflow_routers"]


def mlflow_routers() -> list[APIRouter]:
    """The MLflow API's routers: tracking, logged models, the model registry, artifacts and traces."""
    return [
        tracking.router,
        metric_intervals.router,
        listing.router,
        model_history.router,
        logged_models.router,
        registry.router,
        artifacts.router,
        multipart.router,
        traces.router,
    ]
