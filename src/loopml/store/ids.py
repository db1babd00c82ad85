"""Resolving the id prefixes that listings show to full ids, the same way for every kind of record.

Ids are 32 hex characters; listings may show fewer. A reference is accepted when it is a full id
or a prefix of at least :data:`MIN_PREFIX` hex characters that matches exactly one record. An
ambiguous prefix is an :class:`~loopml.errors.InvalidInput` naming the candidates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from loopml.errors import InvalidInput, NotFound
from loopml.store.repositories import Store

__all__ = [
    "MIN_PREFIX",
    "is_id_prefix",
    "pick_unique",
    "resolve_artifact_id",
    "resolve_experiment_id",
    "resolve_node_id",
    "resolve_run_id",
]

MIN_PREFIX = 4
_SHOWN_CANDIDATES = 10
_HEX = re.compile(r"[0-9a-f]+")


def is_id_prefix(ref: str) -> bool:
    """Whether ``ref`` can be a prefix of an id (4 to 31 lowercase hex characters)."""
    return MIN_PREFIX <= len(ref) < 32 and _HEX.fullmatch(ref) is not None


def pick_unique(kind: str, ref: str, candidates: Sequence[str], *, hint: str) -> str:
    """The one id of ``candidates`` (ids starting with ``ref``).

    Raises:
        NotFound: no candidate; the message names ``hint`` (the command that lists them).
        InvalidInput: several candidates; the message lists them.

    Example:
        >>> pick_unique("run", "ab12", ["ab12ff"], hint="`loopml runs list`")
        'ab12ff'
    """
    found = sorted(set(candidates))
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFound(f"No {kind} with id {ref!r}; {hint} lists them.")
    shown = ", ".join(found[:_SHOWN_CANDIDATES])
    more = f" and {len(found) - _SHOWN_CANDIDATES} more" if len(found) > _SHOWN_CANDIDATES else ""
    raise InvalidInput(
        f"The {kind} id prefix {ref!r} is ambiguous: it matches {shown}{more}. Give more characters."
    )


def _resolve(kind: str, ref: str, exact: Callable[[str], object], matches: Callable[[str], list[str]],
             hint: str) -> str:  # fmt: skip
    try:
        exact(ref)
        return ref
    except NotFound:
        if not is_id_prefix(ref.lower()):
            raise
    return pick_unique(kind, ref, matches(ref.lower()), hint=hint)


def _run_matches(store: Store, prefix: str) -> list[str]:
    experiments = [e.experiment_id for e in store.experiments.list(include_deleted=True)]
    if not experiments:
        return []
    page = store.runs.search(
        experiments,
        filter=f"attributes.run_id LIKE '{prefix}%'",
        max_results=_SHOWN_CANDIDATES + 1,
        include_deleted=True,
    )
    return [r.run_id for r in page.items]


def _artifact_matches(store: Store, prefix: str) -> list[str]:
    page = store.artifacts.list(id_prefix=prefix, max_results=_SHOWN_CANDIDATES + 1)
    return [a.artifact_id for a in page.items]


def resolve_run_id(store: Store, ref: str) -> str:
    """The full id of the run ``ref`` names (a full id or a unique prefix), deleted runs included.

    Raises:
        NotFound: no run matches.
        InvalidInput: the prefix matches several runs.
    """
    return _resolve("run", ref, store.runs.get, lambda p: _run_matches(store, p), "`loopml runs list`")


def resolve_artifact_id(store: Store, ref: str) -> str:
    """The full id of the artifact ``ref`` names (a full id or a unique prefix).

    Raises:
        NotFound: no artifact matches.
        InvalidInput: the prefix matches several artifacts.
    """
    matches = lambda p: _artifact_matches(store, p)  # noqa: E731
    return _resolve("artifact", ref, store.artifacts.get, matches, "`loopml artifacts list`")


def resolve_experiment_id(store: Store, ref: str) -> str:
    """The id of the experiment ``ref`` names: a name, a full id or a unique id prefix."""
    found = store.experiments.find_by_name(ref)
    if found is not None:
        return found.experiment_id
    experiments = store.experiments.list(include_deleted=True)
    if any(e.experiment_id == ref for e in experiments):
        return ref
    if not is_id_prefix(ref.lower()):
        raise NotFound(f"No experiment named or with id {ref!r}; `loopml experiments list --all` lists them.")
    candidates = [e.experiment_id for e in experiments if e.experiment_id.startswith(ref.lower())]
    return pick_unique("experiment", ref, candidates, hint="`loopml experiments list --all`")


def resolve_node_id(store: Store, ref: str) -> str:
    """The full id of the artifact, execution or run ``ref`` names (full id, or unique prefix of an
    artifact or run id), for lineage.

    Raises:
        NotFound: nothing matches.
        InvalidInput: the prefix matches several records.
    """
    for exact in (store.artifacts.get, store.lineage.get_execution, store.runs.get):
        try:
            exact(ref)
            return ref
        except NotFound:
            continue
    if not is_id_prefix(ref.lower()):
        raise NotFound(
            f"No artifact, execution or run with id {ref!r}; `loopml runs list` and "
            "`loopml artifacts list` show ids."
        )
    candidates = _artifact_matches(store, ref.lower()) + _run_matches(store, ref.lower())
    hint = "`loopml runs list` or `loopml artifacts list`"
    return pick_unique("artifact or run", ref, candidates, hint=hint)
