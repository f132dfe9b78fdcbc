"""Sign-in delegated to the car maker's OpenID Connect provider, as the service layer sees it.

`identity.oidc` speaks the protocol (authorization code with PKCE, id_token validation);
this adapter turns its objects into the domain's (`PendingDelegation`, `DelegatedUser`) and
its `OidcError` into `DelegationFailed`, so the use cases need no token library.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nameko.extensions import DependencyProvider

from chassis.errors import ServiceUnavailable
from identity.domain import DelegatedUser, DelegationFailed, PendingDelegation
from identity.oidc import AuthorizationRequest, OidcClient, OidcError, OidcProvider
from identity.settings import IdentitySettings, OidcSettings


class ProviderDelegation:
    def __init__(self, client: OidcClient) -> None:
        self.client = client

    def start(self, now: datetime) -> PendingDelegation:
        try:
            started = self.client.start(now=now.timestamp())
        except OidcError as exc:  # its discovery document could not be read: try later
            raise ServiceUnavailable(f"the car maker's sign-in cannot be reached: {exc}",
                                     service="oidc") from None
        return PendingDelegation(state=started.state, nonce=started.nonce,
                                 code_verifier=started.code_verifier, url=started.url,
                                 created_at=now)

    def finish(self, pending: PendingDelegation, *, code: str, state: str, iss: str | None,
               now: datetime) -> DelegatedUser:
        request = AuthorizationRequest(url=pending.url, state=pending.state,
                                       nonce=pending.nonce, code_verifier=pending.code_verifier,
                                       created_at=pending.created_at.timestamp())
        try:
            user = self.client.finish(request, code=code, state=state, iss=iss,
                                      now=now.timestamp())
        except OidcError as exc:
            raise DelegationFailed(str(exc)) from None
        return DelegatedUser(subject=user.subject, issuer=user.issuer, role=user.role,
                             dealer_code=user.dealer_code, name=user.name)


def provider_of(oidc: OidcSettings) -> OidcProvider:
    return OidcProvider(issuer=oidc.issuer, client_id=oidc.client_id,
                        client_secret=oidc.client_secret, redirect_uri=oidc.redirect_uri,
                        scopes=oidc.scopes, role_claim=oidc.role_claim,
                        dealer_claim=oidc.dealer_claim)


class CarMakerProvider(DependencyProvider):
    """`delegation = CarMakerProvider()`: the configured provider, or None (not delegated).
    One client per process: it caches the provider's discovery document and keys."""

    def setup(self) -> None:
        options = IdentitySettings.from_settings(self.container.config["AFTERSALES"])
        self.delegation = (ProviderDelegation(OidcClient(provider_of(options.oidc)))
                           if options.oidc else None)

    def get_dependency(self, worker_ctx: Any) -> ProviderDelegation | None:
        return self.delegation
