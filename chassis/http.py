"""HTTP entrypoints answering JSON, with errors mapped by `chassis.errors.HTTP_STATUS`."""

from __future__ import annotations

import json
import logging
from typing import Any

from marshmallow import Schema
from nameko.web.handlers import HttpRequestHandler
from werkzeug.wrappers import Request, Response

from chassis.errors import HTTP_STATUS, MalformedRequest, error_body, http_status

log = logging.getLogger(__name__)

JSON = "application/json; charset=utf-8"


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    body = json.dumps(payload, ensure_ascii=False, default=str)
    return Response(body, status=status, headers=headers, content_type=JSON)


def load_json(request: Request, schema: Schema) -> Any:
    """Parse and validate a JSON body; 400 when it is not JSON, 422 naming each bad field."""
    try:
        raw = json.loads(request.get_data(as_text=True) or "null")
    except ValueError as exc:
        raise MalformedRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MalformedRequest("the body must be a JSON object")
    return schema.load(raw)


class JsonHttpEntrypoint(HttpRequestHandler):
    def __init__(self, method: str, url: str, **kwargs: Any) -> None:
        # Refusals are answers, not incidents: nameko logs expected exceptions as warnings.
        kwargs.setdefault("expected_exceptions", tuple(HTTP_STATUS))
        super().__init__(method, url, **kwargs)

    def response_from_exception(self, exc: Exception) -> Response:
        status = http_status(exc)
        if status >= 500:
            log.error("unhandled error in %s", self.method_name, exc_info=exc)
        return json_response(error_body(exc), status=status)


http = JsonHttpEntrypoint.decorator
