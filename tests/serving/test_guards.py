"""Every request guarded: predict permission, audited refusals, query limits (Redis-shared), probing,
atypical inputs and output obfuscation, over the V2, TF Serving and MLflow protocols."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
import tritonclient.http as triton
from starlette.applications import Starlette

from loopml.inference.atypical import AtypicalCheck, AtypicalPolicy
from loopml.inference.extraction import ExtractionCheck
from loopml.inference.inputs import ModelInput
from loopml.security.audit import AuditLog
from loopml.security.auth import AuthService, GrantLevel, Resource, ResourceKind
from loopml.security.ratelimit import RedisLimiter
from loopml.serving import (
    AppOptions,
    DataPlane,
    ModelRepository,
    ModelSource,
    OutputPolicy,
    create_app,
    load_served_model,
)
from loopml.serving._auth import RequestAuthenticator
from loopml.serving.background import serve_in_thread
from loopml.serving.dataplane import InferenceResult, InferenceSink
from loopml.serving.guards import ModelGuards, QueryLimiter, QueryLimits
from loopml.serving.metrics import ServingMetrics
from loopml.serving.probes import RedisProbeStore
from loopml.store.sql import open_store
from tests.serving.conftest import Models

REDIS_URL = "redis://127.0.0.1:6379/0"


class Recorder:
    """A sink keeping every answered request's flags."""

    def __init__(self) -> None:
        self.flags: list[tuple[tuple[str, ...], ...]] = []

    def record(
        self, result: InferenceResult, rows: ModelInput, *, protocol: str, principal: str | None
    ) -> None:
        self.flags.append(result.flags)

    def close(self) -> None:
        pass


def _app(
    models: Models,
    *sources: ModelSource,
    guards: Mapping[str, ModelGuards] | None = None,
    limiter: QueryLimiter | None = None,
    options: AppOptions | None = None,
    sinks: Sequence[InferenceSink] = (),
    metrics: ServingMetrics | None = None,
) -> Starlette:
    served = [load_served_model(s, registry=models.registry) for s in sources]
    plane = DataPlane(ModelRepository(served), guards=guards, limiter=limiter, sinks=sinks, metrics=metrics)
    return create_app(plane, options=options, metrics=metrics)


@contextmanager
def _serve(models: Models, *sources: ModelSource, **kwargs: Any) -> Iterator[httpx.Client]:
    with (
        serve_in_thread(_app(models, *sources, **kwargs)) as url,
        httpx.Client(base_url=url, timeout=30) as c,
    ):
        yield c


def _v2(x: np.ndarray) -> dict[str, object]:
    return {"inputs": [{"name": "m", "shape": list(x.shape), "datatype": "FP64", "data": x.ravel().tolist()}]}


def _three_protocols(
    client: httpx.Client, x: np.ndarray, headers: dict[str, str] | None = None
) -> list[httpx.Response]:
    return [
        client.post("/v2/models/numeric/infer", json=_v2(x), headers=headers),
        client.post("/v1/models/numeric:predict", json={"instances": x.tolist()}, headers=headers),
        client.post("/invocations", json={"instances": x.tolist()}, headers=headers),
    ]


def test_predict_permission_on_every_protocol_and_every_refusal_audited(
    models: Models, tmp_path: Path
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'identity.db'}")
    auth = AuthService(store)
    audit = AuditLog(store)
    auth.create_user("ana", role="viewer")
    auth.create_user("bob", role="viewer")
    _, ana = auth.create_token("ana")
    _, bob = auth.create_token("bob")
    auth.grant("bob", Resource(kind=ResourceKind.MODEL, key="numeric"), GrantLevel.READ)  # restricts numeric
    options = AppOptions(authenticator=RequestAuthenticator(auth, ttl_s=0), audit=audit)
    x = models.numeric_x[:2]
    with _serve(models, ModelSource(uri="models:/numeric@champion"), options=options) as client:
        refused = _three_protocols(client, x, {"Authorization": f"Bearer {ana}"})
        assert [r.status_code for r in refused] == [403, 403, 403]
        assert all("'predict' on model 'numeric'" in r.json()["error"] for r in refused)
        assert [r.status_code for r in _three_protocols(client, x, {"Authorization": f"Bearer {bob}"})] == [
            200
        ] * 3
        assert client.post("/invocations", json={"instances": x.tolist()}).status_code == 401
    events = audit.list()
    denied = [(e.actor, e.target, e.result) for e in events if e.action == "serving.predict"]
    assert denied.count(("ana", "model:numeric", "forbidden")) == 3
    assert (None, "model:numeric", "unauthorized") in denied
    assert all(e.actor != "bob" for e in events)
    store.close()


