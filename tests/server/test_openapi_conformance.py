"""The OpenAPI document states what the server enforces: schemathesis, seeded and bounded, finds
no schema-valid request refused, no schema-invalid one accepted, no 5xx and no response outside
the document, over every operation (``--checks all``, positive and negative examples)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.openapi import from_asgi

from loopml.config import Settings
from loopml.server.app import create_app

#: The repository's schemathesis settings: what a well-formed request may still be refused for.
CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"
#: Examples per operation and generation mode (every check runs on each).
EXAMPLES = 12

pytestmark = pytest.mark.slow


def test_every_operation_does_what_the_document_says(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path), auth_enabled=False)
    schema = from_asgi("/api/v1/openapi.json", app, config=SchemathesisConfig.from_path(CONFIG))
    load_all_checks()
    checks = [check for check in CHECKS.get_all() if callable(check) and not isinstance(check, type)]
    failures: list[str] = []
    tested = set()
    for found in schema.get_all_operations():
        operation = found.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                derandomize=True,  # seeded: the same examples on every run
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def conforms(case: Case) -> None:
                case.call_and_validate(checks=checks)

            try:
                conforms()
            except Unsatisfiable:  # nothing in the operation can be made invalid
                pass
            except (Exception, BaseExceptionGroup) as err:  # every failing operation is reported
                failures.append(f"{operation.label} ({mode.value}): {err}")
            tested.add(operation.label)
    document = app.openapi()
    assert not [p for p in document["paths"] if p.startswith("/api/2.0/")]  # MLflow's, documented by MLflow
    operations = sum(len(methods) for methods in document["paths"].values())
    assert len(tested) == operations >= 60
    if failures:
        pytest.fail("\n\n".join(failures))
