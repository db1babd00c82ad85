"""Property-based API fuzzing with schemathesis against the server's own OpenAPI document.

Every operation gets generated requests (valid and invalid); none may produce a 5xx, and every
response must match the documented schema (status code, content type, body).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from loopml.config import Settings
from loopml.server.background import serve_in_thread

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fuzz_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home: Path = tmp_path_factory.mktemp("fuzz")
    with serve_in_thread(Settings(home=home)) as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(fuzz_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_url}/api/v1/openapi.json")


def _fuzz_operation(operation: Any, mode: GenerationMode) -> None:
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        database=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    def run(case: Any) -> None:
        case.call_and_validate(
            checks=[not_a_server_error, status_code_conformance, response_schema_conformance]
        )

    run()


def test_api_fuzz(api_schema: Any) -> None:
    """Each operation of the OpenAPI document: 25 valid and 25 invalid generated requests.

    No 5xx, and every response conforms to the documented schema.
    """
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 30
    negative = 0
    for operation in operations:
        _fuzz_operation(operation, GenerationMode.POSITIVE)
        try:
            _fuzz_operation(operation, GenerationMode.NEGATIVE)
        except hypothesis.errors.Unsatisfiable:
            continue  # nothing to get wrong: no parameters and no body (e.g. GET /healthz)
        negative += 1
    assert negative >= len(operations) // 2
