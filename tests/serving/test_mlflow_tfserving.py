"""The MLflow scoring protocol and the TF Serving REST API, with plain HTTP clients."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from loopml import __version__
from tests.serving.conftest import Models


def _frame_payloads(models: Models) -> tuple[list[dict[str, object]], list[list[object]]]:
    frame = models.mixed_frame.head(4)
    records = [
        {"age": int(r.age), "income": float(r.income), "city": str(r.city)} for r in frame.itertuples()
    ]
    rows = [[r["age"], r["income"], r["city"]] for r in records]
    return records, rows


def test_mlflow_health_and_version(client: httpx.Client) -> None:
    assert client.get("/ping").status_code == 200
    assert client.get("/health").status_code == 200
    assert client.get("/version").text == __version__


def test_mlflow_invocations_every_format_serves_the_first_model(client: httpx.Client, models: Models) -> None:
    x = models.numeric_x[:4]
    expected = models.numeric.predict(x).tolist()
    columns = list("abcd")
    payloads = [
        {"dataframe_split": {"columns": columns, "data": x.tolist()}},
        {"dataframe_split": {"data": x.tolist()}},
        {"dataframe_records": [dict(zip(columns, row, strict=True)) for row in x.tolist()]},
        {"instances": x.tolist()},
        {"instances": [dict(zip(columns, row, strict=True)) for row in x.tolist()]},
        {"inputs": {c: x[:, i].tolist() for i, c in enumerate(columns)}},
        {"inputs": x.tolist(), "params": {}},
    ]
    for payload in payloads:
        r = client.post("/invocations", json=payload)
        assert r.status_code == 200, (payload, r.text)
        assert r.json() == {"predictions": expected}
    csv = "a,b,c,d\n" + "\n".join(",".join(repr(v) for v in row) for row in x.tolist())
    r = client.post("/invocations", content=csv, headers={"Content-Type": "text/csv"})
    assert r.json() == {"predictions": expected}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, 3]]}},
            "Missing input column(s) ['d']",
        ),
        ({"dataframe_records": [{"a": 1, "b": 2, "c": 3, "d": "x"}]}, "Input 'd' (double) must hold numbers"),
        ({"instances": [[1, 2, 3]]}, "Row 0 has 3 values"),
        ({"instances": [[1, 2, 3, 4]], "inputs": {}}, "exactly one of"),
        ({"dataframe_records": [{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}]}, "unknown column(s) ['e']"),
    ],
)
def test_mlflow_bad_payloads_are_400(client: httpx.Client, payload: object, message: str) -> None:
    r = client.post("/invocations", json=payload)
    assert r.status_code == 400
    assert message in r.json()["error"]


def test_mlflow_wrong_content_type_is_415(client: httpx.Client) -> None:
    r = client.post(
        "/invocations", content=b"a=1", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 415 and "text/csv" in r.json()["error"]


def test_tfserving_status_and_metadata(client: httpx.Client) -> None:
    status = client.get("/v1/models/mixed").json()
    assert status["model_version_status"][0] == {
        "version": "1",
        "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""},
    }
    assert client.get("/v1/models/mixed/versions/1").status_code == 200
    assert client.get("/v1/models/mixed/labels/champion").status_code == 200
    r = client.get("/v1/models/mixed/labels/canary")
    assert r.status_code == 404 and "labels: champion" in r.json()["error"]
    meta = client.get("/v1/models/mixed/metadata").json()
    inputs = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]
    assert {k: v["dtype"] for k, v in inputs.items()} == {
        "age": "DT_INT64",
        "income": "DT_DOUBLE",
        "city": "DT_STRING",
    }


def test_tfserving_predict_rows_and_columns(client: httpx.Client, models: Models) -> None:
    records, rows = _frame_payloads(models)
    expected_labels = models.mixed.predict(models.mixed_transform.transform(models.mixed_frame.head(4)))
    r = client.post("/v1/models/mixed:predict", json={"instances": records})
    assert r.status_code == 200, r.text
    predictions = r.json()["predictions"]
    assert [p["predict"] for p in predictions] == list(expected_labels)
    assert all(len(p["predict_proba"]) == 2 for p in predictions)
    r = client.post("/v1/models/mixed/versions/1:predict", json={"instances": rows})
    assert [p["predict"] for p in r.json()["predictions"]] == list(expected_labels)
    columns = {"age": [r[0] for r in rows], "income": [r[1] for r in rows], "city": [r[2] for r in rows]}
    r = client.post("/v1/models/mixed/labels/champion:predict", json={"inputs": columns})
    assert r.json()["outputs"]["predict"] == list(expected_labels)


def test_tfserving_classify_and_regress(client: httpx.Client, models: Models) -> None:
    records, _ = _frame_payloads(models)
    r = client.post(
        "/v1/models/mixed:classify",
        json={
            "context": {"city": "paris"},
            "examples": [{k: v for k, v in e.items() if k != "city"} for e in records],
        },
    )
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert [[label for label, _ in row] for row in result] == [["no", "yes"]] * 4
    assert all(abs(sum(score for _, score in row) - 1) < 1e-9 for row in result)
    r = client.post("/v1/models/price:regress", json={"examples": [{"rooms": 1.0, "floor": 2}]})
    assert r.status_code == 200, r.text
    assert r.json()["result"] == pytest.approx(models.price.predict(np.array([[1.0, 2.0]])).tolist())
    r = client.post("/v1/models/price:classify", json={"examples": [{"rooms": 1.0, "floor": 2}]})
    assert r.status_code == 400 and "not a classifier" in r.json()["error"]


def test_tfserving_errors(client: httpx.Client) -> None:
    r = client.post("/v1/models/nope:predict", json={"instances": [[1]]})
    assert r.status_code == 404 and "No model named 'nope'" in r.json()["error"]
    r = client.post("/v1/models/price:predict", json={"instances": [{"rooms": 1.0, "floor": 2.5}]})
    assert r.status_code == 400 and "Input 'floor' (int64) must hold integers" in r.json()["error"]
