"""The errors for records that are not there, in one wording.

The store raises them for unknown ids; the server answers with the very same error for records a
caller may not see, so a hidden record cannot be told from a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence

from loopml.errors import NotFound

__all__ = [
    "WHERE_LISTED",
    "missing_artifact",
    "missing_dataset",
    "missing_deployment",
    "missing_experiment",
    "missing_model",
    "missing_records",
    "missing_trace",
]

#: Where a user finds the ids of each kind of record, as a command of the ``loopml`` CLI.
WHERE_LISTED = {
    "artifact": "`loopml artifacts list` lists artifacts",
    "run": "`loopml runs list` lists runs",
    "execution": "`loopml lineage ID` (of a run or artifact) shows the executions around it",
    "context": "`loopml pipeline runs` lists pipeline runs",
}


def missing_artifact(artifact_id: str) -> NotFound:
    """The error for an artifact id that is not recorded.

    Example:
        >>> str(missing_artifact("a1"))
        "No artifact with id 'a1'; `loopml artifacts list` lists artifacts."
    """
    return NotFound(f"No artifact with id {artifact_id!r}; {WHERE_LISTED['artifact']}.")


def missing_records(what: str, ids: Sequence[str]) -> NotFound:
    """The error for ``what`` records (``"artifact"``, ``"execution"``) to link that are not recorded.

    Names the first five ids, sorted.
    """
    shown = ", ".join(repr(i) for i in sorted(ids)[:5])
    where = f"; {WHERE_LISTED[what]}" if what in WHERE_LISTED else ""
    return NotFound(f"No {what} with id {shown}: record it first{where}.")


def missing_experiment(*, name: str | None = None, experiment_id: str | None = None) -> NotFound:
    """The error for an experiment named ``name`` (or of id ``experiment_id``) that is not recorded.

    Example:
        >>> str(missing_experiment(name="churn"))
        "No experiment named 'churn'; `loopml experiments list` lists them."
    """
    what = f"named {name!r}" if name is not None else f"with id {experiment_id!r}"
    return NotFound(f"No experiment {what}; `loopml experiments list` lists them.")


def missing_model(name: str) -> NotFound:
    """The error for a registered model name that is not recorded.

    Example:
        >>> str(missing_model("churn"))
        "No registered model named 'churn'; `loopml models list` lists registered models."
    """
    return NotFound(f"No registered model named {name!r}; `loopml models list` lists registered models.")


def missing_dataset(ref: str) -> NotFound:
    """The error for a dataset (``NAME`` or ``NAME@VERSION``) that is not registered.

    Example:
        >>> str(missing_dataset("iris@3"))
        "No dataset 'iris@3'; `loopml data list` shows the registered ones."
    """
    return NotFound(f"No dataset {ref!r}; `loopml data list` shows the registered ones.")


def missing_deployment(name: str) -> NotFound:
    """The error for a deployment name that is not recorded.

    Example:
        >>> str(missing_deployment("churn"))
        "No deployment named 'churn'; `loopml deploy list` lists deployments."
    """
    return NotFound(f"No deployment named {name!r}; `loopml deploy list` lists deployments.")


def missing_trace(trace_id: str) -> NotFound:
    """The error for a trace id that is not recorded.

    Example:
        >>> str(missing_trace("tr-1"))
        "No trace with id 'tr-1'; search the experiment's traces for its id."
    """
    return NotFound(f"No trace with id {trace_id!r}; search the experiment's traces for its id.")
