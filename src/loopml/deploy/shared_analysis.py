"""One analysis per window for all replicas: publish this replica's tally, decide under a lease.

:class:`SharedAnalysis` is what each ``loopml serve`` replica does with a deployment's rollout
(see :mod:`loopml.deploy.sharing` for why): it publishes the replica's tally of the current
window to the board (:meth:`~SharedAnalysis.publish`, as often as the replica polls), and when
the analysis is due it publishes once more, tries to take the deployment's lease, and if it gets
it re-reads the stored deployment and, when the analysis is still due for the same window, runs
the gates on every replica's merged tally and stores the verdict
(:meth:`~loopml.deploy.service.DeploymentService.analyze`). The lease is given back at once;
it expires by itself (``lease_s``) when its holder dies mid-analysis, so another replica takes
over. The stored state is the only thing the other replicas act on.

Outside a rollout, shadow reports follow the same path over fixed windows of ``interval_s``
aligned on the epoch (:func:`shadow_window`): each replica publishes its tally of each window
(finally at its first poll after the window ends), and a little later the lease holder reports
the window on the merged tallies and marks it reported on the board, so it is reported once.

Example:
    >>> shadow_window(125_000, interval_s=60)  # every replica cuts the same shadow windows
    ('shadows@120000', 120000, 180000)
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from loopml.deploy.collector import ObservationCollector
from loopml.deploy.outcomes import LabelLookup
from loopml.deploy.records import Deployment
from loopml.deploy.rollout import Decision, Phase
from loopml.deploy.service import DeploymentService
from loopml.deploy.sharing import WindowTally, merge_tallies, observations_of
from loopml.errors import InvalidInput
from loopml.store.repositories import ObservationRepository

__all__ = ["SharedAnalysis", "analysis_due", "shadow_window", "window_of"]

#: The key of the mark a window's shadow report leaves on the board (it is reported once).
_REPORTED = "~reported"

_log = logging.getLogger("loopml.deploy")


def window_of(deployment: Deployment) -> str | None:
    """The id of the window a deployment's rollout analyses (canary and step start); None when
    no canary rollout is in progress."""
    rollout, canary = deployment.rollout, deployment.spec.canary
    if rollout is None or rollout.phase is not Phase.PROGRESSING or canary is None:
        return None
    return f"{canary.target}@{rollout.step_started_ms}"


def analysis_due(deployment: Deployment, *, now_ms: int) -> bool:
    """Whether a canary rollout's next analysis is due: an interval since the step started and
    since the last analysis ended."""
    rollout = deployment.rollout
    if window_of(deployment) is None or rollout is None:
        return False
    last = deployment.last_analysis.window.end_ms if deployment.last_analysis else 0
    return now_ms - max(rollout.step_started_ms, last) >= deployment.policy.interval_s * 1000


class SharedAnalysis:
    """Shares a replica's observations and decides each due analysis once for all replicas.

    Args:
        board: Where replicas publish their tallies and take the lease (Redis or the store).
        service: Reads deployments and stores the verdicts.
        replica: This replica's id on the board (default: a new random one).
        lease_s: How long a lease holds if its holder never gives it back (dies mid-analysis).
        keep_s: How long a publication stays on the board after it was written (a dead
            replica's last observations count in the window's analyses that long).
        publish_s: Most seconds between two routine publications of one deployment (fewer when a
            quarter of its analysis interval is shorter). A publication with full samples is
            about 1 MB of JSON and tens of milliseconds of CPU.
        sample_size: Most items of each merged sample.
        clock: Seconds, monotonic (tests).
    """

    def __init__(
        self,
        board: ObservationRepository,
        service: DeploymentService,
        *,
        replica: str | None = None,
        lease_s: float = 15.0,
        keep_s: float = 3_600.0,
        publish_s: float = 5.0,
        sample_size: int = 5_000,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if lease_s <= 0 or keep_s <= 0 or publish_s < 0:
            raise InvalidInput(
                "`lease_s` and `keep_s` must be > 0 and `publish_s` >= 0. "
                f"Got {lease_s}, {keep_s}, {publish_s}."
            )
        self._board = board
        self._service = service
        self.replica = replica or uuid.uuid4().hex
        self._lease_s, self._keep_s, self._publish_s = lease_s, keep_s, publish_s
        self._sample_size = sample_size
        self._clock = clock or time.monotonic
        self._published: dict[str, tuple[str, int, float]] = {}
        self._lock = threading.Lock()

    def publish(
        self,
        name: str,
        window: str,
        collector: ObservationCollector,
        *,
        interval_s: float | None = None,
        force: bool = False,
    ) -> bool:
        """Publish what ``collector`` saw of ``name``'s ``window``, unless nothing changed since the
        last publication or it was less than ``publish_s`` ago (or a quarter of the analyses'
        ``interval_s``, if shorter); ``force``: publish anyway. True when published."""
        recorded, now = collector.recorded, self._clock()
        every = min(self._publish_s, interval_s / 4) if interval_s is not None else self._publish_s
        with self._lock:
            last = self._published.get(name)
            same = not force and last is not None and last[0] == window
            if same and last is not None and (last[1] == recorded or now - last[2] < every):
                return False
            self._published[name] = (window, recorded, now)
        tally = collector.tally()
        self._board.publish(name, window, self.replica, tally.to_document(), ttl_s=self._keep_s)
        return True

    def analyze(
        self,
        name: str,
        window: str,
        collector: ObservationCollector,
        *,
        now_ms: int,
        labels: LabelLookup | None = None,
        key_labels: LabelLookup | None = None,
        actor: str = "serving",
    ) -> Decision | None:
        """Publish, then run ``name``'s due analysis of ``window`` on every replica's observations if
        this replica gets the lease and nobody decided it yet; the decision, or None when another
        replica holds the lease, or the stored state moved on (analysed, advanced, ended)."""
        self.publish(name, window, collector, force=True)
        if not self._board.acquire(name, self.replica, ttl_s=self._lease_s):
            return None
        try:
            current = self._service.get(name)
            if window_of(current) != window or not analysis_due(current, now_ms=now_ms):
                return None
            tallies = self._tallies(name, self._board.collect(name, window))
            if not tallies:
                return None
            merged = merge_tallies(tallies, sample_size=self._sample_size)
            observations = observations_of(merged, now_ms=now_ms, labels=labels, key_labels=key_labels)
            return self._service.analyze(name, observations, actor=actor)
        finally:
            self._board.release(name, self.replica)

    def _tallies(self, name: str, documents: Iterable[Mapping[str, Any]]) -> list[WindowTally]:
        tallies = []
        for document in documents:
            try:
                tallies.append(WindowTally.from_document(document))
            except InvalidInput as err:  # another loopml's format: not this analysis's evidence
                _log.warning("deployment %s: a replica's observations were left out: %s", name, err)
        return tallies

    def report_shadows(self, name: str, window: str, *, end_ms: int, actor: str = "serving") -> bool:
        """Compare ``name``'s shadows with its primary on every replica's observations of ``window``
        (ended at ``end_ms``, see :func:`shadow_window`), once for all replicas: the replica that
        takes the lease reports and marks the window reported; True when this call reported."""
        if not self._board.acquire(name, self.replica, ttl_s=self._lease_s):
            return False
        try:
            documents = self._board.collect(name, window)
            if any(d.get(_REPORTED) for d in documents):
                return False
            tallies = self._tallies(name, documents)
            if not tallies or not self._service.get(name).spec.shadows:
                return False
            merged = merge_tallies(tallies, sample_size=self._sample_size)
            self._service.report_shadows(name, observations_of(merged, now_ms=end_ms), actor=actor)
            self._board.publish(name, window, _REPORTED, {_REPORTED: True}, ttl_s=self._keep_s)
            return True
        finally:
            self._board.release(name, self.replica)


def shadow_window(at_ms: int, *, interval_s: float) -> tuple[str, int, int]:
    """The shadow-report window holding ``at_ms`` outside a rollout: its id, start and end (windows
    of ``interval_s`` aligned on the epoch, so every replica cuts the same ones)."""
    length = max(1, round(interval_s * 1000))
    start = at_ms - at_ms % length
    return f"shadows@{start}", start, start + length
