"""How identity says a grant or a refusal over HTTP.

Staff and owner sign-ins answer in the platform's error shape (401, or 429 with Retry-After
while locked). The partners' token endpoint answers as RFC 6749 §5 says: `{"access_token",
"token_type", "expires_in"}`, or `{"error": "invalid_client" | "invalid_request" |
"unsupported_grant_type", "error_description"}`. Token answers are never cached.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from werkzeug.wrappers import Request, Response

from chassis.http import json_response
from identity.use_cases import Granted, Refusal, Refused

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_TOO_MANY = {Refusal.LOCKED, Refusal.RATE_LIMITED}


def token_answer(result: Granted | Refused) -> Response:
    if isinstance(result, Refused):
        return refused_answer(result)
    body: dict[str, Any] = {"access_token": result.access_token, "token_type": "Bearer",
                            "expires_in": result.expires_in}
    if result.refresh_token is not None:
        body["refresh_token"] = result.refresh_token
    return json_response(body, headers=NO_STORE)


def refused_answer(refused: Refused) -> Response:
    headers = dict(NO_STORE)
    if refused.reason in _TOO_MANY:
        status, error = 429, "TOO_MANY_ATTEMPTS"
        headers["Retry-After"] = str(refused.retry_after or 1)
    elif refused.reason is Refusal.ROLE_NOT_GRANTED:
        status, error = 403, "FORBIDDEN"
    else:
        status, error = 401, "UNAUTHORIZED"
    return json_response({"error": error, "message": refused.message,
                          "reason": refused.reason.value}, status=status, headers=headers)


class InvalidTokenRequest(Exception):
    """A token request RFC 6749 refuses before any client is looked at."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def oauth_answer(result: Granted | Refused | InvalidTokenRequest) -> Response:
    if isinstance(result, Granted):
        return json_response({"access_token": result.access_token, "token_type": "Bearer",
                              "expires_in": result.expires_in}, headers=NO_STORE)
    headers = dict(NO_STORE)
    if isinstance(result, InvalidTokenRequest):
        error, description, status = result.error, result.description, result.status
    elif result.reason is Refusal.UNSUPPORTED_GRANT_TYPE:
        error, description, status = "unsupported_grant_type", result.message, 400
    else:
        error, description, status = "invalid_client", result.message, 401
        if result.reason is Refusal.LOCKED:
            status, headers["Retry-After"] = 429, str(result.retry_after or 1)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="aftersales", charset="UTF-8"'
    return json_response({"error": error, "error_description": description}, status=status,
                         headers=headers)


def client_credentials(request: Request) -> tuple[str | None, str, str]:
    """(grant_type, client_id, client_secret) of a token request, from HTTP Basic (each half
    form-urlencoded first, RFC 6749 §2.3.1) or the form; one method only (§2.3)."""
    if request.mimetype != "application/x-www-form-urlencoded":
        raise InvalidTokenRequest("invalid_request", "the body must be form-encoded "
                                  "(application/x-www-form-urlencoded)")
    form = request.form
    basic = request.authorization
    in_form = form.get("client_secret") is not None
    if basic is not None and basic.type == "basic":
        if in_form:
            raise InvalidTokenRequest("invalid_request", "authenticate the client one way: "
                                      "HTTP Basic or the form, not both")
        client_id = unquote_plus(basic.username or "")
        secret = unquote_plus(basic.password or "")
    elif in_form:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    else:
        raise InvalidTokenRequest("invalid_client", "no client authentication: use HTTP Basic "
                                  "or client_id and client_secret in the form", 401)
    if not client_id or not secret:
        raise InvalidTokenRequest("invalid_client", "client_id and client_secret are both "
                                  "needed", 401)
    if len(client_id) > 100 or len(secret) > 512:
        raise InvalidTokenRequest("invalid_client", "client authentication failed", 401)
    return form.get("grant_type"), client_id, secret


def client_address(request: Request) -> str:
    """The caller's address, as the connection shows it (put a reverse proxy's own address
    handling in front, e.g. werkzeug's ProxyFix, where one terminates TLS)."""
    return (request.remote_addr or "unknown")[:64]
