"""Audit rows written from async code: in a worker thread, never failing the request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loopml.security.audit import AuditLog
from loopml.store.sql import SqlStore, open_store
from loopml.web.audit import REFUSALS, record_request


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'audit.db'}")
    yield opened
    opened.close()


def test_a_row_is_written_with_every_field(store: SqlStore) -> None:
    audit = AuditLog(store)
    asyncio.run(
        record_request(
            audit,
            actor="ana",
            action="serving.predict",
            target="model:churn",
            client="10.0.0.7",
            status_code=429,
            details={"method": "POST", "path": "/v2/models/churn/infer"},
        )
    )
    [event] = audit.list(user="ana")
    assert (event.action, event.target, event.client, event.status_code, event.result) == (
        "serving.predict",
        "model:churn",
        "10.0.0.7",
        429,
        "rate_limited",
    )
    assert event.details == {"method": "POST", "path": "/v2/models/churn/infer"}


class _BrokenAudit(AuditLog):
    def record(self, **fields: Any) -> Any:
        raise OSError("database is locked")


def test_a_failing_audit_store_is_logged_not_raised(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="loopml.web"):
        asyncio.run(
            record_request(
                _BrokenAudit(store),
                actor=None,
                action="runs.create",
                target=None,
                client=None,
                status_code=401,
                details={},
            )
        )
    assert any("Could not write the audit row of runs.create" in r.getMessage() for r in caplog.records)


def test_refusals_are_the_token_permission_and_limit_statuses() -> None:
    assert {401, 403, 429} == REFUSALS
