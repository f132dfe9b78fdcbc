"""The one table that turns an error into an HTTP answer: its status and its JSON body."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError
from sqlalchemy.exc import OperationalError

from chassis.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    MalformedRequest,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from contracts import ContractViolation

# The one place an error becomes a status code.
HTTP_STATUS: dict[type[Exception], int] = {
    MalformedRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    ValidationError: 422,
    ContractViolation: 422,
    ServiceUnavailable: 503,
    # The database refused or dropped the connection (down, full, failover) or rolled the
    # transaction back (deadlock, serialization): nothing was stored, the caller may retry.
    OperationalError: 503,
}


def http_status(exc: Exception) -> int:
    for kind in type(exc).__mro__:
        if kind in HTTP_STATUS:
            return HTTP_STATUS[kind]
    return 500


def error_body(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ValidationError):
        return {"error": "VALIDATION_FAILED", "message": "the request has invalid fields",
                "fields": exc.normalized_messages()}
    if isinstance(exc, ContractViolation):
        return {"error": "CONTRACT_VIOLATION", "message": str(exc), "fields": exc.errors}
    if isinstance(exc, DomainError):
        return {"error": exc.code, "message": exc.message, **exc.detail}
    if isinstance(exc, OperationalError):
        return {"error": ServiceUnavailable.code,
                "message": "the service's database is not available; nothing was stored, "
                           "try again"}
    return {"error": "INTERNAL", "message": "internal error"}
