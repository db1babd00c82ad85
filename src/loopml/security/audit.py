"""The audit log: who did what to which target, when, from where, and with what result.

Example:
    >>> from loopml.store.sql import open_store
    >>> audit = AuditLog(open_store("sqlite://"))
    >>> _ = audit.record(actor="ana", action="runs.create", target="experiment:e1", status_code=201)
    >>> [(e.actor, e.action, e.result) for e in audit.list(user="ana")]
    [('ana', 'runs.create', 'ok')]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from loopml.security._durations import parse_since
from loopml.store.entities import AuditEvent
from loopml.store.repositories import IdentityStore
from loopml.store.riders import Rider

__all__ = ["AuditLog", "result_of_status"]


def result_of_status(status_code: int | None) -> str:
    """The result word stored for an HTTP status: ok, unauthorized, forbidden, rate_limited, failed."""
    if status_code is None or status_code < 400:
        return "ok"
    return {401: "unauthorized", 403: "forbidden", 429: "rate_limited"}.get(status_code, "failed")


class AuditLog:
    """Append-only record of mutating requests and refused ones, kept in the metadata store.

    Args:
        store: A store with an ``identity`` repository.
        clock: Milliseconds since the epoch (tests inject their own).
    """

    def __init__(self, store: IdentityStore, *, clock: Callable[[], int] | None = None) -> None:
        self._identity = store.identity
        self._clock = clock or (lambda: time.time_ns() // 1_000_000)

    def record(
        self,
        *,
        actor: str | None,
        action: str,
        target: str | None = None,
        client: str | None = None,
        status_code: int | None = None,
        result: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one event.

        Args:
            actor: The user name (None when authentication failed).
            action: What was attempted (``"runs.create"``).
            target: What it was attempted on (``"run:<id>"``, ``"model:churn"``).
            client: The client's network address.
            status_code: The HTTP status answered (None outside HTTP).
            result: Outcome word; derived from ``status_code`` when omitted.
            details: Extra JSON-ready facts (method, path, token id, message). Never secrets.
        """
        return self._identity.add_audit_event(
            actor=actor,
            action=action,
            target=target,
            client=client,
            status_code=status_code,
            result=result or result_of_status(status_code),
            details=details,
            at=self._clock(),
        )

    def rider(
        self,
        *,
        actor: str | None,
        action: str,
        target: str | None = None,
        client: str | None = None,
        status_code: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Rider:
        """The event of a request still being handled, to commit with the request's first write.

        While the rider is carried (:meth:`Rider.carried <loopml.store.riders.Rider.carried>`),
        the first write transaction of the request appends this event with its own changes, so a
        mutation is never committed without its event. ``status_code`` is the status the request
        is expected to get; :meth:`set_outcome` corrects it when the answer differs. When the
        request wrote nothing, ``take()`` answers True and :meth:`record` writes the event instead.
        """
        return self._identity.audit_event_rider(
            actor=actor,
            action=action,
            target=target,
            client=client,
            status_code=status_code,
            result=result_of_status(status_code),
            details=details,
            clock=self._clock,
        )

    def set_outcome(self, event: AuditEvent, status_code: int | None) -> None:
        """Give an event a :meth:`rider` wrote the status its request was answered with."""
        self._identity.set_audit_outcome(
            event.event_id, status_code=status_code, result=result_of_status(status_code)
        )

    def list(
        self,
        *,
        user: str | None = None,
        since: int | str | None = None,
        action: str | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]:
        """Events, newest first.

        Args:
            user: Only this actor.
            since: Milliseconds since the epoch, a duration ago (``"1h"``) or an ISO time.
            action: An action name, or a prefix ending in ``.*`` (``"models.*"``).
            limit: At most this many (1..10,000).

        Raises:
            InvalidInput: for a bad ``since`` or ``limit``.
        """
        since_ms = parse_since(since, now_ms=self._clock()) if isinstance(since, str) else since
        return self._identity.list_audit_events(actor=user, action=action, since=since_ms, limit=limit)
