"""Staff sign in at their dealer site's identity, on the real stack: the first manager made by
the operator's command, staff added by that manager, tokens verified by booking over real
HTTP against identity's published keys; refresh rotation and reuse, sign-out, deactivation,
lockout, what a site refuses to create, the audit log and the metrics."""

from __future__ import annotations

import pytest
import requests

from booking.service import BookingService
from chassis.auth import Role
from chassis.registry import SITE
from chassis.testing import auth, make_settings, service_database, test_trust
from identity.commands import create_user
from services.identity.tests.integration.identity_stack import (
    PASSWORD,
    RunningIdentity,
    bearer,
    own_trust,
)


@pytest.fixture
def manager(site_identity: RunningIdentity, tmp_path) -> dict:
    """D001's first manager, made at the console as an operator would, then signed in."""
    config = site_identity.config_file(tmp_path)
    assert create_user(["--config", str(config), "--username", "Zhang.Wei", "--role",
                        "dealer_manager", "--display-name", "张伟"],
                       read_password=lambda: PASSWORD) == 0
    return site_identity.tokens("zhang.wei")


@pytest.fixture
def booking_url(site_identity: RunningIdentity, database, amqp_uri, services) -> str:
    """D001's booking, trusting D001's identity as deploy/local does: its JWKS over HTTP."""
    settings = make_settings("booking", service_database(database, BookingService), amqp_uri,
                             trust=(own_trust(site_identity.url, at_headquarters=False,
                                              dealer_code="D001"), *test_trust(SITE, "D001")))
    services(BookingService, settings)
    return f"http://127.0.0.1:{settings.http_port}"


def calendar(booking_url: str, tokens: dict) -> requests.Response:
    return requests.get(f"{booking_url}/calendar", headers=bearer(tokens), timeout=10)


def test_staff_sign_in_and_booking_accepts_the_token(site_identity, manager, booking_url):
    site_identity.create_user(bearer(manager), "li.na", "advisor", display_name="李娜")
    tokens = site_identity.tokens("LI.NA")
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 300
    assert calendar(booking_url, tokens).status_code == 200
    forged = dict(tokens, access_token=tokens["access_token"][:-4] + "AAAA")
    assert calendar(booking_url, forged).status_code == 401
    # The keys booking fetched are identity's, and only their public half is anywhere.
    jwks = site_identity.call("GET", "/.well-known/jwks.json").json()
    assert len(jwks["keys"]) == 2 and all("d" not in key for key in jwks["keys"])
    stored = site_identity.rows("SELECT private_key_sealed FROM signing_keys")
    assert stored and all("PRIVATE KEY" not in row[0] for row in stored)
    discovery = site_identity.call("GET", "/.well-known/openid-configuration").json()
    assert discovery["jwks_uri"] == f"{site_identity.url}/.well-known/jwks.json"


def test_refresh_rotates_and_a_reused_token_revokes_the_session(site_identity, manager):
    first = manager
    second = site_identity.call("POST", "/refresh",
                                json={"refresh_token": first["refresh_token"]}).json()
    assert second["refresh_token"] != first["refresh_token"]
    reused = site_identity.call("POST", "/refresh", json={"refresh_token": first["refresh_token"]})
    assert (reused.status_code, reused.json()["reason"]) == (401, "reused")
    after = site_identity.call("POST", "/refresh", json={"refresh_token": second["refresh_token"]})
    assert (after.status_code, after.json()["reason"]) == (401, "revoked")
    assert site_identity.rows("SELECT revoked_reason FROM sessions")[0][0] == "refresh_reused"


def test_sign_out_ends_the_session(site_identity, manager):
    answer = site_identity.call("POST", "/sign-out",
                                json={"refresh_token": manager["refresh_token"]})
    assert answer.json() == {"signed_out": True}
    refused = site_identity.call("POST", "/refresh",
                                 json={"refresh_token": manager["refresh_token"]})
    assert refused.status_code == 401


def test_deactivation_revokes_sessions_and_stops_sign_in(site_identity, manager, booking_url):
    made = site_identity.create_user(bearer(manager), "wang.jun", "advisor").json()
    tokens = site_identity.tokens("wang.jun")
    answer = site_identity.call("POST", f"/users/{made['id']}/deactivate", bearer(manager))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["active"], answer.json()["sessions_revoked"]) == (False, 1)
    refresh = site_identity.call("POST", "/refresh",
                                 json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
    assert site_identity.sign_in("wang.jun").status_code == 401
    # The last access token still works until it expires: minutes, as the README says.
    assert calendar(booking_url, tokens).status_code == 200


def test_five_failures_lock_the_name_and_the_answer_says_nothing_of_who_exists(site_identity,
                                                                              manager):
    site_identity.create_user(bearer(manager), "li.na", "advisor")
    for name in ("li.na", "no.such.person"):
        answers = [site_identity.sign_in(name, "wrong password!") for _ in range(5)]
        assert {(a.status_code, a.json()["message"]) for a in answers} == {
            (401, "the user name or password is wrong")}
        locked = site_identity.sign_in(name, PASSWORD)
        assert locked.status_code == 429 and locked.headers["Retry-After"] == "30"
        assert locked.json()["error"] == "TOO_MANY_ATTEMPTS"
    kinds = [row[0] for row in site_identity.rows("SELECT action FROM audit_log ORDER BY id")]
    assert kinds.count("LOCKED_OUT") == 2 and kinds.count("SIGN_IN_FAILED") == 12


def test_a_site_refuses_headquarters_roles_and_another_dealers_staff(site_identity, manager):
    headers = bearer(manager)
    for role, dealer in (("operator", None), ("oem_analyst", None), ("advisor", "D002"),
                         ("owner", None)):
        fields = {"dealer_code": dealer} if dealer else {}
        answer = site_identity.create_user(headers, f"x.{role}", role, expect=None, **fields)
        assert answer.status_code in (403, 422), (role, answer.text)
    # Headquarters' operator is trusted here, but a site's staff are its manager's to add.
    site_identity.create_user(auth(Role.OPERATOR), "ops.made", "advisor", expect=403)
    # And a token of another dealer's manager is refused at the door.
    other = auth(Role.DEALER_MANAGER, dealer_code="D002")
    site_identity.create_user(other, "d2.made", "advisor", expect=403)


def test_the_audit_log_and_the_sign_in_metric(site_identity, manager):
    site_identity.sign_in("zhang.wei", "wrong password!")
    answer = site_identity.call("GET", "/audit?kind=SIGNED_IN&kind=SIGN_IN_FAILED&limit=1",
                                bearer(manager))
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert [e["kind"] for e in page["items"]] == ["SIGN_IN_FAILED"]
    assert page["items"][0]["client_address"] == "127.0.0.1"
    rest = site_identity.call("GET", f"/audit?kind=SIGNED_IN&before={page['next_before']}",
                              bearer(manager)).json()
    assert [e["kind"] for e in rest["items"]] == ["SIGNED_IN"]
    advisor = site_identity.call("GET", "/audit", auth(Role.ADVISOR))
    assert advisor.status_code == 403
    metrics = site_identity.call("GET", "/metrics").text
    assert 'aftersales_identity_sign_ins_total{method="password",outcome="success"}' in metrics
