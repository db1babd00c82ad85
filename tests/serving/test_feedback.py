"""``POST /v2/models/{m}/feedback``: labels for logged request ids, typed like the logged predictions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopml.monitor import read_prediction_log
from loopml.monitor.feedback import FeedbackService
from loopml.security.auth import AuthService
from loopml.serving import AppOptions, DataPlane, ModelRepository, ModelSource, create_app, load_served_model
from loopml.serving._auth import RequestAuthenticator
from loopml.serving.background import serve_in_thread
from loopml.serving.prediction_log import PredictionLogger
from loopml.store.sql import SqlStore, open_store
from tests.serving.conftest import Models, serving


@pytest.fixture
def store() -> Iterator[SqlStore]:
    with open_store("sqlite://") as opened:
        yield opened


@pytest.fixture
def logged(models: Models, store: SqlStore, tmp_path: Path) -> Iterator[str]:
    model = load_served_model(ModelSource(uri="models:/numeric@champion"), registry=models.registry)
    plane = DataPlane(ModelRepository([model]), sinks=[PredictionLogger(tmp_path, flush_interval_s=0.02)])
    options = AppOptions(feedback=FeedbackService(store.feedback, log_root=tmp_path))
    with serve_in_thread(create_app(plane, options=options)) as url:
        yield url


def _infer(client: httpx.Client, request_id: str) -> None:
    body = {
        "id": request_id,
        "inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP64", "data": [0.1] * 8}],
    }
    assert client.post("/v2/models/numeric/infer", json=body).status_code == 200


def test_labels_join_logged_requests_idempotently(logged: str, store: SqlStore, tmp_path: Path) -> None:
    with httpx.Client(base_url=logged, timeout=30) as client:
        _infer(client, "req-1")
        deadline = time.monotonic() + 10
        while read_prediction_log(tmp_path).num_rows < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        first = client.post("/v2/models/numeric/feedback", json={"request_id": "req-1", "label": 1, "row": 0})
        assert first.status_code == 200, first.text
        assert first.json() == {"received": 1, "inserted": 1, "replaced": 0, "unchanged": 0}
        batch = {
            "labels": [{"request_id": "req-1", "label": 1, "row": 0}, {"request_id": "later", "label": 0}]
        }
        assert client.post("/v2/models/numeric/feedback", json=batch).json()["unchanged"] == 1
        wrong = client.post("/v2/models/numeric/feedback", json={"request_id": "req-1", "label": "yes"})
        assert wrong.status_code == 400 and "integer" in wrong.json()["error"]
        assert (
            client.post("/v2/models/nope/feedback", json={"request_id": "x", "label": 1}).status_code == 404
        )
        malformed = client.post("/v2/models/numeric/feedback", json={"labels": [{"label": 1}]})
        assert malformed.status_code == 400 and "labels[0]" in malformed.json()["error"]
    assert sorted((lab.key, lab.row, lab.value) for lab in store.feedback.list("numeric")) == [
        ("later", -1, 0),
        ("req-1", 0, 1),
    ]


def test_without_a_store_the_route_says_so(models: Models) -> None:
    with serving(models, ModelSource(uri="models:/numeric@champion")) as url:
        r = httpx.post(f"{url}/v2/models/numeric/feedback", json={"request_id": "r", "label": 1})
    assert r.status_code == 409 and "no feedback" in r.json()["error"]


def test_feedback_needs_a_token_like_inference(models: Models, store: SqlStore) -> None:
    auth = AuthService(store)
    auth.create_user("ana", role="viewer")
    _, token = auth.create_token("ana")
    options = AppOptions(
        authenticator=RequestAuthenticator(auth, ttl_s=0), feedback=FeedbackService(store.feedback)
    )
    body = {"request_id": "r1", "label": 1}
    with serving(models, ModelSource(uri="models:/numeric@champion"), options=options) as url:
        refused = httpx.post(f"{url}/v2/models/numeric/feedback", json=body)
        ok = httpx.post(
            f"{url}/v2/models/numeric/feedback", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    assert refused.status_code == 401 and ok.status_code == 200, ok.text
    assert [lab.key for lab in store.feedback.list("numeric")] == ["r1"]
