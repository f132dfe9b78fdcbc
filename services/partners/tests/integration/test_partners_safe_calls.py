"""Endpoint URLs must be https to public addresses unless allow_private_endpoints: refused at
registration (a table of URLs) and after DNS resolution at each call, where the request goes
to the address that was checked, not to a second resolution."""

from __future__ import annotations

import pytest
import requests

from chassis.auth import Role
from chassis.testing import auth, wait_for
from contracts import events
from partners.sender import Sender
from partners.service import PartnersService
from services.partners.tests.integration.partners_hq import event_from_example, start_partners

REFUSED = [
    "http://hooks.partner.example.com/aftersales",      # not https
    "ftp://hooks.partner.example.com/",
    "https://127.0.0.1/hooks",                          # loopback
    "https://127.1.2.3/hooks",
    "https://[::1]/hooks",
    "https://localhost/hooks",
    "https://api.localhost/hooks",
    "https://10.1.2.3/hooks",                           # private
    "https://172.16.0.9/hooks",
    "https://192.168.1.20/hooks",
    "https://[fd12:3456::1]/hooks",
    "https://169.254.169.254/latest/meta-data/",        # link-local, metadata
    "https://[fd00:ec2::254]/latest/meta-data/",
    "https://[fe80::1]/hooks",
    "https://100.64.0.7/hooks",                         # carrier-grade NAT
    "https://224.0.0.251/hooks",                        # multicast
    "https://[ff02::1]/hooks",
    "https://0.0.0.0/hooks",                            # unspecified
    "https://[::ffff:127.0.0.1]/hooks",                 # IPv4-mapped IPv6
    "https://[::ffff:10.0.0.1]/hooks",
    "https://[::ffff:169.254.169.254]/hooks",
    "https://[64:ff9b::a00:1]/hooks",                   # NAT64 of 10.0.0.1
    "https://[2002:a00:1::]/hooks",                     # 6to4 of 10.0.0.1
    "https://metadata.google.internal/computeMetadata/",
    "https://intranet/hooks",                           # no public name
    "https://user:secret@hooks.partner.example.com/",   # credentials in the URL
    "https://240.0.0.1/hooks",                          # reserved
]


@pytest.fixture
def strict(database, amqp_uri, services):
    found = start_partners(database, amqp_uri, services,
                           extra={"allow_private_endpoints": False})
    yield found
    found.events.close()
    found.engine.dispose()


def test_endpoint_urls_to_anything_but_public_https_are_refused(strict):
    partner = strict.partner("QuoteApproved")
    for url in REFUSED:
        answer = requests.post(f"{strict.url}/partners/{partner['partner_id']}/endpoints",
                               json={"url": url}, headers=auth(Role.OPERATOR), timeout=10)
        assert answer.status_code == 422, (url, answer.text)
        assert "url" in answer.json()["message"], url
    made = strict.endpoint(partner["partner_id"], "https://hooks.partner.example.com/aftersales")
    assert made["status"] == "ACTIVE"


def test_the_call_goes_to_the_address_checked_with_the_name_as_host(database, amqp_uri,
                                                                    services, receiver):
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]  # allowed here: private endpoints are, in this test

    cls = type("PartnersResolving", (PartnersService,), {"sender": Sender(resolver)})
    hq = start_partners(database, amqp_uri, services, cls=cls)
    partner = hq.partner("QuoteApproved")
    endpoint = hq.endpoint(partner["partner_id"], f"http://hooks.partner.test:{receiver.port}/in")
    receiver.secrets.append(endpoint["secret"])
    hq.events.publish(event_from_example(events.QuoteApproved))
    wait_for(lambda: receiver.delivered(), message="a delivery")
    assert receiver.delivered()[0].headers["host"] == f"hooks.partner.test:{receiver.port}"
    assert asked == ["hooks.partner.test"]
    hq.events.close()
    hq.engine.dispose()
