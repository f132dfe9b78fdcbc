"""Headquarters' identity delegating sign-in to the car maker's OpenID Connect provider, through
its own endpoints: `/oidc/start` redirects to the provider, `/oidc/callback` answers with our
tokens, for headquarters roles and the dealer staff headquarters grants, and nobody else.

The provider is a real one (oidc-provider under Node.js, `tests/support/oidc_fixture.py`);
the protocol itself (`identity.oidc`) is tested in `test_oidc_sign_in.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from chassis.auth import Role, TokenVerifier
from services.identity.tests.integration.identity_stack import (
    RunningIdentity,
    own_trust,
    start_identity,
)


@pytest.fixture
def hq(database, amqp_uri, services, oidc_provider) -> Iterator[RunningIdentity]:
    running = start_identity(database, amqp_uri, services, at_headquarters=True, oidc={
        "issuer": oidc_provider.issuer, "client_id": oidc_provider.client_id,
        "client_secret": oidc_provider.client_secret,
        "redirect_uri": oidc_provider.redirect_uri})
    yield running
    running.engine.dispose()


def delegated(hq: RunningIdentity, oidc_provider, account: str) -> tuple[dict, object]:
    start = hq.call("GET", "/oidc/start", allow_redirects=False)
    assert start.status_code == 302, start.text
    params = oidc_provider.callback(start.headers["Location"], account)
    return params, hq.call("GET", f"/oidc/callback?{urlencode(params)}")


def test_a_headquarters_analyst_signs_in_at_the_provider(hq, oidc_provider):
    params, answer = delegated(hq, oidc_provider, "analyst-hq")
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    verifier = TokenVerifier([own_trust(hq.url, at_headquarters=True, dealer_code="HQ")])
    who = verifier.verify(tokens["access_token"])
    assert (who.subject, who.role, who.dealer_code) == ("oidc:analyst-hq", Role.OEM_ANALYST,
                                                        None)
    refreshed = hq.call("POST", "/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    again = hq.call("GET", f"/oidc/callback?{urlencode(params)}")
    assert again.status_code == 401  # the state answered once
    assert hq.rows("SELECT count(*) FROM oidc_pending")[0][0] == 0


def test_dealer_staff_get_the_dealer_headquarters_grants(hq, oidc_provider):
    _, answer = delegated(hq, oidc_provider, "advisor-d001")
    assert answer.status_code == 200, answer.text
    verifier = TokenVerifier([own_trust(hq.url, at_headquarters=True, dealer_code="HQ")])
    who = verifier.verify(answer.json()["access_token"])
    assert (who.role, who.dealer_code) == (Role.ADVISOR, "D001")


def test_a_person_without_a_platform_role_is_refused(hq, oidc_provider):
    _, answer = delegated(hq, oidc_provider, "no-role")
    assert (answer.status_code, answer.json()["reason"]) == (403, "role_not_granted")
    kinds = [r[0] for r in hq.rows("SELECT action FROM audit_log")]
    assert "OIDC_REFUSED" in kinds


def test_a_callback_nobody_started_is_refused(hq):
    answer = hq.call("GET", "/oidc/callback?code=abc&state=made-up")
    assert (answer.status_code, answer.json()["reason"]) == (401, "delegation_failed")


def test_a_site_has_no_provider(site_identity):
    assert site_identity.call("GET", "/oidc/start", allow_redirects=False).status_code == 404
