"""Pipelines: typed components wired into a cached, recorded DAG, run locally or on Ray.

Example:
    >>> from loopml.pipeline import Dataset, Model, Pipeline, component
    >>> @component
    ... def ingest(*, rows: int = 10) -> Dataset:
    ...     return Dataset.from_properties({"rows": rows})
    >>> @component(retries=2)
    ... def train(data: Dataset) -> Model:
    ...     return Model.from_properties({"rows": data.properties["rows"]})
    >>> data = ingest(rows=100)
    >>> Pipeline("demo", steps=[data, train(data=data.outputs["dataset"])])
    Pipeline('demo', steps=['ingest', 'train'])
"""

from loopml.pipeline._runtime import StepContext, current_step, scratch_dir
from loopml.pipeline.artifact_types import (
    Anomalies,
    ArtifactType,
    Blessing,
    Dataset,
    Evaluation,
    File,
    InfraBlessing,
    Model,
    ModelCard,
    PushedModel,
    Schema,
    Statistics,
    Transform,
)
from loopml.pipeline.component import Component, component
from loopml.pipeline.executors import EXECUTOR_NAMES, Executor, LocalExecutor, create_executor
from loopml.pipeline.history import (
    PipelineRunDetail,
    PipelineRunSummary,
    StepRecord,
    get_pipeline_run,
    list_pipeline_runs,
)
from loopml.pipeline.loader import load_pipeline, parse_param_overrides
from loopml.pipeline.pipeline import Pipeline
from loopml.pipeline.progress import NullProgress, ProgressReporter, RichProgress
from loopml.pipeline.runner import (
    PipelineRunner,
    PipelineRunResult,
    PipelineStatus,
    StepResult,
    StepState,
    run_pipeline,
)
from loopml.pipeline.step import OutputRef, Parameter, Step, output_of

__all__ = [
    "EXECUTOR_NAMES",
    "Anomalies",
    "ArtifactType",
    "Blessing",
    "Component",
    "Dataset",
    "Evaluation",
    "Executor",
    "File",
    "InfraBlessing",
    "LocalExecutor",
    "Model",
    "ModelCard",
    "NullProgress",
    "OutputRef",
    "Parameter",
    "Pipeline",
    "PipelineRunDetail",
    "PipelineRunResult",
    "PipelineRunSummary",
    "PipelineRunner",
    "PipelineStatus",
    "ProgressReporter",
    "PushedModel",
    "RichProgress",
    "Schema",
    "Statistics",
    "Step",
    "StepContext",
    "StepRecord",
    "StepResult",
    "StepState",
    "Transform",
    "component",
    "create_executor",
    "current_step",
    "get_pipeline_run",
    "list_pipeline_runs",
    "load_pipeline",
    "output_of",
    "parse_param_overrides",
    "run_pipeline",
    "scratch_dir",
]
