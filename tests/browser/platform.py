"""The platform the browser tests open pages of: headquarters and one dealer site (D001) as
`aftersales run` processes on the real RabbitMQ and PostgreSQL, started once for the session
exactly as the demo starts them (`simulator.topology`), each stack with its portal.

People sign in at the identity services as the demo's do (`simulator.sign_in`): staff with a
password at their site, owners with the code headquarters sends by SMS, which notify writes
to the stack's message file (`messages()` reads it, as the owner reads their phone).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from chassis.auth import Role
from simulator import topology
from simulator.demo import signed_in_people
from simulator.sign_in import SignedInPeople
from simulator.topology import PORTAL, Stack, Topology

SITE = "D001"


@dataclass
class Platform:
    topology: Topology
    people: SignedInPeople
    http: requests.Session

    @property
    def site(self) -> Stack:
        return self.topology.sites[0]

    @property
    def hq(self) -> Stack:
        return self.topology.headquarters

    @property
    def portal(self) -> str:
        """The dealer site's portal, as owners and staff open it."""
        return self.site.url(PORTAL)

    @property
    def hq_portal(self) -> str:
        return self.hq.url(PORTAL)

    def url(self, service: str, stack: str = SITE) -> str:
        chosen = self.hq if stack == "HQ" else self.site
        return chosen.url(service)

    def staff(self, role: Role, staff_id: str) -> dict[str, str]:
        """An Authorization header of a member of D001's staff (enrolled on first use)."""
        return self.people.headers(role, staff_id, SITE)

    def owner(self, phone: str) -> dict[str, str]:
        """An Authorization header of the owner with this phone (a code by SMS on first use)."""
        from contracts.customer import customer_id_for
        self.people.introduce_owner(phone)
        return self.people.headers(Role.OWNER, customer_id_for(phone), None)

    def staff_password(self, role: Role, staff_id: str) -> str:
        """A password for signing `staff_id` in through the portal's form (enrolled now)."""
        return self.people.password_of(SITE, staff_id, role)

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        """What notify sent, oldest first (each {to, body, ...}), to one address if given."""
        sink: Path = self.topology.sms_sink()
        if not sink.exists():
            return []
        found = [json.loads(line) for line in sink.read_text(encoding="utf-8").splitlines()]
        return [m for m in found if to is None or m.get("to") == to]

    def call(self, method: str, service: str, path: str, headers: dict[str, str],
             **kwargs: Any) -> requests.Response:
        return self.http.request(method, f"{self.url(service)}{path}", headers=headers,
                                 timeout=30, **kwargs)


def new_phone() -> str:
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    prefix = f"t_web_{uuid.uuid4().hex[:8]}"
    topo = topology.plan(1, tmp_path_factory.mktemp("platform"), 0, prefix=prefix)
    topology.prepare(topo)
    try:
        topology.start(topo)
        yield Platform(topo, signed_in_people(topo), requests.Session())
    finally:
        topology.stop(topo)
        topology.remove(topo)
