"""How identity reads a token request and says its answers, without a server: RFC 6749's
client authentication (§2.3.1) and error bodies (§5.2), and the platform's refusals."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from chassis.identity import Identity, Role
from identity.answers import (
    InvalidTokenRequest,
    client_credentials,
    oauth_answer,
    refused_answer,
    token_answer,
)
from identity.use_cases import Granted, Refusal, Refused

SECRET = "s3cret: with & and + and %"


def request(headers: dict[str, str] | None = None, **form: str) -> Request:
    return Request(EnvironBuilder(method="POST", headers=headers or {}, data=form).get_environ())


def basic(client_id: str, secret: str) -> dict[str, str]:
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def test_basic_credentials_are_form_decoded_first():
    got = client_credentials(request(basic("ptn_1", SECRET), grant_type="client_credentials"))
    assert got == ("client_credentials", "ptn_1", SECRET)


def test_form_credentials():
    got = client_credentials(request(grant_type="client_credentials", client_id="ptn_1",
                                     client_secret=SECRET))
    assert got == ("client_credentials", "ptn_1", SECRET)


@pytest.mark.parametrize(("headers", "form", "error", "status"), [
    (None, {"grant_type": "client_credentials"}, "invalid_client", 401),
    ({"Authorization": "Basic " + base64.b64encode(b"a:b").decode()},
     {"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"},
     "invalid_request", 400),
    (None, {"grant_type": "client_credentials", "client_id": "a", "client_secret": ""},
     "invalid_client", 401),
])
def test_a_token_request_refused_before_any_client_is_looked_at(headers, form, error, status):
    with pytest.raises(InvalidTokenRequest) as refused:
        client_credentials(request(headers, **form))
    answer = oauth_answer(refused.value)
    assert (answer.status_code, json.loads(answer.get_data())["error"]) == (status, error)


def test_oauth_answers_say_what_rfc_6749_says():
    granted = oauth_answer(Granted("tok", 600, Identity("ptn_1", Role.PARTNER, None)))
    assert json.loads(granted.get_data()) == {"access_token": "tok", "token_type": "Bearer",
                                              "expires_in": 600}
    assert granted.headers["Cache-Control"] == "no-store"
    wrong = oauth_answer(Refused(Refusal.INVALID_CLIENT, "client authentication failed"))
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")
    assert json.loads(wrong.get_data()) == {"error": "invalid_client",
                                            "error_description": "client authentication failed"}
    grant = oauth_answer(Refused(Refusal.UNSUPPORTED_GRANT_TYPE, "no"))
    assert (grant.status_code, json.loads(grant.get_data())["error"]) == (
        400, "unsupported_grant_type")
    locked = oauth_answer(Refused(Refusal.LOCKED, "later", 42))
    assert (locked.status_code, locked.headers["Retry-After"]) == (429, "42")


def test_a_lock_is_a_429_with_retry_after_and_a_refusal_a_401():
    locked = refused_answer(Refused(Refusal.LOCKED, "too many", 30))
    assert (locked.status_code, locked.headers["Retry-After"]) == (429, "30")
    wrong = token_answer(Refused(Refusal.INVALID_CREDENTIALS, "wrong"))
    assert (wrong.status_code, json.loads(wrong.get_data())["reason"]) == (
        401, "invalid_credentials")
    assert refused_answer(Refused(Refusal.ROLE_NOT_GRANTED, "no")).status_code == 403
    pair = token_answer(Granted("a", 300, Identity("u", Role.ADVISOR, "D001"), "r"))
    assert json.loads(pair.get_data())["refresh_token"] == "r"
