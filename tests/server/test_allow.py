"""``OPTIONS`` answers with the methods a path supports, and so does a 405 (RFC 9110)."""

from __future__ import annotations

import httpx
import pytest


def allow_of(response: httpx.Response) -> set[str]:
    return {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/experiments", {"GET", "POST", "OPTIONS"}),  # two routes serve this path
        ("/experiments/" + "0" * 32, {"GET", "DELETE", "OPTIONS"}),
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
