"""Hostile and malformed requests get a clean 4xx ``{"error": ...}`` and the server keeps serving."""

from __future__ import annotations

import httpx
import pytest

from loopml.serving import AppOptions, ModelSource
from tests.serving.conftest import Models, serving

_GOOD = {"inputs": [{"name": "m", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}


def _still_serving(client: httpx.Client) -> None:
    assert client.post("/v2/models/numeric/infer", json=_GOOD).status_code == 200


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "not valid JSON"),
        (b"", {"Content-Type": "application/json"}, 400, "is empty"),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400, "must be a JSON object"),
        (
            b'{"inputs": [{"name": "m", "shape": [1, 4], "datatype": "FP64", "data": [NaN, 1, 2, 3]}]}',
            {},
            400,
            "not valid JSON",
        ),
        (b"\xff\xfe{}", {}, 400, "not valid JSON"),
        (b"[" * 10_000 + b"]" * 10_000, {}, 400, "not valid JSON"),
        (b"a=1", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "application/json"),
        (b'{"inputs": []}', {}, 400, "non-empty list"),
        (b'{"inputs": [{"name": "m", "shape": [1, 4], "datatype": "FP64"}]}', {}, 400, "neither 'data'"),
        (
            b'{"inputs": [{"name": "m", "shape": [1, 4], "datatype": "FP64", "data": [1e400, 1, 2, 3]}]}',
            {},
            400,
            "not valid JSON",
        ),
        (b'{"id": 5, "inputs": []}', {}, 400, "'id' must be a string"),
    ],
)
def test_malformed_requests_are_clean_4xx(
    client: httpx.Client, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    r = client.post("/v2/models/numeric/infer", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    assert "Traceback" not in r.text and "/src/" not in r.text
    _still_serving(client)


def test_infinite_values_are_refused_in_binary_tensors(client: httpx.Client) -> None:
    import numpy as np
    import orjson

    header = orjson.dumps(
        {
            "inputs": [
                {"name": "m", "shape": [1, 4], "datatype": "FP64", "parameters": {"binary_data_size": 32}}
            ]
        }
    )
    data = np.array([1.0, np.inf, 2.0, 3.0], dtype="<f8").tobytes()
    r = client.post(
        "/v2/models/numeric/infer",
        content=header + data,
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert r.status_code == 400 and "Input 'b' (double): row 0 is inf" in r.json()["error"]


def test_huge_body_is_413(models: Models) -> None:
    with (
        serving(
            models, ModelSource(uri="models:/numeric@champion"), options=AppOptions(max_body_bytes=4096)
        ) as url,
        httpx.Client(base_url=url) as client,
    ):
        r = client.post(
            "/v2/models/numeric/infer",
            content=b"x" * 10_000,
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 413 and "at most 4096" in r.json()["error"]

        def chunks():  # no Content-Length: the limit applies while reading
            for _ in range(10):
                yield b"x" * 1000

        r = client.post("/invocations", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        _still_serving(client)


def test_missing_values_pass_to_the_model_and_its_refusal_is_400(client: httpx.Client) -> None:
    r = client.post("/invocations", json={"instances": [[None, 1, 2, 3]]})
    assert r.status_code == 400 and "The model refused the input" in r.json()["error"]
    _still_serving(client)
