"""Wire schemas of experiments, runs, metrics and run search."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from loopml.server.schemas.common import (
    Id,
    Int64,
    Key,
    MaxResults,
    Millis,
    Name,
    PageToken,
    RecordKey,
    Text,
    Wire,
    WireFloat,
    to_wire_float,
)
from loopml.store.entities import Experiment, Metric, Page, Run

__all__ = [
    "ExperimentCreate",
    "ExperimentList",
    "ExperimentName",
    "ExperimentOut",
    "LogBatch",
    "MetricHistory",
    "MetricWire",
    "ReproducibilitySet",
    "RunCreate",
    "RunOut",
    "RunPage",
    "RunSearch",
    "RunStatusUpdate",
    "TagSet",
]

Stage = Literal["active", "deleted"]
Status = Literal["RUNNING", "FINISHED", "FAILED", "KILLED"]
#: Run tags and params: keys may hold ``/`` (``train/loss``).
Tags = Annotated[dict[RecordKey, Text], Field(max_length=10_000)]
#: Experiment tags: plain keys.
ExperimentTags = Annotated[dict[Key, Text], Field(max_length=10_000)]


class ExperimentCreate(Wire):
    name: Key
    tags: ExperimentTags | None = None


class ExperimentName(Wire):
    name: Key


class TagSet(Wire):
    key: Key
    value: Text


class ExperimentOut(Wire):
    experiment_id: str
    name: str
    lifecycle_stage: Stage
    created_at: int
    tags: dict[str, str]

    @classmethod
    def of(cls, exp: Experiment) -> ExperimentOut:
        return cls(
            experiment_id=exp.experiment_id,
            name=exp.name,
            lifecycle_stage=exp.lifecycle_stage.value,
            created_at=exp.created_at,
            tags=dict(exp.tags),
        )


class ExperimentList(Wire):
    experiments: list[ExperimentOut]


class RunCreate(Wire):
    experiment_id: Id
    name: Name | None = None
    parent_run_id: Id | None = None
    start_time: Millis | None = None
    tags: Tags | None = None


class RunStatusUpdate(Wire):
    status: Status
    end_time: Millis | None = None
    error: Text | None = None


class MetricWire(Wire):
    key: RecordKey
    value: WireFloat
    step: Int64 = 0
    timestamp: Millis

    @classmethod
    def of(cls, point: Metric) -> MetricWire:
        return cls(
            key=point.key, value=to_wire_float(point.value), step=point.step, timestamp=point.timestamp
        )


class LogBatch(Wire):
    metrics: list[MetricWire] = Field(default_factory=list)
    params: Tags | None = None
    tags: Tags | None = None


class MetricHistory(Wire):
    metrics: list[MetricWire]


class ReproducibilitySet(Wire):
    record: dict[str, Any]


class RunOut(Wire):
    run_id: str
    experiment_id: str
    name: str
    status: Status
    start_time: int
    end_time: int | None
    parent_run_id: str | None
    lifecycle_stage: Stage
    params: dict[str, str]
    metrics: dict[str, WireFloat]
    tags: dict[str, str]
    error: str | None
    reproducibility: dict[str, Any]

    @classmethod
    def of(cls, run: Run) -> RunOut:
        return cls(**cls.wire(run))

    @staticmethod
    def wire(run: Run) -> dict[str, Any]:
        """The JSON object of ``run`` without building the model (a run is already validated)."""
        return {
            "run_id": run.run_id,
            "experiment_id": run.experiment_id,
            "name": run.name,
            "status": run.status.value,
            "start_time": run.start_time,
            "end_time": run.end_time,
            "parent_run_id": run.parent_run_id,
            "lifecycle_stage": run.lifecycle_stage.value,
            "params": dict(run.params),
            "metrics": {k: to_wire_float(v) for k, v in run.metrics.items()},
            "tags": dict(run.tags),
            "error": run.error,
            "reproducibility": dict(run.reproducibility),
        }


class RunSearch(Wire):
    experiment_ids: Annotated[list[Id], Field(max_length=1_000)]
    filter: (
        Annotated[
            str,
            Field(
                max_length=10_000,
                description="A search expression, e.g. `metrics.auc > 0.8 and params.model = 'gbm'`; "
                "one that does not parse answers 400 naming the position.",
            ),
        ]
        | None
    ) = None
    order_by: Annotated[
        list[Annotated[str, Field(max_length=1_000)]],
        Field(
            max_length=20,
            description="Sort keys such as `metrics.auc DESC` or `start_time`; one that does not parse "
            "answers 400.",
        ),
    ] = Field(default_factory=list)
    max_results: MaxResults = 1000
    page_token: PageToken | None = None
    include_deleted: bool = False


class RunPage(Wire):
    runs: list[RunOut]
    next_page_token: str | None

    @staticmethod
    def wire(page: Page[Run]) -> dict[str, Any]:
        """The JSON object of ``page`` without building the models (see :meth:`RunOut.wire`)."""
        return {"runs": [RunOut.wire(r) for r in page.items], "next_page_token": page.next_page_token}
