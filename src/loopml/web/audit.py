"""Writing a request's audit row from async code: in a worker thread, never failing the request.

Which requests are audited is each server's choice (the platform server: every mutation and every
refusal; the model server: every refusal, REST and gRPC alike); :data:`REFUSALS` are the statuses
that always are. The row itself is :class:`~loopml.security.audit.AuditLog`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

import anyio.to_thread

from loopml.security.audit import AuditLog

__all__ = ["REFUSALS", "record_request"]

_log = logging.getLogger("loopml.web")

#: Statuses that are refusals, audited by both servers: no or a bad token, no permission, over a limit.
REFUSALS = frozenset({401, 403, 429})


async def record_request(
    audit: AuditLog,
    *,
    actor: str | None,
    action: str,
    target: str | None,
    client: str | None,
    status_code: int,
    details: Mapping[str, Any],
) -> None:
    """Append one audit row (see :meth:`AuditLog.record <loopml.security.audit.AuditLog.record>`).

    The store is written from a worker thread; a failing audit store is logged, never raised, so
    auditing never turns an answer (a refusal, a served request) into a 500.
    """
    record = partial(
        audit.record,
        actor=actor,
        action=action,
        target=target,
        client=client,
        status_code=status_code,
        details=details,
    )
    try:
        await anyio.to_thread.run_sync(record)
    except Exception:
        _log.exception("Could not write the audit row of %s (status %s)", action, status_code)
