"""HTTP entrypoints answering JSON: each declares who may call it and what it takes and gives.

Errors become answers through the one table in `chassis.errors`; the declarations feed the
service's OpenAPI document (`/openapi.json`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from marshmallow import Schema
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from chassis import metrics
from chassis.auth import Identity, Role, admit, identity_from_header, verifier_for
from chassis.db import finish_transaction
from chassis.error_statuses import HTTP_STATUS, error_body, http_status
from chassis.errors import DomainError, InvalidInput, MalformedRequest

log = logging.getLogger(__name__)

JSON = "application/json; charset=utf-8"
IDENTITY = "aftersales.identity"


class Public:
    """Marks an endpoint anyone may call (health, readiness, metrics, the API document)."""

    def __repr__(self) -> str:
        return "PUBLIC"


PUBLIC = Public()


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    body = json.dumps(payload, ensure_ascii=False, default=str)
    return Response(body, status=status, headers=headers, content_type=JSON)


def load_json(request: Request, schema: Schema, *, optional: bool = False) -> Any:
    """Parse and validate a JSON body; 400 when it is not JSON, 422 naming each bad field.

    With `optional`, an empty body counts as {} (actions that need no details).
    """
    if optional and not request.get_data(as_text=True).strip():
        return schema.load({})
    try:
        raw = json.loads(request.get_data(as_text=True) or "null")
    except ValueError as exc:
        raise MalformedRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MalformedRequest("the body must be a JSON object")
    _refuse_nul(raw, "")
    return schema.load(raw)


def _refuse_nul(value: Any, path: str) -> None:
    """PostgreSQL cannot store the NUL character in text: refuse it here, naming the field,
    rather than let the database fail the request with a 500."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput(path or "body", "must not contain the NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, path or "body")
            _refuse_nul(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_nul(item, f"{path}.{index}")


def load_query(request: Request, schema: Schema) -> Any:
    """Validate the query string; 422 naming each bad parameter."""
    query = request.args.to_dict()
    _refuse_nul(query, "")
    return schema.load(query)


def identity_of(request: Request) -> Identity:
    """The caller, as checked by the entrypoint (only on endpoints that are not PUBLIC)."""
    return request.environ[IDENTITY]


class JsonErrorsApp(WsgiApp):
    """nameko's WSGI app, answering a request no route matches (404, 405) in the platform's
    JSON error shape instead of werkzeug's HTML page."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        # nameko's own __call__, but for the error branch.
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
            request.path_values = values
            answer = provider.handle_request(request)
        except HTTPException as exc:
            answer = exc
            if exc.code is not None and exc.code >= 400:
                answer = json_response({"error": "NOT_FOUND" if exc.code == 404 else "REFUSED",
                                        "message": exc.description or exc.name}, status=exc.code)
        return answer(environ, start_response)


class JsonWebServer(WebServer):
    def get_wsgi_app(self) -> WsgiApp:
        return JsonErrorsApp(self)


class JsonHttpEntrypoint(HttpRequestHandler):
    server = JsonWebServer()
    def __init__(self, method: str, url: str, *, roles: frozenset[Role] | Public,
                 request: type[Schema] | None = None, response: type[Schema] | None = None,
                 query: type[Schema] | None = None, body_optional: bool = False,
                 status: int = 200, statuses: tuple[int, ...] = (), summary: str = "",
                 **kwargs: Any) -> None:
        """`request`/`query`/`response` schemas and `statuses` (answers besides success and
        the ones implied, e.g. 409) are what the OpenAPI document says of the endpoint."""
        if not isinstance(roles, Public | frozenset | set):
            raise TypeError(f"{method} {url}: roles must be PUBLIC or a set of Role")
        self.roles = roles if isinstance(roles, Public) else frozenset(roles)
        self.request_schema = request
        self.response_schema = response
        self.query_schema = query
        self.body_optional = body_optional
        self.success_status = status
        self.extra_statuses = tuple(statuses)
        self.summary = summary
        # Refusals are answers, not incidents: nameko logs expected exceptions as warnings.
        kwargs.setdefault("expected_exceptions", tuple(HTTP_STATUS))
        super().__init__(method, url, **kwargs)

    def handle_request(self, request: Request) -> Response:
        if not isinstance(self.roles, Public):
            settings = self.container.config["AFTERSALES"]
            try:
                identity = identity_from_header(verifier_for(settings),
                                                request.headers.get("Authorization"))
                admit(identity, self.roles,
                      None if settings.at_headquarters else settings.dealer_code)
            except DomainError as exc:
                metrics.ENTRYPOINT_REQUESTS.labels(settings.service, "http",
                                                   self.method_name).inc()
                return self.response_from_exception(exc)
            request.environ[IDENTITY] = identity
        return super().handle_request(request)

    def handle_result(self, event, worker_ctx, result, exc_info):  # type: ignore[no-untyped-def]
        # The framework commits the call's unit of work before the answer leaves, so "done"
        # means stored; a failed commit becomes the answer (chassis.unit_of_work).
        exc_info = finish_transaction(self.container, worker_ctx, exc_info)
        return super().handle_result(event, worker_ctx, None if exc_info else result, exc_info)

    def response_from_exception(self, exc: Exception) -> Response:
        status = http_status(exc)
        if status >= 500:
            log.error("unhandled error in %s", self.method_name, exc_info=exc)
        return json_response(error_body(exc), status=status)


http = JsonHttpEntrypoint.decorator