def test_query_limits_answer_429_with_retry_after_on_every_protocol(models: Models) -> None:
    guards = {"numeric": ModelGuards(limits=QueryLimits(per_minute=3))}
    x = models.numeric_x[:1]
    with _serve(models, ModelSource(uri="models:/numeric@champion"), guards=guards) as client:
        assert [r.status_code for r in _three_protocols(client, x)] == [200] * 3
        limited = _three_protocols(client, x)
        assert [r.status_code for r in limited] == [429] * 3
        for r in limited:
            assert 1 <= int(r.headers["Retry-After"]) <= 20
            assert "3 per minute" in r.json()["error"]
        with pytest.raises(triton.InferenceServerException, match="3 per minute"):
            tc = triton.InferenceServerClient(str(client.base_url).removeprefix("http://"))
            infer_input = triton.InferInput("m", list(x.shape), "FP64")
            infer_input.set_data_from_numpy(x)
            tc.infer("numeric", [infer_input])


def test_daily_quota_is_shared_through_redis_by_two_servers(models: Models) -> None:
    prefix = f"loopml-test:{uuid.uuid4().hex}:"
    guards = {"numeric": ModelGuards(limits=QueryLimits(per_day=3))}
    source = ModelSource(uri="models:/numeric@champion")
    x = models.numeric_x[:1]
    try:
        with (
            _serve(
                models, source, guards=guards, limiter=QueryLimiter(RedisLimiter(REDIS_URL, prefix=prefix))
            ) as a,
            _serve(
                models, source, guards=guards, limiter=QueryLimiter(RedisLimiter(REDIS_URL, prefix=prefix))
            ) as b,
        ):
            codes = [
                a.post("/v2/models/numeric/infer", json=_v2(x)).status_code,
                b.post("/v1/models/numeric:predict", json={"instances": x.tolist()}).status_code,
                a.post("/invocations", json={"instances": x.tolist()}).status_code,
                b.post("/v2/models/numeric/infer", json=_v2(x)).status_code,
                a.post("/v2/models/numeric/infer", json=_v2(x)).status_code,
            ]
            assert codes == [200, 200, 200, 429, 429]
            r = b.post("/invocations", json={"instances": x.tolist()})
            assert "Daily quota of 3" in r.json()["error"] and int(r.headers["Retry-After"]) >= 1
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def test_probing_one_feature_in_small_steps_is_refused(models: Models) -> None:
    guards = {"numeric": ModelGuards(extraction=ExtractionCheck(max_probes=4, step=0.05))}
    with _serve(models, ModelSource(uri="models:/numeric@champion"), guards=guards) as client:
        varied = [
            client.post("/v2/models/numeric/infer", json=_v2(models.numeric_x[i : i + 1])) for i in range(10)
        ]
        assert all(r.status_code == 200 for r in varied)
        base = models.numeric_x[0].copy()
        codes = []
        for step in range(8):
            probe = base.copy()
            probe[0] += 0.01 * step
            codes.append(
                client.post("/v1/models/numeric:predict", json={"instances": [probe.tolist()]}).status_code
            )
        assert codes[:4] == [200] * 4 and codes[-1] == 429
        r = client.post("/invocations", json={"instances": [base.tolist()]})
        assert r.status_code == 429 and "model-extraction" in r.json()["error"]


def test_a_probe_split_over_two_servers_is_refused_when_they_share_redis(models: Models) -> None:
    prefix = f"loopml-test:{uuid.uuid4().hex}:"
    guards = {"numeric": ModelGuards(extraction=ExtractionCheck(max_probes=4, step=0.05))}
    source = ModelSource(uri="models:/numeric@champion")
    base = models.numeric_x[0].copy()
    probes = [(base + np.eye(len(base))[0] * 0.01 * step).tolist() for step in range(8)]

    def codes(a: httpx.Client, b: httpx.Client) -> list[int]:
        return [
            (a if i % 2 else b).post("/v1/models/numeric:predict", json={"instances": [p]}).status_code
            for i, p in enumerate(probes)
        ]

    with _serve(models, source, guards=guards) as a, _serve(models, source, guards=guards) as b:
        assert codes(a, b) == [200] * 8  # each server alone sees four probes, three near-identical
    try:
        with (
            _serve(
                models,
                source,
                guards=guards,
                limiter=QueryLimiter(probes=RedisProbeStore(REDIS_URL, prefix=prefix)),
            ) as a,
            _serve(
                models,
                source,
                guards=guards,
                limiter=QueryLimiter(probes=RedisProbeStore(REDIS_URL, prefix=prefix)),
            ) as b,
        ):
            assert codes(a, b) == [200] * 5 + [429] * 3
            r = a.post("/invocations", json={"instances": [probes[0]]})
            assert r.status_code == 429 and "model-extraction" in r.json()["error"]
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def _mixed_rows(city: str, age: int = 45) -> dict[str, object]:
    return {
        "dataframe_records": [
            {"age": 30, "income": 50.0, "city": "paris"},
            {"age": age, "income": 50.0, "city": city},
        ]
    }


