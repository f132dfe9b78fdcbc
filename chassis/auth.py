"""Who is calling: short-lived tokens signed by an issuer this service trusts.

Access tokens are JWTs signed with Ed25519 (`EdDSA`) by an `identity` service: each dealer
site's for its own staff, headquarters' for everyone else. A service verifies a token only
against the issuers its settings trust (`Settings.trust`), with the public keys each publishes
as JWKS, and only for what that issuer may grant (`chassis.identity.grant_refusal`): a site's
issuer vouches for that site's staff alone. Keys are cached, so a site keeps verifying its own
staff's tokens, and the headquarters tokens it has seen keys for, with its WAN link down; an
unknown key id makes the cache look again (a rotated key), at most every few seconds.

Every HTTP endpoint declares the roles it admits (`@http(..., roles=…)`); the entrypoint
refuses a missing or bad token (401), a role not admitted, and dealer staff of another dealer
(403) before any service code runs. Whether an owner may see *this* appointment is the
domain's question: it compares `identity.subject` with the record's customer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chassis.errors import Unauthorized
from chassis.identity import (  # noqa: F401  (what callers of chassis.auth also need)
    CROSS_DEALER,
    DEALER_STAFF,
    PUBLIC,
    Identity,
    Role,
    TrustedIssuer,
    admit,
    own_dealer_only,
)

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"  # the only one accepted: never `none`, never a shared-secret HS*
ACCESS_TOKEN_SECONDS = 300


# -- signing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SigningKey:
    """An issuer's private key and the key id its tokens name."""

    kid: str
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(kid=uuid.uuid4().hex[:16], private_key=Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, kid: str, pem: str) -> SigningKey:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("a signing key must be an Ed25519 private key")
        return cls(kid=kid, private_key=key)

    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()

    def public_jwk(self) -> dict[str, str]:
        """The public half as a JWK (RFC 8037), for the issuer's JWKS."""
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def issue_token(key: SigningKey, *, issuer: str, subject: str, role: Role | str,
                dealer_code: str | None = None, ttl_seconds: int = ACCESS_TOKEN_SECONDS,
                now: float | None = None, claims: dict[str, Any] | None = None) -> str:
    """A signed access token; dealer staff must name their dealer, other roles must not."""
    role = Role(role)
    if role in DEALER_STAFF and not dealer_code:
        raise ValueError(f"a {role} token needs a dealer code")
    if role in CROSS_DEALER and dealer_code:
        raise ValueError(f"a {role} token names no dealer")
    issued = int(now if now is not None else time.time())
    body = {**(claims or {}), "iss": issuer, "sub": subject, "role": role.value, "iat": issued,
            "exp": issued + ttl_seconds, "jti": uuid.uuid4().hex}
    if dealer_code:
        body["dealer"] = dealer_code
    return jwt.encode(body, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def jwks_of(keys: Iterable[SigningKey]) -> dict[str, list[dict[str, str]]]:
    return {"keys": [key.public_jwk() for key in keys]}


# -- verifying -------------------------------------------------------------------------------

class IssuerKeys:
    """One trusted issuer's public keys, fetched from its JWKS and kept.

    A failed fetch keeps what was fetched before (the WAN is down; the keys still verify).
    A key id not in the set triggers a fetch, no more often than `refetch_seconds`, so a flood
    of tokens with made-up key ids cannot turn into a flood of requests to the issuer.
    """

    def __init__(self, trusted: TrustedIssuer, *, http: requests.Session | None = None,
                 refresh_seconds: float = 300.0, refetch_seconds: float = 5.0,
                 timeout: float = 3.0) -> None:
        self.trusted = trusted
        self._http = http or requests.Session()
        self._refresh, self._refetch, self._timeout = refresh_seconds, refetch_seconds, timeout
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._tried_at = float("-inf")
        self._lock = threading.Lock()
        if trusted.jwks is not None:
            self._keys = _key_set(json.loads(trusted.jwks))

    def key(self, kid: str) -> jwt.PyJWK | None:
        if self.trusted.jwks is not None:
            return self._keys.get(kid)
        now = time.monotonic()
        stale = now - self._fetched_at > self._refresh
        if (kid not in self._keys or stale) and now - self._tried_at > self._refetch:
            self._fetch(now)
        return self._keys.get(kid)

    def _fetch(self, now: float) -> None:
        with self._lock:
            self._tried_at = now
            try:
                answer = self._http.get(str(self.trusted.jwks_url), timeout=self._timeout)
                answer.raise_for_status()
                self._keys = _key_set(answer.json())
                self._fetched_at = now
            except (requests.RequestException, ValueError, jwt.PyJWKError) as exc:
                log.warning("could not fetch the keys of %s (%s): keeping %d cached",
                            self.trusted.issuer, exc, len(self._keys))


def _key_set(document: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    keys: dict[str, jwt.PyJWK] = {}
    for jwk in document.get("keys", []):
        if jwk.get("kid") and jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm=ALGORITHM)
    return keys


class TokenVerifier:
    """Verifies access tokens against the issuers a service trusts, and what each may grant."""

    # Verified tokens until they expire: a signature check is a share of a booking's CPU, and a
    # client sends the same token with every request. Bounded; cleared whole when full.
    _CACHE_MAX = 10_000

    def __init__(self, trusted: Iterable[TrustedIssuer], *,
                 http: requests.Session | None = None) -> None:
        session = http or requests.Session()
        self.issuers = {t.issuer: IssuerKeys(t, http=session) for t in trusted}
        self._verified: dict[str, tuple[Identity, float]] = {}

    def verify(self, token: str) -> Identity:
        """The identity in a token; Unauthorized (401) with the reason otherwise."""
        known = self._verified.get(token)
        if known is not None:
            if time.time() < known[1]:
                return known[0]
            self._verified.pop(token, None)
            raise Unauthorized("the token has expired")
        identity, expires = self._check(token)
        if len(self._verified) >= self._CACHE_MAX:
            self._verified.clear()
        self._verified[token] = (identity, expires)
        return identity

    def _check(self, token: str) -> tuple[Identity, float]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise Unauthorized("the token is not valid") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthorized(f"tokens are signed with {ALGORITHM}, not {header.get('alg')}")
        issuer = self.issuers.get(str(unverified.get("iss")))
        if issuer is None:
            raise Unauthorized("the token's issuer is not one this service trusts")
        key = issuer.key(str(header.get("kid")))
        if key is None:
            raise Unauthorized("the token is signed with a key its issuer does not publish")
        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM],
                                issuer=issuer.trusted.issuer,
                                options={"require": ["exp", "iat", "sub", "iss"]})
            role = Role(claims["role"])
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except (jwt.InvalidTokenError, KeyError, ValueError):
            raise Unauthorized("the token is not valid") from None
        identity = Identity(subject=str(claims["sub"]), role=role,
                            dealer_code=claims.get("dealer"), issuer=issuer.trusted.issuer)
        refusal = issuer.trusted.refusal(identity)
        if refusal:
            raise Unauthorized(refusal)
        return identity, float(claims["exp"])


def identity_from_header(verifier: TokenVerifier, authorization: str | None) -> Identity:
    if not authorization:
        raise Unauthorized("sign in: an Authorization: Bearer token is required")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return verifier.verify(token.strip())


_VERIFIERS: dict[int, tuple[object, TokenVerifier]] = {}


def verifier_for(settings: Any) -> TokenVerifier:
    """The one verifier (and key cache) of a running service's settings."""
    held = _VERIFIERS.get(id(settings))
    if held is None or held[0] is not settings:
        held = (settings, TokenVerifier(settings.trust))
        _VERIFIERS[id(settings)] = held
    return held[1]
