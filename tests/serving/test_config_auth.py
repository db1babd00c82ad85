"""serve.yaml parsing, the loopback rule, and token authentication on every model endpoint."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.security.auth import AuthService
from loopml.serving import AppOptions, ModelSource, OutputPolicy
from loopml.serving._auth import RequestAuthenticator
from loopml.serving.config import ServeConfig, is_loopback
from loopml.store.sql import open_store
from tests.serving.conftest import Models, serving


def test_serve_yaml_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "serve.yaml"
    path.write_text(
        "port: 9000\nworkers: 2\nmodels:\n  - models:/a@champion\n"
        "  - {uri: models:/b/3, name: bee, output: {top_k: 2, decimals: 3}, batching: {max_wait_ms: 0}}\n"
    )
    config = ServeConfig.load(path)
    assert (config.port, config.workers, config.host, config.auth) == (9000, 2, "127.0.0.1", False)
    assert config.models[0] == ModelSource(uri="models:/a@champion")
    bee = config.models[1]
    assert (bee.name, bee.policy, bee.batching.max_wait_ms) == ("bee", OutputPolicy(top_k=2, decimals=3), 0)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"models": []}, "Nothing to serve"),
        ({"models": ["models:/a@b"], "prot": 1}, "unknown key(s) ['prot']"),
        ({"models": ["models:/a@b"], "port": "x"}, "port must be an integer"),
        ({"models": [{"uri": "models:/a@b", "output": {"top_k": 0}}]}, "top_k must be an integer >= 1"),
        ({"models": [{"uri": "models:/a@b", "batching": {"max_batch_rows": -1}}]}, "max_batch_rows"),
        ({"models": ["models:/a@b"], "host": "0.0.0.0"}, "without authentication"),
    ],
)
def test_bad_serve_yaml_names_the_key(doc: object, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        ServeConfig.from_mapping(doc)
    assert message in str(err.value)


def test_missing_file_and_loopback_rule(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        ServeConfig.load(tmp_path / "nope.yaml")
    assert ServeConfig(models=(ModelSource(uri="x"),), host="0.0.0.0", auth=True).auth
    assert is_loopback("::1") and not is_loopback("10.0.0.1")


def test_tokens_guard_model_endpoints_and_leave_probes_open(models: Models, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'identity.db'}")
    auth = AuthService(store)
    auth.create_user("ana", role="viewer")
    _, token = auth.create_token("ana")
    options = AppOptions(authenticator=RequestAuthenticator(auth, ttl_s=0))
    body = {"inputs": [{"name": "m", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}
    with (
        serving(models, ModelSource(uri="models:/numeric@champion"), options=options) as url,
        httpx.Client(base_url=url) as client,
    ):
        assert client.get("/v2/health/ready").status_code == 200
        r = client.post("/v2/models/numeric/infer", json=body)
        assert r.status_code == 401 and "Authorization: Bearer" in r.json()["error"]
        assert r.headers["www-authenticate"] == 'Bearer realm="loopml"'
        r = client.post("/v2/models/numeric/infer", json=body, headers={"Authorization": "Bearer lml_x_y"})
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == 'Bearer realm="loopml", error="invalid_token"'
        ok = client.post("/v2/models/numeric/infer", json=body, headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200, ok.text
        assert (ok.headers["x-content-type-options"], ok.headers["cache-control"]) == ("nosniff", "no-store")
        auth.revoke_token(token)
        r = client.post("/v2/models/numeric/infer", json=body, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and "revoked" in r.json()["error"]
    store.close()


def test_serve_yaml_guards_and_cli_defaults() -> None:
    from loopml.inference.atypical import AtypicalCheck, AtypicalPolicy
    from loopml.inference.extraction import ExtractionCheck
    from loopml.serving.guards import ModelGuards, QueryLimits

    config = ServeConfig.from_mapping(
        {
            "models": [
                {
                    "uri": "models:/a@b",
                    "limits": {"per_minute": 60},
                    "atypical": {"policy": "reject", "max_distance": 3},
                    "extraction": {"max_probes": 10},
                },
                "models:/c@d",
            ]
        }
    )
    assert config.guards_of(0) == ModelGuards(
        limits=QueryLimits(per_minute=60),
        atypical=AtypicalCheck(policy=AtypicalPolicy.REJECT, max_distance=3),
        extraction=ExtractionCheck(max_probes=10),
    )
    assert config.guards_of(1) == ModelGuards()
    defaults = config.with_default_guards(limits=QueryLimits(per_day=5), atypical=AtypicalCheck())
    assert defaults.guards_of(0).limits == QueryLimits(per_minute=60)  # serve.yaml wins
    assert defaults.guards_of(1) == ModelGuards(limits=QueryLimits(per_day=5), atypical=AtypicalCheck())


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"limits": {"per_minute": 0}}, "limits.per_minute must be a positive integer"),
        ({"limits": {"per_hour": 3}}, "models[0].limits must be a mapping with keys per_minute, per_day"),
        ({"atypical": {"policy": "block"}}, "models[0].atypical.policy must be log, flag or reject"),
        ({"extraction": {"step": -1}}, "extraction.step must be a number > 0"),
    ],
)
def test_bad_guard_settings_are_named(section: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        ServeConfig.from_mapping({"models": [{"uri": "models:/a@b", **section}]})
    assert message in str(err.value)
