"""The feedback route: ``POST /v2/models/{m}/feedback`` attaches ground-truth labels to logged predictions.

One label (``{"request_id", "label", "row"?, "observed_at"?}``) or a batch (``{"labels": [...]}``,
optionally by a key feature with ``key_field``); see :func:`loopml.monitor.feedback.parse_feedback_document`.
Idempotent: repeating a label changes nothing. Guarded like every model route (token and the
model's ``predict`` permission).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loopml.errors import InvalidState, NotFound
from loopml.monitor.feedback import FeedbackService, parse_feedback_document
from loopml.serving._http import BODY_ADVICE, Guard, json_response, parse_json, require_json
from loopml.serving.dataplane import DataPlane
from loopml.web.body_limits import read_body

__all__ = ["routes"]


def routes(
    plane: DataPlane, *, feedback: FeedbackService | None, max_body_bytes: int, guard: Guard
) -> list[Route]:
    """The feedback route, wrapped by ``guard``."""

    async def add(request: Request) -> Response:
        model = request.path_params["model"]
        if model not in plane.names():
            raise NotFound(f"No model {model!r} is served here; GET /v2 lists the served models.")
        if feedback is None:
            raise InvalidState(
                "This model server keeps no feedback: it was started without a metadata store."
            )
        require_json(request)
        key_field, labels = parse_feedback_document(
            parse_json(await read_body(request, limit=max_body_bytes, advice=BODY_ADVICE))
        )
        result = await asyncio.get_running_loop().run_in_executor(
            None, lambda: feedback.add(model, labels, key_field=key_field)
        )
        return json_response(
            {
                "received": result.received,
                "inserted": result.inserted,
                "replaced": result.replaced,
                "unchanged": result.unchanged,
            }
        )

    return [Route("/v2/models/{model}/feedback", guard(add, "v2", False), methods=["POST"])]
