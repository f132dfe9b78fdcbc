"""Running identity services on the real PostgreSQL and RabbitMQ, and clients for them.

An identity trusts its own issuer like every service of its stack does (its `trust` names its
own JWKS over HTTP), and the test issuers of `chassis.testing` beside it, so a test can act as
headquarters' operator without signing one in first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
import yaml

from chassis.config import Settings
from chassis.identity import HEADQUARTERS_SCOPE, SITE_SCOPE, TrustedIssuer
from chassis.registry import HEADQUARTERS, SITE
from chassis.testing import make_settings, service_database, test_trust
from identity.service import IdentityService

PASSWORD = "correct horse battery staple"
# argon2 made cheap: the tests sign in hundreds of times; the production cost is a setting.
CHEAP_PASSWORDS = {"password_time_cost": 1, "password_memory_kib": 1024,
                   "password_parallelism": 1}


def own_trust(url: str, *, at_headquarters: bool, dealer_code: str) -> TrustedIssuer:
    return TrustedIssuer(url, HEADQUARTERS_SCOPE if at_headquarters else SITE_SCOPE,
                         None if at_headquarters else dealer_code,
                         jwks_url=f"{url}/.well-known/jwks.json")


@dataclass
class RunningIdentity:
    url: str
    settings: Settings
    engine: sa.Engine = field(repr=False)
    container: Any = field(default=None, repr=False)  # to stop it: headquarters unreachable

    def call(self, method: str, path: str, headers: dict[str, str] | None = None,
             **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=30,
                                **kwargs)

    def sign_in(self, username: str, password: str = PASSWORD) -> requests.Response:
        return self.call("POST", "/sign-in", json={"username": username, "password": password})

    def tokens(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        answer = self.sign_in(username, password)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def create_user(self, headers: dict[str, str], username: str, role: str,
                    expect: int | None = 201, **fields: Any) -> requests.Response:
        answer = self.call("POST", "/users", headers,
                           json={"username": username, "password": PASSWORD, "role": role,
                                 **fields})
        if expect is not None:
            assert answer.status_code == expect, answer.text
        return answer

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))

    def config_file(self, directory: Path) -> Path:
        """The YAML an operator's command reads for this stack (what deploy/local holds)."""
        trust = [{"issuer": t.issuer, "scope": t.scope,
                  **({"dealer": t.dealer_code} if t.dealer_code else {}),
                  **({"jwks_url": t.jwks_url} if t.jwks_url else {"jwks": t.jwks})}
                 for t in self.settings.trust]
        path = directory / f"identity-{self.settings.dealer_code}.yaml"
        path.write_text(yaml.safe_dump({
            "dealer_code": self.settings.dealer_code, "amqp_uri": self.settings.amqp_uri,
            "environment": "development", "trust": trust,
            "services": {"identity": {"stack": self.settings.stack,
                                      "database_url": self.settings.database_url,
                                      **self.settings.extra}}}), encoding="utf-8")
        return path


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def start_identity(database: Callable[..., str], amqp_uri: str, services: Callable[..., Any], *,
                   at_headquarters: bool = False, dealer_code: str = "D001",
                   **extra: Any) -> RunningIdentity:
    stack = HEADQUARTERS if at_headquarters else SITE
    dealer_code = "HQ" if at_headquarters else dealer_code
    settings = make_settings("identity", service_database(database, IdentityService), amqp_uri,
                             stack=stack, dealer_code=dealer_code)
    url = f"http://127.0.0.1:{settings.http_port}"
    settings = settings.with_overrides(
        trust=(own_trust(url, at_headquarters=at_headquarters, dealer_code=dealer_code),
               *test_trust(stack, dealer_code)),
        extra={"issuer": url, **CHEAP_PASSWORDS, **extra})
    container = services(IdentityService, settings)
    return RunningIdentity(url, settings, sa.create_engine(settings.database_url), container)
