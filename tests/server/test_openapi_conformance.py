"""The OpenAPI document states what the server enforces: schemathesis, seeded and bounded, finds
no schema-valid request refused, no 5xx, and no response outside the document."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.openapi import from_asgi

from loopml.config import Settings
from loopml.server.app import create_app

#: Operations the run covers, by path.
COVERED = r"^/api/v1/(experiments|models/\{name\}(/aliases/\{alias\}|/alias-history)?$|contexts$|whoami)"
#: Examples per operation (every check runs on each).
EXAMPLES = 25


def test_the_api_does_what_its_document_says(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path), auth_enabled=False)
    schema = from_asgi("/api/v1/openapi.json", app).include(path_regex=COVERED)
    failures: list[str] = []
    tested = 0
    for found in schema.get_all_operations():
        operation = found.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,  # seeded: the same examples on every run
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: Case) -> None:
            case.call_and_validate()

        tested += 1
        try:
            conforms()
        except Exception as err:  # every failing operation is reported, not just the first
            failures.append(f"{operation.label}: {err}")
    assert tested >= 10
    if failures:
        pytest.fail("\n\n".join(failures))
