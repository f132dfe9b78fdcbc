"""Access tokens: a service accepts a token only from an issuer it trusts, signed with a key
that issuer publishes, and only for what that issuer may grant.

The table is every forged or wrong token we know of; each is refused with 401 and a reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest

from chassis import auth
from chassis.auth import SigningKey, TokenVerifier, issue_token, jwks_of
from chassis.errors import Unauthorized
from chassis.identity import HEADQUARTERS_SCOPE, SITE_SCOPE, Identity, Role, TrustedIssuer

HQ, D001, D002 = "https://id.hq.example", "https://id.d001.example", "https://id.d002.example"
KEYS = {HQ: SigningKey.generate(), D001: SigningKey.generate(), D002: SigningKey.generate()}
ROTATED_OUT = SigningKey.generate()  # D001's key before the last rotation: no longer published


def trusted(issuer: str, scope: str, dealer: str | None = None) -> TrustedIssuer:
    return TrustedIssuer(issuer, scope, dealer, jwks=json.dumps(jwks_of([KEYS[issuer]])))


# What D001's site services trust, and what headquarters' trust.
AT_D001 = TokenVerifier([trusted(D001, SITE_SCOPE, "D001"), trusted(HQ, HEADQUARTERS_SCOPE)])
AT_D002 = TokenVerifier([trusted(D002, SITE_SCOPE, "D002"), trusted(HQ, HEADQUARTERS_SCOPE)])
AT_HQ = TokenVerifier([trusted(HQ, HEADQUARTERS_SCOPE)])


# The table is built when the file is collected, perhaps long before its tests run: a day.
DAY = 86400


def claims(issuer: str, role: str, dealer: str | None = None, ttl: int = DAY) -> dict:
    now = int(time.time())
    body = {"iss": issuer, "sub": "someone", "role": role, "iat": now, "exp": now + ttl}
    return {**body, "dealer": dealer} if dealer else body


def signed(body: dict, key: SigningKey) -> str:
    """A token signed properly, whatever its claims say (issue_token refuses some of these)."""
    return jwt.encode(body, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(body: dict) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": KEYS[HQ].kid}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}."


def hs256_with_public_key(body: dict, key: SigningKey) -> str:
    """The key-confusion forgery: HMAC keyed with the issuer's published key (by hand: the
    library itself refuses to make one)."""
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"
    public = base64.urlsafe_b64decode(key.public_jwk()["x"] + "==")
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


FORGED = [
    ("a staff token without a dealer", AT_HQ, signed(claims(HQ, "dealer_manager"), KEYS[HQ]),
     "must name its dealer"),
    ("a staff token without a dealer, at a site", AT_D001,
     signed(claims(HQ, "advisor"), KEYS[HQ]), "must name its dealer"),
    ("alg none", AT_D001, unsigned(claims(HQ, "operator")), "not none"),
    ("HS256 signed with the issuer's public key", AT_HQ,
     hs256_with_public_key(claims(HQ, "oem_analyst"), KEYS[HQ]), "not HS256"),
    ("an unknown issuer", AT_D001,
     signed(claims("https://id.elsewhere.example", "advisor", "D001"), SigningKey.generate()),
     "not one this service trusts"),
    ("another site's issuer", AT_D001, signed(claims(D002, "advisor", "D002"), KEYS[D002]),
     "not one this service trusts"),
    ("another site's issuer naming this site", AT_D001,
     signed(claims(D002, "advisor", "D001"), KEYS[D002]), "not one this service trusts"),
    ("a site's issuer vouching for another dealer's staff", AT_D002,
     signed(claims(D002, "dealer_manager", "D001"), KEYS[D002]), "may not vouch for staff"),
    ("a site's staff token at headquarters", AT_HQ,
     signed(claims(D001, "dealer_manager", "D001"), KEYS[D001]), "not one this service trusts"),
    ("an HQ role from a site issuer", AT_D001,
     signed(claims(D001, "oem_analyst"), KEYS[D001]), "may not grant the oem_analyst role"),
    ("an owner from a site issuer", AT_D001, signed(claims(D001, "owner"), KEYS[D001]),
     "may not grant the owner role"),
    ("a partner from a site issuer", AT_D001, signed(claims(D001, "partner"), KEYS[D001]),
     "may not grant the partner role"),
    ("a site issuer's token signed with headquarters' key", AT_D001,
     signed(claims(D001, "advisor", "D001"), KEYS[HQ]), "does not publish"),
    ("another key under the site key's id", AT_D001,
     signed(claims(D001, "advisor", "D001"), SigningKey(KEYS[D001].kid, KEYS[HQ].private_key)),
     "not valid"),
    ("expired", AT_D001, signed(claims(D001, "advisor", "D001", ttl=-60), KEYS[D001]),
     "expired"),
    ("a rotated-out key", AT_D001, signed(claims(D001, "advisor", "D001"), ROTATED_OUT),
     "does not publish"),
    ("a role no one has", AT_HQ, signed(claims(HQ, "superuser"), KEYS[HQ]), "not valid"),
    ("a claim changed after signing", AT_D001,
     signed(claims(D001, "advisor", "D001"), KEYS[D001]).replace(".", ".x", 1), "not valid"),
    ("not a token", AT_D001, "not-a-token", "not valid"),
]


@pytest.mark.parametrize(("case", "verifier", "token", "reason"), FORGED,
                         ids=[case for case, *_ in FORGED])
def test_a_forged_or_wrong_token_is_refused(case, verifier, token, reason):
    with pytest.raises(Unauthorized) as refused:
        verifier.verify(token)
    assert reason in str(refused.value)


@pytest.mark.parametrize(("verifier", "token", "expected"), [
    (AT_D001, issue_token(KEYS[D001], issuer=D001, subject="SA-017", role=Role.ADVISOR,
                          dealer_code="D001", ttl_seconds=DAY),
     Identity("SA-017", Role.ADVISOR, "D001", D001)),
    (AT_D001, issue_token(KEYS[HQ], issuer=HQ, subject="C-1", role=Role.OWNER,
                          ttl_seconds=DAY),
     Identity("C-1", Role.OWNER, None, HQ)),
    (AT_HQ, issue_token(KEYS[HQ], issuer=HQ, subject="mgr-1", role=Role.DEALER_MANAGER,
                        dealer_code="D001", ttl_seconds=DAY),
     Identity("mgr-1", Role.DEALER_MANAGER, "D001", HQ)),
    (AT_HQ, issue_token(KEYS[HQ], issuer=HQ, subject="shop-9", role=Role.PARTNER,
                        ttl_seconds=DAY),
     Identity("shop-9", Role.PARTNER, None, HQ)),
], ids=["site staff at their site", "an owner at a site", "dealer staff granted by HQ",
        "a partner at HQ"])
def test_what_each_issuer_may_grant_is_accepted(verifier, token, expected):
    assert verifier.verify(token) == expected


def test_issue_token_refuses_staff_without_a_dealer_and_cross_dealer_roles_with_one():
    with pytest.raises(ValueError):
        issue_token(KEYS[D001], issuer=D001, subject="x", role=Role.ADVISOR)
    with pytest.raises(ValueError):
        issue_token(KEYS[HQ], issuer=HQ, subject="x", role=Role.OWNER, dealer_code="D001")


def test_during_a_rotation_the_previous_key_verifies_beside_the_new_one():
    old, new = SigningKey.generate(), SigningKey.generate()
    verifier = TokenVerifier([TrustedIssuer(D001, SITE_SCOPE, "D001",
                                            jwks=json.dumps(jwks_of([new, old])))])
    for key in (old, new):
        token = issue_token(key, issuer=D001, subject="SA-1", role="advisor", dealer_code="D001")
        assert verifier.verify(token).subject == "SA-1"


def test_a_token_is_accepted_again_and_still_refused_once_it_expires(monkeypatch):
    verifier = TokenVerifier([trusted(D001, SITE_SCOPE, "D001")])
    token = issue_token(KEYS[D001], issuer=D001, subject="SA-017", role=Role.ADVISOR,
                        dealer_code="D001", ttl_seconds=60)
    first = verifier.verify(token)
    assert verifier.verify(token) == first
    later = time.time() + 61
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(token)


def test_a_signing_key_survives_its_pem():
    key = SigningKey.generate()
    again = SigningKey.from_pem(key.kid, key.private_pem())
    assert again.public_jwk() == key.public_jwk()
    assert key.public_jwk()["kty"] == "OKP" and "d" not in key.public_jwk()
