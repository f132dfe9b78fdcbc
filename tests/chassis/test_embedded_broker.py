"""The embedded broker: nameko RPC works on it, vhosts are separate, and a site RPC that gets
no answer fails cleanly instead of hanging."""

from __future__ import annotations

import uuid

import pytest
from nameko.containers import ServiceContainer
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy

from chassis import embedded
from chassis.errors import ServiceUnavailable
from chassis.rpc import SiteRpc


class PriceList:
    name = "pricelist"

    @rpc
    def price_of(self, part_number: str) -> dict:
        return {"part_number": part_number, "unit_price": "368.00"}


class Quoting:
    name = "quoting"
    pricelist = SiteRpc("pricelist", timeout=0.5)

    @rpc
    def quote(self, part_number: str) -> str:
        try:
            return self.pricelist.price_of(part_number)["unit_price"]
        except ServiceUnavailable as exc:
            return f"unavailable: {exc}"


@pytest.fixture
def site():
    embedded.register()  # memory:///<vhost>: one in-memory broker per vhost
    started = []

    def start(cls, vhost):
        container = ServiceContainer(cls, {"AMQP_URI": f"memory:///{vhost}",
                                           "serializer": "json"})
        container.start()
        started.append(container)

    yield start
    for container in started:
        container.stop()


def test_rpc_answers_on_the_embedded_broker(site):
    vhost = f"site-{uuid.uuid4().hex[:6]}"
    site(PriceList, vhost)
    site(Quoting, vhost)
    with ClusterRpcProxy({"AMQP_URI": f"memory:///{vhost}"}, timeout=5) as proxy:
        assert proxy.quoting.quote("06A115561B") == "368.00"


def test_a_site_rpc_without_an_answer_fails_cleanly_and_vhosts_are_separate(site):
    here, there = (f"site-{uuid.uuid4().hex[:6]}" for _ in range(2))
    site(PriceList, there)  # running, but at another site
    site(Quoting, here)
    with ClusterRpcProxy({"AMQP_URI": f"memory:///{here}"}, timeout=5) as proxy:
        answer = proxy.quoting.quote("06A115561B")
    assert answer == "unavailable: pricelist did not answer price_of within 0.5s"
