"""Partners' systems get tokens with OAuth2 client credentials at headquarters (RFC 6749
§4.4), on the real stack: registered by an operator, authenticated by HTTP Basic or the form,
refused in RFC 6749's own words, the secret rotated with an overlap."""

from __future__ import annotations

from urllib.parse import quote

from chassis.auth import Role, TokenVerifier
from chassis.testing import auth
from services.identity.tests.integration.identity_stack import RunningIdentity, own_trust

OPERATOR = auth(Role.OPERATOR, subject="ops-1")


def register(hq: RunningIdentity, name: str = "Quick Fix 快修") -> dict:
    answer = hq.call("POST", "/partners", OPERATOR, json={"name": name})
    assert answer.status_code == 201, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    return answer.json()


def token(hq: RunningIdentity, client_id: str, secret: str, *, basic: bool = True,
          grant_type: str = "client_credentials"):
    form = {"grant_type": grant_type}
    if basic:
        # RFC 6749 §2.3.1: each half form-urlencoded, then HTTP Basic.
        return hq.call("POST", "/oauth/token", data=form,
                       auth=(quote(client_id, safe=""), quote(secret, safe="")))
    return hq.call("POST", "/oauth/token",
                   data={**form, "client_id": client_id, "client_secret": secret})


def test_a_partner_gets_a_partner_token_with_basic_or_form_credentials(hq_identity):
    partner = register(hq_identity)
    for basic in (True, False):
        answer = token(hq_identity, partner["client_id"], partner["client_secret"], basic=basic)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["token_type"], body["expires_in"]) == ("Bearer", 600)
        assert answer.headers["Cache-Control"] == "no-store"
        verifier = TokenVerifier([own_trust(hq_identity.url, at_headquarters=True,
                                            dealer_code="HQ")])
        who = verifier.verify(body["access_token"])
        assert (who.role, who.subject) == (Role.PARTNER, partner["client_id"])
    stored = hq_identity.rows("SELECT secret_hash FROM partner_clients")
    assert partner["client_secret"] not in str(stored)


def test_refusals_are_rfc_6749_error_bodies(hq_identity):
    partner = register(hq_identity)
    wrong = token(hq_identity, partner["client_id"], "not-the-secret")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    grant = token(hq_identity, partner["client_id"], partner["client_secret"],
                  grant_type="password")
    assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")
    none = hq_identity.call("POST", "/oauth/token", data={"grant_type": "client_credentials"})
    assert (none.status_code, none.json()["error"]) == (401, "invalid_client")
    both = hq_identity.call("POST", "/oauth/token", auth=(partner["client_id"], "x"),
                            data={"grant_type": "client_credentials", "client_id": "a",
                                  "client_secret": "b"})
    assert (both.status_code, both.json()["error"]) == (400, "invalid_request")
    as_json = hq_identity.call("POST", "/oauth/token", json={"grant_type": "client_credentials"})
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")


def test_a_rotated_secret_overlaps_and_a_deactivated_partner_gets_nothing(hq_identity):
    partner = register(hq_identity)
    client_id = partner["client_id"]
    rotated = hq_identity.call("POST", f"/partners/{client_id}/secret", OPERATOR)
    assert rotated.status_code == 200, rotated.text
    fresh = rotated.json()
    assert fresh["client_secret"] != partner["client_secret"]
    assert fresh["previous_secret_valid_until"]
    assert token(hq_identity, client_id, partner["client_secret"]).status_code == 200
    assert token(hq_identity, client_id, fresh["client_secret"]).status_code == 200
    off = hq_identity.call("POST", f"/partners/{client_id}/deactivate", OPERATOR)
    assert off.json()["active"] is False
    assert token(hq_identity, client_id, fresh["client_secret"]).status_code == 401
    kinds = {r[0] for r in hq_identity.rows("SELECT action FROM audit_log")}
    assert {"PARTNER_REGISTERED", "PARTNER_SECRET_ROTATED", "PARTNER_DEACTIVATED",
            "PARTNER_TOKEN_ISSUED", "PARTNER_TOKEN_REFUSED"} <= kinds


def test_only_operators_register_partners_and_only_at_headquarters(hq_identity, site_identity):
    analyst = hq_identity.call("POST", "/partners", auth(Role.OEM_ANALYST), json={"name": "x"})
    assert analyst.status_code == 403
    at_site = site_identity.call("POST", "/partners", OPERATOR, json={"name": "x"})
    assert at_site.status_code == 404
    assert site_identity.call("POST", "/oauth/token",
                              data={"grant_type": "client_credentials", "client_id": "a",
                                    "client_secret": "b"}).status_code == 404
