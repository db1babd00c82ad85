"""The OpenAPI document states the bounds the server enforces (audit page size, model routes)."""

from __future__ import annotations

from pathlib import Path

import httpx

from loopml.config import Settings
from loopml.server._security import MAX_AUDIT_PAGE
from loopml.server.background import serve_in_thread


def test_audit_limit_is_bounded_in_the_schema_and_in_behaviour(tmp_path: Path) -> None:
    with (
        serve_in_thread(Settings(home=tmp_path)) as url,
        httpx.Client(base_url=url + "/api/v1", timeout=30) as api,
    ):
        document = api.get("/openapi.json").json()
        [limit] = [p for p in document["paths"]["/api/v1/audit"]["get"]["parameters"] if p["name"] == "limit"]
        assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, MAX_AUDIT_PAGE)
        for bad in (0, -1, MAX_AUDIT_PAGE + 1):
            response = api.get("/audit", params={"limit": bad})
            assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"
        assert api.get("/audit", params={"limit": MAX_AUDIT_PAGE}).status_code == 200
        paths = document["paths"]
    for path, methods in (
        ("/api/v1/models/{name}/versions", {"get", "post"}),
        ("/api/v1/models/{name}/aliases/{alias}", {"put", "delete"}),
        ("/api/v1/models/{name}/versions/{version}/archive", {"post"}),
        ("/api/v1/models/{name}/versions/{version}/blessing", {"post"}),
        ("/api/v1/models/{name}/versions/{version}/files/{path}", {"get"}),
        ("/api/v1/datasets/{name}/versions", {"post"}),
        ("/api/v1/datasets/{ref}/statistics/{artifact_id}", {"get"}),
    ):
        assert methods <= set(paths[path]), path