def test_atypical_inputs_flagged_counted_or_rejected(models: Models) -> None:
    recorder = Recorder()
    metrics = ServingMetrics()
    guards = {
        "flagged": ModelGuards(atypical=AtypicalCheck(policy=AtypicalPolicy.FLAG)),
        "strict": ModelGuards(atypical=AtypicalCheck(policy=AtypicalPolicy.REJECT)),
    }
    sources = (
        ModelSource(uri="models:/mixed@champion", name="flagged"),
        ModelSource(uri="models:/mixed@champion", name="strict"),
    )
    with _serve(models, *sources, guards=guards, sinks=[recorder], metrics=metrics) as client:
        typical = client.post("/invocations", json=_mixed_rows("lyon"))
        assert typical.status_code == 200 and recorder.flags == [()]
        flagged = client.post("/invocations", json=_mixed_rows("berlin", age=500))
        assert flagged.status_code == 200
        assert recorder.flags[-1] == ((), ("out_of_range:age", "unseen:city", "distance"))
        body = {"instances": [{"age": 45, "income": 50.0, "city": "berlin"}]}
        assert (
            client.post(
                "/v1/models/strict:predict", json={"instances": [{"age": 45, "income": 50.0, "city": "lyon"}]}
            ).status_code
            == 200
        )
        rejected = client.post("/v1/models/strict:predict", json=body)
        assert rejected.status_code == 400
        assert "refuses atypical input (policy reject): row 0: unseen:city" in rejected.json()["error"]
        exposition = client.get("/metrics").text
    assert 'loopml_serving_atypical_requests_total{model="flagged",policy="flag"} 1.0' in exposition
    assert 'loopml_serving_atypical_requests_total{model="strict",policy="reject"} 1.0' in exposition
    assert 'loopml_serving_atypical_rows_total{model="flagged",reason="unseen"} 1.0' in exposition


@pytest.mark.parametrize(
    ("policy", "v2_outputs", "tf_keys"),
    [
        (OutputPolicy(label_only=True), ["predict"], None),
        (
            OutputPolicy(top_k=1, decimals=2),
            ["predict", "top_k_labels", "top_k_scores"],
            {"predict", "top_k_labels", "top_k_scores"},
        ),
        (OutputPolicy(decimals=1), ["predict", "predict_proba"], {"predict", "predict_proba"}),
    ],
)
def test_output_policy_holds_on_every_protocol(
    models: Models, policy: OutputPolicy, v2_outputs: list[str], tf_keys: set[str] | None
) -> None:
    x = models.numeric_x[:3]
    labels = models.numeric.predict(x).tolist()
    with _serve(models, ModelSource(uri="models:/numeric@champion", policy=policy)) as client:
        v2, tf, mlflow = _three_protocols(client, x)
        classify = client.post(
            "/v1/models/numeric:classify",
            json={"examples": [dict(zip("abcd", r, strict=True)) for r in x.tolist()]},
        )
    outputs = {o["name"]: o for o in v2.json()["outputs"]}
    assert list(outputs) == v2_outputs
    assert mlflow.json() == {"predictions": labels}  # MLflow answers labels only
    scores = [
        v for name, o in outputs.items() if name != "predict" and o["datatype"] == "FP64" for v in o["data"]
    ]
    if policy.decimals is not None:
        assert scores and all(round(s, policy.decimals) == s for s in scores)
    if tf_keys is None:
        assert tf.json() == {"predictions": labels}
        assert classify.status_code == 400 and "labels only" in classify.json()["error"]
    else:
        assert all(set(p) == tf_keys for p in tf.json()["predictions"])
        classes = classify.json()["result"]
        assert all(len(row) == (policy.top_k or 2) for row in classes)
        assert all(round(s, policy.decimals or 15) == s for row in classes for _, s in row)
