"""Open Inference Protocol (V2) REST with real clients: tritonclient.http (binary by default) and httpx."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import httpx
import numpy as np
import orjson
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.serving.conftest import Models


@pytest.fixture
def tc(server_url: str) -> Iterator[triton.InferenceServerClient]:
    c = triton.InferenceServerClient(server_url.removeprefix("http://"))
    yield c
    c.close()


def _column_inputs(x: np.ndarray, *, binary: bool = True) -> list[triton.InferInput]:
    inputs = []
    for i, name in enumerate("abcd"):
        tensor = triton.InferInput(name, [len(x)], "FP64")
        tensor.set_data_from_numpy(np.ascontiguousarray(x[:, i]), binary_data=binary)
        inputs.append(tensor)
    return inputs


def test_tritonclient_health_and_metadata(tc: triton.InferenceServerClient) -> None:
    assert tc.is_server_live() and tc.is_server_ready()
    assert tc.is_model_ready("numeric") and tc.is_model_ready("numeric", "1")
    assert not tc.is_model_ready("nope")
    server = tc.get_server_metadata()
    assert server["name"] == "loopml" and "binary_tensor_data" in server["extensions"]
    meta = tc.get_model_metadata("mixed")
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [
        ("age", "INT64"),
        ("income", "FP64"),
        ("city", "BYTES"),
    ]
    assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
    assert meta["versions"] == ["1"]


def test_tritonclient_binary_infer_matches_the_model(
    tc: triton.InferenceServerClient, models: Models
) -> None:
    x = models.numeric_x[:7]
    result = tc.infer("numeric", _column_inputs(x), request_id="req-1")
    assert result.get_response()["id"] == "req-1"
    np.testing.assert_array_equal(result.as_numpy("predict"), models.numeric.predict(x))
    np.testing.assert_allclose(result.as_numpy("predict_proba"), models.numeric.predict_proba(x))


def test_tritonclient_json_and_requested_outputs(tc: triton.InferenceServerClient, models: Models) -> None:
    x = models.numeric_x[:3]
    outputs = [triton.InferRequestedOutput("predict_proba", binary_data=False)]
    result = tc.infer("numeric", _column_inputs(x, binary=False), outputs=outputs, model_version="1")
    response = result.get_response()
    assert [o["name"] for o in response["outputs"]] == ["predict_proba"]
    assert response["model_version"] == "1"
    np.testing.assert_allclose(result.as_numpy("predict_proba"), models.numeric.predict_proba(x))


def test_tritonclient_single_matrix_tensor(tc: triton.InferenceServerClient, models: Models) -> None:
    x = models.numeric_x[:5]
    tensor = triton.InferInput("input-0", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x.astype(np.float32))
    result = tc.infer("numeric", [tensor])
    np.testing.assert_array_equal(result.as_numpy("predict"), models.numeric.predict(x.astype(np.float32)))


def test_tritonclient_bytes_inputs_for_the_column_path(
    tc: triton.InferenceServerClient, models: Models
) -> None:
    frame = models.mixed_frame.head(6)
    age = triton.InferInput("age", [6], "INT64")
    age.set_data_from_numpy(frame["age"].to_numpy())
    income = triton.InferInput("income", [6], "FP64")
    income.set_data_from_numpy(frame["income"].to_numpy())
    city = triton.InferInput("city", [6], "BYTES")
    city.set_data_from_numpy(frame["city"].to_numpy().astype(object))
    result = tc.infer("mixed", [age, income, city])
    expected = models.mixed.predict(models.mixed_transform.transform(frame))
    assert [v.decode() for v in result.as_numpy("predict")] == list(expected)


def test_tritonclient_errors_are_400_and_404(tc: triton.InferenceServerClient, models: Models) -> None:
    with pytest.raises(InferenceServerException, match="No model named 'nope'"):
        tc.infer("nope", _column_inputs(models.numeric_x[:1]))
    with pytest.raises(InferenceServerException, match="no served version '9'"):
        tc.infer("numeric", _column_inputs(models.numeric_x[:1]), model_version="9")
    with pytest.raises(InferenceServerException, match=r"Missing input column\(s\) \['d'\]"):
        tc.infer("numeric", _column_inputs(models.numeric_x[:1])[:3])


def _v2(name: str, shape: list[int], datatype: str, data: object) -> dict[str, object]:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def test_plain_json_nested_data_and_parameters(client: httpx.Client, models: Models) -> None:
    x = models.numeric_x[:2]
    body = {
        "id": "abc",
        "parameters": {"custom": 1},
        "inputs": [_v2("m", [2, 4], "FP64", x.tolist())],
        "outputs": [{"name": "predict"}],
    }
    r = client.post("/v2/models/numeric/versions/1/infer", json=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["id"] == "abc" and doc["model_name"] == "numeric"
    assert doc["outputs"] == [
        {"name": "predict", "datatype": "INT64", "shape": [2], "data": models.numeric.predict(x).tolist()}
    ]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([_v2("a", [3], "FP64", [1.0, 2.0])], "has shape [3] (3 values) but its data holds 2"),
        ([_v2("m", [1, 4], "FP64", [[1.0, 2.0], [3.0, 4.0]])], "shape [1, 4]"),
        ([_v2("m", [1, 4], "FP99", [1, 2, 3, 4])], "datatype 'FP99'"),
        ([_v2("m", [1, 4], "INT64", [1.5, 2, 3, 4])], "non-integer"),
        ([_v2("m", [1, 4], "FP64", ["x", 2, 3, 4])], "holds strings"),
        ([_v2("m", [1, 4], "INT8", [1000, 2, 3, 4])], "outside the range of INT8"),
        ([_v2("m", [1, -4], "FP64", [1, 2, 3, 4])], "shape is a list of non-negative integers"),
        ([_v2("m", [1, 3], "FP64", [1, 2, 3])], "fits neither form"),
    ],
)
def test_bad_tensors_are_400_naming_the_input(client: httpx.Client, inputs: object, message: str) -> None:
    r = client.post("/v2/models/numeric/infer", json={"inputs": inputs})
    assert r.status_code == 400
    assert message in r.json()["error"]


def test_binary_outputs_on_request_and_unknown_outputs(client: httpx.Client, models: Models) -> None:
    x = models.numeric_x[:3]
    body = {
        "inputs": [_v2("m", [3, 4], "FP64", x.reshape(-1).tolist())],
        "outputs": [{"name": "predict_proba", "parameters": {"binary_data": True}}],
    }
    r = client.post("/v2/models/numeric/infer", json=body)
    size = int(r.headers["inference-header-content-length"])
    header = orjson.loads(r.content[:size])
    assert header["outputs"][0]["parameters"]["binary_data_size"] == 3 * 2 * 8
    proba = np.frombuffer(r.content[size:], dtype="<f8").reshape(3, 2)
    np.testing.assert_allclose(proba, models.numeric.predict_proba(x))
    body["outputs"] = [{"name": "logits"}]
    r = client.post("/v2/models/numeric/infer", json=body)
    assert r.status_code == 400 and "Unknown output(s) ['logits']" in r.json()["error"]


def test_binary_request_checks_sizes(client: httpx.Client) -> None:
    header = orjson.dumps(
        {
            "inputs": [
                {"name": "m", "shape": [1, 4], "datatype": "FP64", "parameters": {"binary_data_size": 32}}
            ]
        }
    )
    data = np.arange(4, dtype="<f8").tobytes()
    ok = client.post(
        "/v2/models/numeric/infer",
        content=header + data,
        headers={
            "Inference-Header-Content-Length": str(len(header)),
            "Content-Type": "application/octet-stream",
        },
    )
    assert ok.status_code == 200, ok.text
    too_long = client.post(
        "/v2/models/numeric/infer",
        content=header + data,
        headers={"Inference-Header-Content-Length": str(len(header) + 1000)},
    )
    assert too_long.status_code == 400 and "body holds only" in too_long.json()["error"]
    short = client.post(
        "/v2/models/numeric/infer",
        content=header + data[:16],
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert short.status_code == 400 and "only 16 follow" in short.json()["error"]


def test_invalid_utf8_bytes_input_is_400(client: httpx.Client) -> None:
    header = orjson.dumps(
        {
            "inputs": [
                _v2("age", [1], "INT64", [30]),
                _v2("income", [1], "FP64", [1.0]),
                {"name": "city", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 6}},
            ]
        }
    )
    blob = struct.pack("<I", 2) + b"\xff\xfe"
    r = client.post(
        "/v2/models/mixed/infer",
        content=header + blob,
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert r.status_code == 400 and "not valid UTF-8" in r.json()["error"]


def test_unknown_model_and_version_are_404(client: httpx.Client) -> None:
    assert client.get("/v2/models/nope").status_code == 404
    r = client.get("/v2/models/numeric/versions/7")
    assert r.status_code == 404 and "served versions: 1" in r.json()["error"]
    assert client.get("/v2/nowhere").json()["error"].startswith("No route GET /v2/nowhere")
