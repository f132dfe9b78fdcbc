"""Sign-in through a real OpenID Connect provider (oidc-provider under Node.js, no mocks).

The code flow with PKCE end to end, then each way a callback must be refused: a state, a code,
a nonce or an issuer that is not the sign-in's own, a code used twice, a sign-in left too long.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from identity.oidc import AuthorizationRequest, OidcClient, OidcError, OidcProvider, OidcUser

SCOPES = ("openid", "profile", "email", "aftersales")


@pytest.fixture
def client(oidc_provider) -> OidcClient:
    return OidcClient(OidcProvider(
        issuer=oidc_provider.issuer, client_id=oidc_provider.client_id,
        client_secret=oidc_provider.client_secret, redirect_uri=oidc_provider.redirect_uri,
        scopes=SCOPES))


def sign_in(oidc_provider, client: OidcClient, account: str) -> tuple[AuthorizationRequest, str]:
    pending = client.start()
    code, state = oidc_provider.login(pending.url, account)
    assert state == pending.state
    return pending, code


def test_dealer_staff_sign_in_with_code_and_pkce(oidc_provider, client):
    pending = client.start()
    query = parse_qs(urlsplit(pending.url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["response_type"] == ["code"]
    assert 43 <= len(pending.code_verifier) <= 128
    assert pending.code_verifier not in pending.url

    params = oidc_provider.callback(pending.url, "advisor-d001")
    user = client.finish(pending, code=params["code"], state=params["state"], iss=params["iss"])

    assert user == OidcUser(subject="advisor-d001", issuer=oidc_provider.issuer, name="李娜",
                            email="li.na@d001.example", role="advisor", dealer_code="D001",
                            claims=user.claims)
    assert user.claims["aud"] == oidc_provider.client_id
    assert user.claims["nonce"] == pending.nonce


def test_headquarters_staff_have_no_dealer_code(oidc_provider, client):
    pending, code = sign_in(oidc_provider, client, "analyst-hq")
    user = client.finish(pending, code=code, state=pending.state)
    assert (user.subject, user.role, user.dealer_code) == ("analyst-hq", "oem_analyst", None)


def test_without_the_aftersales_scope_there_is_no_role(oidc_provider):
    plain = OidcClient(OidcProvider(
        issuer=oidc_provider.issuer, client_id=oidc_provider.client_id,
        client_secret=oidc_provider.client_secret, redirect_uri=oidc_provider.redirect_uri))
    pending, code = sign_in(oidc_provider, plain, "advisor-d001")
    user = plain.finish(pending, code=code, state=pending.state)
    assert (user.email, user.role, user.dealer_code) == ("li.na@d001.example", None, None)


def test_the_discovery_document_must_be_the_issuers(oidc_provider):
    other = OidcClient(OidcProvider(
        issuer=oidc_provider.issuer + "/", client_id=oidc_provider.client_id,
        client_secret=oidc_provider.client_secret, redirect_uri=oidc_provider.redirect_uri))
    with pytest.raises(OidcError, match="issuer"):
        other.metadata()


def test_a_wrong_state_is_refused(oidc_provider, client):
    pending, code = sign_in(oidc_provider, client, "advisor-d001")
    with pytest.raises(OidcError, match="state"):
        client.finish(pending, code=code, state=client.start().state)
    # The code was not spent on the refused callback: the right one still signs in.
    assert client.finish(pending, code=code, state=pending.state).subject == "advisor-d001"


@pytest.mark.parametrize("forge", [lambda code: code[:-1] + ("A" if code[-1] != "A" else "B"),
                                   lambda code: "forged-" + code[7:]],
                         ids=["tampered", "forged"])
def test_a_tampered_or_forged_code_is_refused(oidc_provider, client, forge):
    pending, code = sign_in(oidc_provider, client, "advisor-d001")
    with pytest.raises(OidcError, match="token endpoint refused the code"):
        client.finish(pending, code=forge(code), state=pending.state)


def test_a_replayed_code_is_refused(oidc_provider, client):
    pending, code = sign_in(oidc_provider, client, "advisor-d001")
    client.finish(pending, code=code, state=pending.state)
    with pytest.raises(OidcError, match="invalid_grant"):
        client.finish(pending, code=code, state=pending.state)


def test_the_nonce_of_another_sign_in_is_refused(oidc_provider, client):
    pending, code = sign_in(oidc_provider, client, "advisor-d001")
    other = client.start()
    # Everything of this sign-in but the nonce, which is the other's: the code redeems (state
    # and PKCE verifier are right), and the id_token then names a nonce we did not send.
    mixed = dataclasses.replace(pending, nonce=other.nonce)
    with pytest.raises(OidcError, match="nonce"):
        client.finish(mixed, code=code, state=pending.state)


def test_the_pending_request_of_another_sign_in_is_refused(oidc_provider, client):
    pending, code = sign_in(oidc_provider, client, "advisor-d001")
    other = client.start()
    with pytest.raises(OidcError, match="state"):
        client.finish(other, code=code, state=pending.state)
    # Even with the other's state: its PKCE verifier does not match this code's challenge.
    with pytest.raises(OidcError, match="token endpoint refused the code"):
        client.finish(other, code=code, state=other.state)


def test_a_pending_request_older_than_ten_minutes_is_refused(oidc_provider, client):
    pending = client.start(now=time.time() - 601)
    code, state = oidc_provider.login(pending.url, "advisor-d001")
    with pytest.raises(OidcError, match="10 minutes"):
        client.finish(pending, code=code, state=state)
    # Nine minutes is still fine.
    pending = client.start(now=time.time() - 540)
    code, state = oidc_provider.login(pending.url, "advisor-d001")
    assert client.finish(pending, code=code, state=state).role == "advisor"


def test_a_callback_from_another_issuer_is_refused(oidc_provider, client):
    pending, code = sign_in(oidc_provider, client, "advisor-d001")
    with pytest.raises(OidcError, match="issuer"):
        client.finish(pending, code=code, state=pending.state, iss="http://127.0.0.1:1")


class AlteredInTransit(requests.Session):
    """The real provider's token response, its id_token swapped on the way to us: what an
    attacker between us and the provider (or a broken provider) could hand the client."""

    def __init__(self, alter: Callable[[str], str]) -> None:
        super().__init__()
        self.alter = alter

    def post(self, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().post(url, *args, **kwargs)
        body = response.json()
        if isinstance(body, dict) and "id_token" in body:
            body["id_token"] = self.alter(body["id_token"])
            response._content = json.dumps(body).encode()
        return response


def _claims_and_header(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return jwt.decode(token, options={"verify_signature": False}), jwt.get_unverified_header(token)


def _unsigned(token: str) -> str:
    claims, _ = _claims_and_header(token)
    return jwt.encode(claims, None, algorithm="none")


def _signed_with_client_secret(token: str, secret: str) -> str:
    claims, header = _claims_and_header(token)
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": header["kid"]})


def _signed_with_our_own_key(token: str) -> str:
    claims, header = _claims_and_header(token)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": header["kid"]})


def _other_subject_same_signature(token: str) -> str:
    head, _, signature = token.split(".")
    claims, _ = _claims_and_header(token)
    body = jwt.utils.base64url_encode(json.dumps({**claims, "sub": "analyst-hq"}).encode())
    return f"{head}.{body.decode()}.{signature}"


@pytest.mark.parametrize(("alter", "refusal"), [
    (lambda token, secret: _unsigned(token), "signed with 'none'"),
    (_signed_with_client_secret, "signed with 'HS256'"),
    (lambda token, secret: _signed_with_our_own_key(token), "Signature verification failed"),
    (lambda token, secret: _other_subject_same_signature(token), "Signature verification failed"),
], ids=["alg-none", "hs256-with-client-secret", "another-key-same-kid", "altered-claims"])
def test_an_id_token_not_signed_by_the_provider_is_refused(oidc_provider, alter, refusal):
    secret = oidc_provider.client_secret
    client = OidcClient(OidcProvider(
        issuer=oidc_provider.issuer, client_id=oidc_provider.client_id, client_secret=secret,
        redirect_uri=oidc_provider.redirect_uri, scopes=SCOPES),
        http=AlteredInTransit(lambda token: alter(token, secret)))
    pending, code = sign_in(oidc_provider, client, "advisor-d001")
    with pytest.raises(OidcError, match=refusal):
        client.finish(pending, code=code, state=pending.state)
