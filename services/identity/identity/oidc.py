"""Sign-in delegated to the car maker's OpenID Connect provider (relying-party side).

The authorization code flow with PKCE (S256), as OpenID Connect Core 1.0 §3.1 and RFC 7636
describe it: `OidcClient.start` builds the URL to send the browser to and what to keep until it
comes back; `OidcClient.finish` checks the callback, exchanges the code at the token endpoint
and validates the id_token (signature against the provider's published keys, issuer, audience,
lifetime, nonce) before anyone is believed to be signed in.

Pure of nameko: plain `requests` for HTTP and PyJWT for the JOSE work, so the service wraps it
and the tests drive it against a real provider without a container.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import jwt
import requests

# How long a started sign-in may wait for its callback: a person at a login form, no more.
PENDING_LIFETIME = 600.0
# Clock skew allowed between us and the provider on exp/iat.
LEEWAY = 60.0

# Only asymmetric signatures: an HS* id_token is keyed with our client secret (anyone holding it
# could mint one) and 'none' is no signature. Listed as PyJWT names them.
ASYMMETRIC_ALGORITHMS = frozenset({
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA",
})


class OidcError(Exception):
    """The sign-in cannot be trusted or completed; the message says why (safe to log)."""


@dataclass(frozen=True)
class OidcProvider:
    """One configured OpenID Connect provider, from settings."""

    issuer: str                # e.g. http://127.0.0.1:PORT
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str          # our callback, e.g. http://127.0.0.1:8004/oidc/callback
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    role_claim: str = "aftersales_role"      # the claim naming the platform role
    dealer_claim: str = "aftersales_dealer"  # the claim naming the dealer code, for dealer staff


@dataclass(frozen=True)
class AuthorizationRequest:
    """What we keep (by state) between `start` and the callback."""

    url: str
    state: str
    nonce: str
    code_verifier: str = field(repr=False)
    created_at: float


@dataclass(frozen=True)
class OidcUser:
    """A person the provider vouched for, with the claims it gave."""

    subject: str
    issuer: str
    name: str | None
    email: str | None
    role: str | None
    dealer_code: str | None
    claims: dict[str, Any]


class OidcClient:
    """The relying party for one provider. Safe to share between green threads: its only state
    is the cached discovery document and key set, each replaced whole."""

    def __init__(self, provider: OidcProvider, *, http: requests.Session | None = None,
                 timeout: float = 5.0) -> None:
        if "openid" not in provider.scopes:
            raise ValueError("an OpenID Connect sign-in needs the 'openid' scope")
        self.provider = provider
        self.http = http or requests.Session()
        self.timeout = timeout
        self._metadata: dict[str, Any] | None = None
        self._jwks: dict[str, Any] | None = None

    # -- discovery ---------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, fetched once and kept."""
        if self._metadata is not None:
            return self._metadata
        url = self.provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = self._get_json(url, "discovery document")
        # OpenID Connect Discovery §4.3: the document must be the issuer's own, or a provider
        # could speak for another one (mix-up).
        if document.get("issuer") != self.provider.issuer:
            raise OidcError(f"discovery document names issuer {document.get('issuer')!r}, "
                            f"expected {self.provider.issuer!r}")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(key), str):
                raise OidcError(f"discovery document has no {key}")
        if "code" not in document.get("response_types_supported", ["code"]):
            raise OidcError("the provider does not offer the authorization code flow")
        methods = document.get("code_challenge_methods_supported")
        if methods is not None and "S256" not in methods:
            raise OidcError("the provider does not accept PKCE S256")
        if not self._signing_algorithms(document):
            raise OidcError("the provider signs id_tokens with no algorithm we accept: "
                            f"{document.get('id_token_signing_alg_values_supported')}")
        self._metadata = document
        return document

    # -- the two halves of a sign-in ---------------------------------------------------------

    def start(self, *, now: float | None = None) -> AuthorizationRequest:
        """A new sign-in: where to send the browser, and what to keep for its callback."""
        endpoint = self.metadata()["authorization_endpoint"]
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        # 64 random bytes give 86 characters of [A-Za-z0-9_-]: inside RFC 7636's 43-128.
        code_verifier = secrets.token_urlsafe(64)
        params = {
            "response_type": "code",
            "client_id": self.provider.client_id,
            "redirect_uri": self.provider.redirect_uri,
            "scope": " ".join(self.provider.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": _s256(code_verifier),
            "code_challenge_method": "S256",
        }
        return AuthorizationRequest(url=_with_query(endpoint, params), state=state, nonce=nonce,
                                    code_verifier=code_verifier,
                                    created_at=time.time() if now is None else now)

    def finish(self, pending: AuthorizationRequest, *, code: str, state: str,
               iss: str | None = None, now: float | None = None) -> OidcUser:
        """The callback: check it answers `pending`, redeem the code, validate the id_token.

        `iss` is the callback's `iss` parameter (RFC 9207): pass it where the provider sends one
        (its metadata says `authorization_response_iss_parameter_supported`); a wrong one is
        refused. Left out, the id_token's own `iss` check still binds the sign-in to the issuer.
        """
        now = time.time() if now is None else now
        if not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise OidcError("the callback's state does not match the sign-in it claims to finish")
        if now - pending.created_at > PENDING_LIFETIME:
            raise OidcError("the sign-in was started more than 10 minutes ago; start again")
        if not code:
            raise OidcError("the callback carries no authorization code")
        metadata = self.metadata()
        if iss is not None and iss != self.provider.issuer:
            raise OidcError(f"the callback comes from issuer {iss!r}, "
                            f"expected {self.provider.issuer!r}")
        tokens = self._redeem(metadata, code, pending.code_verifier)
        claims = self._validate_id_token(metadata, tokens.get("id_token"), pending.nonce)
        wanted = {self.provider.role_claim, self.provider.dealer_claim, "name", "email"}
        access_token = tokens.get("access_token")
        if not wanted <= claims.keys() and metadata.get("userinfo_endpoint") and access_token:
            # In the code flow a provider may keep profile claims out of the id_token and serve
            # them at userinfo (OIDC Core §5.4); the id_token's own claims stay authoritative.
            claims = {**self._userinfo(metadata, access_token, claims["sub"]), **claims}
        return OidcUser(
            subject=claims["sub"], issuer=claims["iss"],
            name=_optional_str(claims, "name"), email=_optional_str(claims, "email"),
            role=_optional_str(claims, self.provider.role_claim),
            dealer_code=_optional_str(claims, self.provider.dealer_claim),
            claims=claims)

    # -- the back channel --------------------------------------------------------------------

    def _redeem(self, metadata: dict[str, Any], code: str, code_verifier: str) -> dict[str, Any]:
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.provider.redirect_uri, "code_verifier": code_verifier}
        methods = metadata.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
        headers = {"Accept": "application/json"}
        if "client_secret_basic" in methods:
            # RFC 6749 §2.3.1: each half form-urlencoded before the Basic encoding.
            pair = (f"{quote(self.provider.client_id, safe='')}:"
                    f"{quote(self.provider.client_secret, safe='')}")
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        elif "client_secret_post" in methods:
            form |= {"client_id": self.provider.client_id,
                     "client_secret": self.provider.client_secret}
        else:
            raise OidcError("the token endpoint takes neither client_secret_basic nor "
                            f"client_secret_post: {methods}")
        try:
            response = self.http.post(metadata["token_endpoint"], data=form, headers=headers,
                                      timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise OidcError(f"the token endpoint could not be reached: {exc}") from exc
        body = _json_or_none(response)
        if response.status_code != 200:
            error = body.get("error", "") if isinstance(body, dict) else ""
            detail = body.get("error_description", "") if isinstance(body, dict) else ""
            raise OidcError(f"the token endpoint refused the code (HTTP {response.status_code}"
                            f"{': ' + error if error else ''}{': ' + detail if detail else ''})")
        if not isinstance(body, dict):
            raise OidcError("the token endpoint answered with no JSON object")
        if not isinstance(body.get("id_token"), str):
            raise OidcError("the token endpoint returned no id_token (is 'openid' granted?)")
        return body

    def _validate_id_token(self, metadata: dict[str, Any], token: str,
                           nonce: str) -> dict[str, Any]:
        allowed = self._signing_algorithms(metadata)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise OidcError(f"the id_token is not a JWT: {exc}") from exc
        alg = header.get("alg")
        if alg not in allowed:
            raise OidcError(f"the id_token is signed with {alg!r}; accepted: {sorted(allowed)}")
        key = self._signing_key(metadata, header.get("kid"), alg)
        try:
            claims = jwt.decode(
                token, key=key, algorithms=[alg], audience=self.provider.client_id,
                issuer=self.provider.issuer, leeway=LEEWAY,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]})
        except jwt.PyJWTError as exc:
            raise OidcError(f"the id_token is not valid: {exc}") from exc
        # OIDC Core §3.1.3.7: with several audiences, azp must name us; if present, always.
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != self.provider.client_id:
            raise OidcError("the id_token was issued to another client (azp)")
        if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(
                claims["nonce"].encode(), nonce.encode()):
            raise OidcError("the id_token's nonce is not this sign-in's: replayed or mixed up")
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise OidcError("the id_token names no subject")
        return claims

    def _signing_key(self, metadata: dict[str, Any], kid: str | None, alg: str) -> jwt.PyJWK:
        jwk = self._find_jwk(self._keys(metadata, refresh=False), kid, alg)
        if jwk is None:
            # An unknown kid is how a key rotation looks from here: fetch the set once more.
            jwk = self._find_jwk(self._keys(metadata, refresh=True), kid, alg)
        if jwk is None:
            raise OidcError(f"the provider publishes no {alg} signing key with kid {kid!r}")
        if jwk.get("alg", alg) != alg:
            raise OidcError(f"key {kid!r} is for {jwk['alg']}, the id_token says {alg}")
        try:
            # Bound to the alg we checked, so PyJWT verifies with exactly that algorithm.
            return jwt.PyJWK(jwk, algorithm=alg)
        except jwt.PyJWTError as exc:
            raise OidcError(f"key {kid!r} cannot verify {alg}: {exc}") from exc

    def _keys(self, metadata: dict[str, Any], *, refresh: bool) -> list[dict[str, Any]]:
        if self._jwks is None or refresh:
            jwks = self._get_json(metadata["jwks_uri"], "key set")
            if not isinstance(jwks.get("keys"), list):
                raise OidcError("the provider's key set has no keys")
            self._jwks = jwks
        return [key for key in self._jwks["keys"] if isinstance(key, dict)]

    @staticmethod
    def _find_jwk(keys: list[dict[str, Any]], kid: str | None,
                  alg: str) -> dict[str, Any] | None:
        kty = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}[alg[:2]]
        usable = [key for key in keys if key.get("use", "sig") == "sig" and key.get("kty") == kty
                  and key.get("alg", alg) == alg]
        if kid is not None:
            usable = [key for key in usable if key.get("kid") == kid]
        # Without a kid the choice must be unambiguous (OIDC Core §10.1).
        return usable[0] if len(usable) == 1 else None

    def _userinfo(self, metadata: dict[str, Any], access_token: str,
                  subject: str) -> dict[str, Any]:
        try:
            response = self.http.get(
                metadata["userinfo_endpoint"], timeout=self.timeout, allow_redirects=False,
                headers={"Authorization": f"Bearer {access_token}",
                         "Accept": "application/json"})
        except requests.RequestException as exc:
            raise OidcError(f"the userinfo endpoint could not be reached: {exc}") from exc
        body = _json_or_none(response)
        if response.status_code != 200 or not isinstance(body, dict):
            # A signed or encrypted userinfo (application/jwt) lands here too: not configured.
            raise OidcError(f"the userinfo endpoint answered HTTP {response.status_code} "
                            f"({response.headers.get('Content-Type', 'no content type')})")
        # OIDC Core §5.3.4: a userinfo of another subject must not be used (token substitution).
        if body.get("sub") != subject:
            raise OidcError("the userinfo response is about another subject")
        return body

    # -- helpers -----------------------------------------------------------------------------

    def _signing_algorithms(self, metadata: dict[str, Any]) -> frozenset[str]:
        offered = metadata.get("id_token_signing_alg_values_supported") or []
        return frozenset(offered) & ASYMMETRIC_ALGORITHMS

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = self.http.get(url, timeout=self.timeout,
                                     headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise OidcError(f"the provider's {what} could not be fetched: {exc}") from exc
        body = _json_or_none(response)
        if response.status_code != 200 or not isinstance(body, dict):
            raise OidcError(f"the provider's {what} at {url} answered HTTP "
                            f"{response.status_code} without a JSON object")
        return body


def _s256(code_verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _with_query(url: str, params: dict[str, str]) -> str:
    # An authorization endpoint may carry a query of its own (OAuth 2.0 §3.1): keep it.
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit(parts._replace(query=query))


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _optional_str(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None or isinstance(value, str):
        return value
    raise OidcError(f"claim {name!r} is not a string: {value!r}")
