"""The errors the rules raise when they refuse a request. Pure: domain modules import them
without pulling in the web or the database; `chassis.error_statuses` turns them into HTTP
answers."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the rules refuse; `detail` goes into the JSON answer."""

    code = "DOMAIN_ERROR"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidInput(DomainError):
    code = "INVALID_INPUT"

    def __init__(self, field: str, reason: str, **detail: Any) -> None:
        super().__init__(f"{field}: {reason}", fields={field: [reason]}, **detail)


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    code = "CONFLICT"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class Unauthorized(DomainError):
    code = "UNAUTHORIZED"


class MalformedRequest(DomainError):
    code = "MALFORMED_REQUEST"


class ServiceUnavailable(DomainError):
    """Another service of the site, needed for an answer now, did not answer."""

    code = "SERVICE_UNAVAILABLE"
