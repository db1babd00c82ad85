"""``OPTIONS`` answers with the methods a path supports, and so does a 405 (RFC 9110)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from loopml.config import Settings
from loopml.server.background import serve_in_thread


def allow_of(response: httpx.Response) -> set[str]:
    return {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/experiments", {"GET", "POST", "OPTIONS"}),  # two routes serve this path
        ("/experiments/" + "0" * 32, {"GET", "PATCH", "DELETE", "OPTIONS"}),  # PATCH renames
        ("/runs/" + "0" * 32 + "/artifacts/a/b.txt", {"GET", "PUT", "OPTIONS"}),
        ("/models/m/aliases/champion", {"PUT", "DELETE", "OPTIONS"}),
        ("/experiments/get-or-create", {"POST", "OPTIONS"}),  # not the methods of /experiments/{id}
        ("/runs/search", {"POST", "OPTIONS"}),
    ],
)
def test_options_lists_every_method_of_the_path(api: httpx.Client, path: str, methods: set[str]) -> None:
    response = api.options(path)
    assert response.status_code == 204 and response.content == b""
    assert allow_of(response) == methods
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_405_lists_every_method_of_the_path(api: httpx.Client) -> None:
    response = api.patch("/experiments")
    assert response.status_code == 405
    assert allow_of(response) == {"GET", "POST", "OPTIONS"}


def test_options_of_an_unknown_path_is_a_404(api: httpx.Client) -> None:
    assert api.options("/nothing-here").status_code == 404


def test_options_needs_no_token_when_auth_is_on(tmp_path: Path) -> None:
    """OPTIONS says what the public OpenAPI document says; every other method still needs a token."""
    with (
        serve_in_thread(Settings(home=tmp_path), auth_enabled=True) as url,
        httpx.Client(base_url=url + "/api/v1", timeout=30) as anonymous,
    ):
        response = anonymous.options("/experiments")
        assert response.status_code == 204 and allow_of(response) == {"GET", "POST", "OPTIONS"}
        assert response.headers["x-content-type-options"] == "nosniff"
        assert anonymous.get("/experiments").status_code == 401
        assert anonymous.patch("/experiments").status_code in (401, 405)
        assert anonymous.options("/nothing-here").status_code == 401  # no route: the app decides
