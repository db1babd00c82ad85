"""Fast JSON responses for the hot read routes (run search, metric history).

FastAPI re-validates a returned model against the route's response model and turns it into Python
objects before ``json.dumps``; for a page of 100 runs that costs a few milliseconds. A body that is
already a validated wire model can be dumped straight to JSON bytes by pydantic-core instead. The
route keeps ``response_model=`` so the OpenAPI document still describes the body.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from fastapi import Response
from pydantic import BaseModel

__all__ = ["json_data_response", "json_response"]


def json_response(body: BaseModel, *, status_code: int = 200) -> Response:
    """``body`` serialised by pydantic-core (by alias, as FastAPI does) as ``application/json``."""
    content = body.model_dump_json(by_alias=True)
    return Response(content, status_code=status_code, media_type="application/json")


def json_data_response(data: Any, *, status_code: int = 200) -> Response:
    """Plain data already in wire form (see ``RunOut.wire``) as JSON, by pydantic-core.

    For bodies built from validated domain objects, where constructing the wire models only to
    dump them again would double the work. NaN and infinities become ``null``, as the models'
    own dumping does.
    """
    content = pydantic_core.to_json(data, inf_nan_mode="null")
    return Response(content, status_code=status_code, media_type="application/json")
