"""Every role signed in the way it signs in for real, at running identity services.

Dealer staff sign in with a password at their own site's identity (D001's, D002's); the first
manager of each site is made at its console. Headquarters' operator is made at headquarters'
console and adds the analyst and the call-centre agent; a partner gets client credentials;
an owner signs in with the code texted through notify's SMS channel to a local gateway.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from chassis.identity import DEALER_STAFF, Role
from chassis.testing import make_settings, service_database
from identity.commands import create_user
from notify.service import NotifyService
from services.identity.tests.integration.identity_stack import (
    PASSWORD,
    RunningIdentity,
    bearer,
    own_trust,
    start_identity,
)
from services.notify.tests.integration.notify_hq import GATEWAY_KEY, GATEWAY_SECRET
from services.notify.tests.integration.provider_servers import SmsGatewayServer

OWNER_PHONE = "13812345678"


class SignedIn:
    """`headers(role, dealer)`: a bearer token identity issued to someone of that role."""

    def __init__(self, identities: dict[str, RunningIdentity], gateway: SmsGatewayServer,
                 directory: Path) -> None:
        self.identities = identities
        self._gateway = gateway
        self._directory = directory
        self._tokens: dict[tuple[Role, str | None], dict[str, str]] = {}

    def trust(self, dealer_code: str) -> tuple[Any, ...]:
        """What a service at `dealer_code` trusts, as deploy/local says: its own site's
        identity and headquarters', by their published keys."""
        return (own_trust(self.identities[dealer_code].url, at_headquarters=False,
                          dealer_code=dealer_code),
                own_trust(self.identities["HQ"].url, at_headquarters=True, dealer_code="HQ"))

    def headers(self, role: Role | str, dealer_code: str | None = "D001") -> dict[str, str]:
        role = Role(role)
        key = (role, dealer_code if role in DEALER_STAFF else None)
        if key not in self._tokens:
            self._tokens[key] = bearer(self._sign_in(role, key[1]))
        return self._tokens[key]

    def _sign_in(self, role: Role, dealer_code: str | None) -> dict[str, Any]:
        if role is Role.OWNER:
            return self._owner()
        if role is Role.PARTNER:
            return self._partner()
        stack = dealer_code or "HQ"
        identity = self.identities[stack]
        username = f"{role.value}.{stack}".lower()
        first = self._first(stack)
        if username != first:
            made = identity.create_user(self.headers(*self._first_role(stack)), username,
                                        role.value, expect=None)
            assert made.status_code == 201, made.text
        return identity.tokens(username)

    def _first_role(self, stack: str) -> tuple[Role, str | None]:
        return (Role.OPERATOR, None) if stack == "HQ" else (Role.DEALER_MANAGER, stack)

    def _first(self, stack: str) -> str:
        """The stack's first account, made at its console as an operator makes it."""
        role, _ = self._first_role(stack)
        username = f"{role.value}.{stack}".lower()
        marker = self._directory / f"{username}.made"
        if not marker.exists():
            config = self.identities[stack].config_file(self._directory)
            assert create_user(["--config", str(config), "--username", username,
                                "--role", role.value], read_password=lambda: PASSWORD) == 0
            marker.touch()
        return username

    def _partner(self) -> dict[str, Any]:
        hq = self.identities["HQ"]
        made = hq.call("POST", "/partners", self.headers(Role.OPERATOR, None),
                       json={"name": "金牌快修 (franchise shop)"})
        assert made.status_code == 201, made.text
        client = made.json()
        answer = hq.call("POST", "/oauth/token", data={
            "grant_type": "client_credentials", "client_id": client["client_id"],
            "client_secret": client["client_secret"]})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def _owner(self) -> dict[str, Any]:
        hq = self.identities["HQ"]
        sent = hq.call("POST", "/owner/codes", json={"phone": OWNER_PHONE})
        assert sent.status_code == 202, sent.text
        text = [m for m in self._gateway.received if m["to"] == OWNER_PHONE][-1]["text"]
        code = re.search(r"\d{6}", text).group(0)
        answer = hq.call("POST", "/owner/sign-in", json={"phone": OWNER_PHONE, "code": code})
        assert answer.status_code == 200, answer.text
        return answer.json()


def start_identities(database: Callable[..., str], amqp_uri: str, services: Callable[..., Any],
                     gateway: SmsGatewayServer, directory: Path,
                     dealers: tuple[str, ...] = ("D001", "D002")) -> SignedIn:
    """Headquarters' identity with its notify, and an identity per dealer site."""
    notify = make_settings(
        "notify", service_database(database, NotifyService), amqp_uri, dealer_code="HQ",
        extra={"channels": {"sms": {"adapter": "sms_gateway", "url": gateway.url,
                                    "api_key": GATEWAY_KEY, "api_secret": GATEWAY_SECRET}},
               "dispatch_loop": False})
    services(NotifyService, notify)
    identities = {"HQ": start_identity(database, amqp_uri, services, at_headquarters=True)}
    for dealer in dealers:
        identities[dealer] = start_identity(database, amqp_uri, services, dealer_code=dealer)
    return SignedIn(identities, gateway, directory)


def refused(response: requests.Response) -> bool:
    return response.status_code in (401, 403)
