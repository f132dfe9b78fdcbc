"""A service's OpenAPI document, built from its entrypoints' declarations (roles, schemas)."""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from chassis import __version__
from chassis.http import JsonHttpEntrypoint, Public

_REASONS = {400: "Malformed request", 401: "Not signed in", 403: "Not allowed",
            404: "Not found", 409: "Conflict with the current state", 422: "Invalid fields",
            503: "A service it depends on did not answer"}


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "Machine-readable code"})
    message = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields", metadata={
        "description": "Field path → reasons, for 422"})


def http_entrypoints(service_cls: type) -> list[JsonHttpEntrypoint]:
    found = []
    for _name, member in inspect.getmembers(service_cls, inspect.isfunction):
        for entrypoint in getattr(member, "nameko_entrypoints", ()):
            if isinstance(entrypoint, JsonHttpEntrypoint):
                entrypoint.method_name = member.__name__
                found.append(entrypoint)
    return sorted(found, key=lambda e: (e.url, e.method))


def _path(url: str) -> tuple[str, list[str]]:
    names = re.findall(r"<(?:[a-z]+:)?([a-zA-Z_]+)>", url)
    return re.sub(r"<(?:[a-z]+:)?([a-zA-Z_]+)>", r"{\1}", url), names


def build_openapi(service_cls: type) -> dict[str, Any]:
    name = service_cls.name  # type: ignore[attr-defined]
    plugin = MarshmallowPlugin()
    spec = APISpec(title=f"aftersales {name}", version=__version__, openapi_version="3.0.3",
                   plugins=[plugin])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"})
    spec.components.schema("Error", schema=ErrorSchema)
    for entrypoint in http_entrypoints(service_cls):
        path, names = _path(entrypoint.url)
        for method in entrypoint.method.split(","):
            operation: dict[str, Any] = {
                "operationId": entrypoint.method_name,
                "summary": entrypoint.summary or entrypoint.method_name.replace("_", " "),
                "parameters": [{"name": n, "in": "path", "required": True,
                                "schema": {"type": "string"}} for n in names],
                "responses": {},
            }
            ok: dict[str, Any] = {"description": "OK"}
            if entrypoint.response_schema is not None:
                ok["content"] = {"application/json": {"schema": entrypoint.response_schema}}
            operation["responses"][str(entrypoint.success_status)] = ok
            if entrypoint.query_schema is not None:
                operation["parameters"] += plugin.converter.schema2parameters(
                    entrypoint.query_schema, location="query")
            errors = {400, 422} if entrypoint.request_schema is not None else set()
            if entrypoint.query_schema is not None:
                errors.add(422)
            if names:
                errors.add(404)
            if not isinstance(entrypoint.roles, Public):
                operation["security"] = [{"bearer": []}]
                operation["x-roles"] = sorted(entrypoint.roles)
                errors |= {401, 403}
            errors |= set(entrypoint.extra_statuses)
            for status in sorted(errors):
                operation["responses"][str(status)] = {
                    "description": _REASONS.get(status, "Error"),
                    "content": {"application/json": {"schema": "Error"}}}
            if entrypoint.request_schema is not None:
                operation["requestBody"] = {"required": not entrypoint.body_optional, "content": {
                    "application/json": {"schema": entrypoint.request_schema}}}
            spec.path(path=path, operations={method.lower(): operation})
    # Through JSON, as it is served: every key a string.
    return json.loads(json.dumps(spec.to_dict(), default=str))
