"""One source for error codes: every error class crosses server -> remote client as itself.

The server renders an error with the class's own ``code`` and its ``fields``; the remote client
rebuilds the same class with the same attributes. The test walks every subclass of
``LoopmlError`` loaded from any loopml module, so a new error class is covered the day it exists.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import loopml
from loopml.errors import Forbidden, LoopmlError, NotFound, PolicyViolation, error_type, error_types
from loopml.server.errors import install_error_handlers, status_of
from loopml.store.remote import RemoteStore
from loopml.web.errors import STATUS_BY_TYPE

#: A sample value for each structured field an error class declares. A class with a field not
#: listed here fails :func:`test_every_field_has_a_sample`: add one for it.
SAMPLES: dict[str, Any] = {
    "rules": ("signed", "blessed"),
    "artifact_id": "a" * 32,
    "splits": ("train", "eval"),
    "column": "age",
    "wider": "double",
    "limit": 1024,
    "retry_after": 1.5,
}


def _import_every_module() -> None:
    """Import every loopml module that imports without extras, so their error classes load."""
    for info in pkgutil.walk_packages(loopml.__path__, "loopml."):
        if info.name.startswith("loopml.examples"):
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:  # an optional extra is missing: its module defines no error classes
            continue


def _all_error_classes() -> list[type[LoopmlError]]:
    _import_every_module()
    found: list[type[LoopmlError]] = []
    pending: list[type[LoopmlError]] = [LoopmlError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda c: f"{c.__module__}.{c.__qualname__}")


ERROR_CLASSES = _all_error_classes()


def _instance(cls: type[LoopmlError]) -> LoopmlError:
    return cls(f"Something about {cls.__name__} went wrong.", **{f: SAMPLES[f] for f in cls.fields})


def _raising_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    by_name = {f"{c.__module__}.{c.__qualname__}": c for c in ERROR_CLASSES}

    @app.get("/api/v1/boom/{name}")
    def boom(name: str) -> None:
        raise _instance(by_name[name])

    return app


@pytest.fixture(scope="module")
def remote() -> Iterator[RemoteStore]:
    app = _raising_app()

    async def ask(request: httpx.Request) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://loopml.test") as client:
            answer = await client.request(request.method, request.url.path, headers=request.headers)
            return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def forward(request: httpx.Request) -> httpx.Response:
        return asyncio.run(ask(request))

    with RemoteStore("http://loopml.test", transport=httpx.MockTransport(forward), retries=0) as store:
        yield store


def test_the_walk_finds_errors_defined_outside_errors_py() -> None:
    names = {c.__name__ for c in ERROR_CLASSES}
    assert {"PolicyViolation", "NotFound", "SplitRequired"} <= names


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_class_has_its_own_unique_code(cls: type[LoopmlError]) -> None:
    assert "code" in cls.__dict__, f"{cls.__qualname__} needs its own `code` class attribute"
    assert error_types()[cls.code] is cls


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_field_has_a_sample(cls: type[LoopmlError]) -> None:
    assert set(cls.fields) <= set(SAMPLES), f"add a sample value for {cls.fields} to SAMPLES"


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_round_trips_server_to_remote_client(cls: type[LoopmlError], remote: RemoteStore) -> None:
    sent = _instance(cls)
    with pytest.raises(LoopmlError) as caught:
        remote.session.call("GET", f"/boom/{cls.__module__}.{cls.__qualname__}")
    got = caught.value
    assert type(got) is cls
    assert str(got) == str(sent)
    for field in cls.fields:
        assert getattr(got, field) == getattr(sent, field), field


def test_policy_violation_keeps_its_type_and_rules(remote: RemoteStore) -> None:
    with pytest.raises(PolicyViolation) as caught:
        remote.session.call("GET", "/boom/loopml.errors.PolicyViolation")
    assert caught.value.rules == ("signed", "blessed")
    assert not isinstance(caught.value, Forbidden)


def test_status_follows_the_nearest_mapped_base() -> None:
    class Gone(NotFound):
        code = "test_gone"

    assert status_of(Gone("x")) == (404, "test_gone")
    assert status_of(LoopmlError("x"))[0] == 500
    assert error_type("test_gone") is Gone
    assert all(issubclass(kind, LoopmlError) for kind in STATUS_BY_TYPE)


def test_unknown_code_falls_back_to_the_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {"code": "from_a_newer_server", "message": "gone"}})

    with (
        RemoteStore("http://loopml.test", transport=httpx.MockTransport(handler)) as store,
        pytest.raises(NotFound, match="gone"),
    ):
        store.session.call("GET", "/x")


def test_a_401_from_a_handler_carries_the_bearer_challenge() -> None:
    app = _raising_app()

    async def ask(headers: dict[str, str]) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://loopml.test") as client:
            return await client.get("/api/v1/boom/loopml.errors.Unauthorized", headers=headers)

    anonymous = asyncio.run(ask({}))
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="loopml"'
    refused = asyncio.run(ask({"Authorization": "Bearer wrong"}))
    assert refused.headers["www-authenticate"] == 'Bearer realm="loopml", error="invalid_token"'
