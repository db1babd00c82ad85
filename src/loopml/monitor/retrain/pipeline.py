"""The real :class:`~loopml.monitor.retrain.actions.Retrainer`: run a loopml pipeline on the new span.

The pipeline is the model's own (statistics, validation, training and its evaluation run as usual);
the span reaches it through its parameters (by default ``span_start`` / ``span_end`` as ISO-8601
text, for the pipelines that declare them). Its ``push`` step registers the new version: the
candidate is the pushed version (``models:/NAME/VERSION``). A retraining pipeline should push to
an alias other than the one the deployment serves (``push(..., alias="challenger")``): the
canary, not the pipeline, decides whether the candidate replaces the champion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from loopml.artifacts import BlobStore
from loopml.errors import LoopmlError
from loopml.monitor.retrain.records import Candidate, RetrainRequest
from loopml.pipeline import Pipeline, PipelineRunResult, PushedModel, load_pipeline, run_pipeline
from loopml.pipeline.executors import Executor
from loopml.store import Store

__all__ = ["PipelineRetrainer", "span_params"]


def span_params(request: RetrainRequest) -> dict[str, Any]:
    """``span_start`` and ``span_end`` of the request, as ISO-8601 text."""
    return {"span_start": request.span.start.isoformat(), "span_end": request.span.end.isoformat()}


class PipelineRetrainer:
    """Runs a pipeline with the span as parameters and reports the version it pushed.

    Args:
        pipeline: A pipeline, a factory of one, or a ``FILE.py[:NAME]`` / ``module[:NAME]`` target.
        store: The metadata store the run is recorded in (and the registry lives in).
        blobs: The artifact store.
        params: The run's parameters for a request (default :func:`span_params`); parameters the
            pipeline does not declare are left out (and listed in the record).
        executor: Where steps run (default: in process).
    """

    def __init__(
        self,
        pipeline: Pipeline | Callable[[], Pipeline] | str,
        *,
        store: Store,
        blobs: BlobStore,
        params: Callable[[RetrainRequest], Mapping[str, Any]] = span_params,
        executor: Executor | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._store, self._blobs = store, blobs
        self._params, self._executor = params, executor

    def _load(self) -> Pipeline:
        if isinstance(self._pipeline, Pipeline):
            return self._pipeline
        if isinstance(self._pipeline, str):
            return load_pipeline(self._pipeline)
        return self._pipeline()

    def retrain(self, request: RetrainRequest) -> Candidate:
        """Run the pipeline on ``request.span``; a failure comes back as ``Candidate.error``."""
        try:
            pipeline = self._load()
            wanted = dict(self._params(request))
            declared = pipeline.parameters
            params = {k: v for k, v in wanted.items() if k in declared}
            result = run_pipeline(
                pipeline, store=self._store, blobs=self._blobs, params=params, executor=self._executor
            )
        except (LoopmlError, OSError, ValueError, RuntimeError) as err:
            return Candidate(error=f"{type(err).__name__}: {err}")
        details: dict[str, Any] = {
            "pipeline": result.pipeline,
            "run_name": result.run_name,
            "params": params,
            "ignored_params": sorted(set(wanted) - set(params)),
            "steps": [
                {
                    "name": s.name,
                    "state": s.state.value,
                    "cached": s.cached_from is not None,
                    "error": s.error,
                }
                for s in result.steps
            ],
        }
        if not result.is_ok:
            failed = [f"{s.name}: {s.error}" for s in result.steps if s.error]
            why = "; ".join(failed) or f"the run ended {result.status.value}"
            return Candidate(error=f"pipeline {result.pipeline!r} failed: {why}", pipeline_run=result.run_id,
                             details=details)  # fmt: skip
        return self._candidate(result, details)

    def _candidate(self, result: PipelineRunResult, details: dict[str, Any]) -> Candidate:
        pushed = []
        for step in result.steps:
            for artifact_id in step.outputs.values():
                artifact = self._store.artifacts.get(artifact_id)
                if artifact.type == PushedModel.type_name:
                    pushed.append(artifact.properties)
        if not pushed:
            return Candidate(
                refused="the pipeline has no push step", pipeline_run=result.run_id, details=details
            )
        facts = pushed[-1]
        uri = facts.get("registry_version_uri")
        if not facts.get("pushed") or not uri:
            refused = str(facts.get("reason") or "the pushed model was not registered")
            return Candidate(refused=refused, pipeline_run=result.run_id, details=details)
        details["pushed"] = {
            k: facts.get(k) for k in ("model_name", "alias", "registry_version", "model_artifact_id")
        }
        return Candidate(model_uri=str(uri), pipeline_run=result.run_id, details=details)
