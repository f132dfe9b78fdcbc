"""Broker identities are tenants too: a dealer site's link speaks for that dealer only.

Two dealer sites (D001, D002) are linked to headquarters by the shovels `aftersales uplink
setup` defines, on the real RabbitMQ; crm and notify run at headquarters. Each link has its
own random password, generated into a secrets directory, and its shovels stamp every message
with the link's user as AMQP `user_id`, which RabbitMQ checks against the login. An event that
comes over D001's link but claims to be D002's is dead-lettered at headquarters with reason
`publisher_mismatch` and changes nothing: crm stores nothing, notify queues no text.
"""

from __future__ import annotations

import json
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

import amqp
import kombu
import pytest
import yaml

from chassis.broker_admin import BrokerAdmin
from chassis.cli import main as aftersales
from chassis.config import ConfigError
from chassis.consumer import PUBLISHER_MISMATCH, publisher_mismatch
from chassis.deadletter import DeadLetter, list_dead_letters, replay
from chassis.testing import AMQP, make_settings, rows, service_database, wait_for
from chassis.uplink import LinkSecrets, load_uplinks, status
from crm.service import CrmService
from notify.service import Clock, NotifyService
from services.crm.tests.integration.crm_hq import CRM_EXTRA, booked
from services.notify.tests.integration.notify_hq import ManualClock, shanghai

ADMIN_URL = "http://guest:guest@127.0.0.1:15672"
SITES = ("D001", "D002")
SITE_SERVICES = ["booking", "workorder", "parts"]


@dataclass
class Linked:
    hq_uri: str
    site_uri: dict[str, str]
    crm_db: str
    notify_db: str
    uplinks: Path
    secrets: Path

    def password(self, stack: str, user: str) -> str:
        return LinkSecrets(self.secrets).password(stack, user)

    def setup(self, *more: str) -> None:
        assert aftersales(["uplink", "--file", str(self.uplinks), *more, "setup"]) == 0


@pytest.fixture
def linked(database, vhost, broker_admin, services, tmp_path) -> Linked:
    """Headquarters (crm, notify) on one vhost, D001 and D002 on one each, linked by setup."""
    hq_vhost = f"{vhost}-hq"
    site_vhosts = {code: f"{vhost}-{code}" for code in SITES}
    broker_admin.apply(hq_vhost, ["crm", "notify"])
    for site_vhost in site_vhosts.values():
        broker_admin.apply(site_vhost, SITE_SERVICES)
    hq_uri = f"{AMQP}/{hq_vhost}"
    crm = make_settings("crm", service_database(database, CrmService), hq_uri,
                        dealer_code="HQ", extra=dict(CRM_EXTRA))
    services(CrmService, crm)  # their queues exist before the first event crosses
    # notify on the day the example bookings are for, so it would text about them.
    notify_class = type("NotifyOnTheDay", (NotifyService,),
                        {"clock": Clock(ManualClock(shanghai(17, 10)))})
    notify = make_settings(
        "notify", service_database(database, NotifyService), hq_uri, dealer_code="HQ",
        extra={"channels": {"sms": {"adapter": "file", "path": str(tmp_path / "sms.jsonl")}},
               "dispatch_loop": False, "public_url": "https://notify.example.cn"})
    services(notify_class, notify)
    uplinks = tmp_path / "uplinks.yaml"
    uplinks.write_text(yaml.safe_dump({
        "headquarters": {"amqp_uri": hq_uri, "admin_url": ADMIN_URL},
        "sites": [{"dealer_code": code, "amqp_uri": f"{AMQP}/{site_vhost}",
                   "admin_url": ADMIN_URL, "services": SITE_SERVICES}
                  for code, site_vhost in site_vhosts.items()]}), encoding="utf-8")
    links = Linked(hq_uri, {code: f"{AMQP}/{v}" for code, v in site_vhosts.items()},
                   crm.database_url, notify.database_url, uplinks, tmp_path / "secrets")
    links.setup("--secrets-dir", str(links.secrets))
    yield links
    for name in (hq_vhost, *site_vhosts.values()):
        broker_admin.delete_vhost(name)


def publish_at_site(site_uri: str, *envelopes: dict) -> None:
    """What a site's booking service (or anyone holding the site broker's credentials)
    publishes on the site's own broker: it crosses to headquarters over the site's link."""
    with kombu.Connection(site_uri) as conn:
        producer = kombu.Producer(conn.channel())
        for envelope in envelopes:
            producer.publish(json.dumps(envelope).encode(), exchange="booking.events",
                             routing_key=envelope["type"], content_type="application/json",
                             message_id=envelope["id"], delivery_mode=2)


def publish_as(uri: str, envelope: dict, user_id: str | None) -> None:
    """Publish straight to headquarters' booking.events with publisher confirms (a refusal
    raises), with `user_id` set or not."""
    with kombu.Connection(uri, transport_options={"confirm_publish": True}) as conn:
        properties = {} if user_id is None else {"user_id": user_id}
        kombu.Producer(conn.channel()).publish(
            json.dumps(envelope).encode(), exchange="booking.events",
            routing_key=envelope["type"], content_type="application/json",
            message_id=envelope["id"], delivery_mode=2, **properties)


def at(uri: str, user: str, password: str) -> str:
    """`uri` (amqp://guest:guest@host/vhost) logging in as `user` instead."""
    return uri.replace("guest:guest@", f"{user}:{password}@", 1)


def dead_letter(uri: str, service: str, event_id: str) -> DeadLetter | None:
    return next((letter for letter in list_dead_letters(uri, service)
                 if letter.message_id == event_id), None)


def stored_nothing(links: Linked, event: dict) -> None:
    """crm kept nothing of the event and notify queued nothing to send for it."""
    appointment = event["data"]["appointment_id"]
    for db in (links.crm_db, links.notify_db):
        assert rows(db, "SELECT count(*) FROM inbox WHERE event_id = :id",
                    id=event["id"]) == [(0,)]
    assert rows(links.crm_db, "SELECT count(*) FROM appointments WHERE appointment_id = :a",
                a=appointment) == [(0,)]
    assert rows(links.crm_db, "SELECT count(*) FROM customer_aliases WHERE alias = :c",
                c=event["data"]["customer"]["customer_id"]) == [(0,)]
    assert rows(links.notify_db, "SELECT count(*) FROM deliveries WHERE appointment_id = :a "
                "OR event_id = :id", a=appointment, id=event["id"]) == [(0,)]


def test_an_event_over_d001s_link_claiming_d002_is_dead_lettered_and_changes_nothing(linked):
    genuine = booked("D001", f"APT-{uuid.uuid4().hex[:8]}", "D001-C-1")
    forged = booked("D002", f"APT-{uuid.uuid4().hex[:8]}", "D002-C-9", phone="13900009999")
    # Both on D001's own broker; its shovels carry them to headquarters as uplink-D001.
    publish_at_site(linked.site_uri["D001"], forged, genuine)

    letters = {service: wait_for(lambda s=service: dead_letter(linked.hq_uri, s, forged["id"]),
                                 timeout=30, message=f"{service} to dead-letter the forgery")
               for service in ("crm", "notify")}
    for letter in letters.values():
        assert letter.reason == PUBLISHER_MISMATCH and letter.attempts == 0
        assert "claims dealer D002" in letter.detail and "'uplink-D001'" in letter.detail
        assert json.loads(letter.body)["id"] == forged["id"]
    # The same link's own event is taken: the check refuses the claim, not the link.
    appointment = genuine["data"]["appointment_id"]
    wait_for(lambda: rows(linked.crm_db, "SELECT dealer_code FROM appointments WHERE "
                          "appointment_id = :a", a=appointment) == [("D001",)],
             timeout=30, message="crm to store D001's own booking")
    wait_for(lambda: rows(linked.notify_db, "SELECT count(*) FROM deliveries WHERE "
                          "appointment_id = :a", a=appointment)[0][0] > 0,
             timeout=30, message="notify to queue the text about D001's booking")
    stored_nothing(linked, forged)
    assert rows(linked.crm_db, "SELECT count(*) FROM customers") == [(1,)]

    # Replaying every dead letter (as headquarters' own user, which the check trusts) must
    # not launder the forgery: it stays where it is.
    assert replay(linked.hq_uri, "crm") == 0
    assert dead_letter(linked.hq_uri, "crm", forged["id"]) is not None
    stored_nothing(linked, forged)


def test_d001s_credentials_at_headquarters_cannot_speak_for_d002(linked):
    d001 = at(linked.hq_uri, "uplink-D001", linked.password("headquarters", "uplink-D001"))

    # Claiming to be D002's link: RabbitMQ itself refuses the user_id.
    with pytest.raises(amqp.exceptions.PreconditionFailed, match="user_id"):
        publish_as(d001, booked("D002", "APT-X1", "D002-C-1"), user_id="uplink-D002")
    # Its own user_id, or none at all: headquarters refuses the claim.
    honest = booked("D002", "APT-X2", "D002-C-2")
    silent = booked("D002", "APT-X3", "D002-C-3")
    publish_as(d001, honest, user_id="uplink-D001")
    publish_as(d001, silent, user_id=None)
    for event, published_by in ((honest, "'uplink-D001'"), (silent, "no user_id")):
        letter = wait_for(lambda e=event: dead_letter(linked.hq_uri, "crm", e["id"]),
                          timeout=30, message="crm to dead-letter the claim")
        assert letter.reason == PUBLISHER_MISMATCH
        assert "claims dealer D002" in letter.detail and published_by in letter.detail
        wait_for(lambda e=event: dead_letter(linked.hq_uri, "notify", e["id"]),
                 timeout=30, message="notify to dead-letter the claim")
        stored_nothing(linked, event)


def test_each_link_has_its_own_random_password_kept_as_a_secret(linked):
    passwords = {code: {"up": linked.password("headquarters", f"uplink-{code}"),
                        "down": linked.password(f"site-{code}", f"downlink-{code}")}
                 for code in SITES}
    every = [p for pair in passwords.values() for p in pair.values()]
    assert len(set(every)) == len(every)  # no two users share one
    assert all(len(p) >= 40 and not any(code in p for code in SITES) for p in every)

    # D001's password does not open D002's user, at headquarters or at D002's site.
    refused = [(linked.hq_uri, "uplink-D002", passwords["D001"]["up"]),
               (linked.site_uri["D002"], "downlink-D002", passwords["D001"]["down"])]
    for uri, user, password in refused:
        with pytest.raises(amqp.exceptions.AccessRefused):
            with kombu.Connection(at(uri, user, password), connect_timeout=5) as conn:
                conn.connect()
    with kombu.Connection(at(linked.hq_uri, "uplink-D001", passwords["D001"]["up"]),
                          connect_timeout=5) as conn:
        conn.connect()  # and its own does

    # Secrets: one file per user, mode 0600, in directories only their owner may enter.
    for code in SITES:
        for path in (linked.secrets / "headquarters" / f"uplink-{code}.password",
                     linked.secrets / f"site-{code}" / f"downlink-{code}.password"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # Every shovel publishes as its link's user, stamped on each message as user_id.
    admin = BrokerAdmin(ADMIN_URL)
    for code in SITES:
        vhost = linked.site_uri[code].rsplit("/", 1)[1]
        shovel = admin.call("GET", f"/parameters/shovel/{vhost}/uplink-{code}-booking")
        assert shovel["value"]["dest-publish-properties"] == {"user_id": f"uplink-{code}"}
        assert f"//uplink-{code}:" in shovel["value"]["dest-uri"]

    # Setup again with the same directory: the same passwords, the links still up.
    linked.setup("--secrets-dir", str(linked.secrets))
    assert linked.password("headquarters", "uplink-D001") == passwords["D001"]["up"]
    wait_for(lambda: running(linked), timeout=30, message="the shovels to run again")

    # Setup with a fresh directory: new passwords, none like the old (nothing derives them).
    fresh = linked.secrets.parent / "secrets-again"
    linked.setup("--secrets-dir", str(fresh))
    renewed = LinkSecrets(fresh)
    again = [renewed.password("headquarters", f"uplink-{c}") for c in SITES] + \
            [renewed.password(f"site-{c}", f"downlink-{c}") for c in SITES]
    assert not set(again) & set(every) and len(set(again)) == len(again)
    wait_for(lambda: running(linked), timeout=30,
             message="the shovels to run with the new passwords")


def running(links: Linked) -> bool:
    return all(row["running"] for row in status(load_uplinks(links.uplinks)))


@pytest.mark.parametrize(("source", "user_id", "refused"), [
    ("dealer/D001/booking", "uplink-D001", None),
    ("dealer/D001/booking", "hq-services", None),            # headquarters' own user
    ("dealer/D001/booking", "uplink-D002", "claims dealer D001"),
    ("dealer/D001/booking", None, "no user_id"),
    ("dealer/D001/booking", "guest", "'guest'"),              # not trusted here
    ("hq/crm", None, None),
    ("hq/crm", "hq-services", None),
    ("hq/crm", "uplink-D001", "dealer D001's link"),           # a site posing as headquarters
])
def test_who_may_publish_which_event(source, user_id, refused):
    dealer = source.split("/")[1] if source.startswith("dealer/") else "D001"
    envelope = {"source": source, "dealercode": dealer}
    found = publisher_mismatch(envelope, user_id, frozenset({"hq-services"}))
    assert found is None if refused is None else refused in found


def test_a_password_file_others_may_read_is_refused(tmp_path):
    store = LinkSecrets(tmp_path)
    first = store.password("headquarters", "uplink-D001")
    assert store.password("headquarters", "uplink-D001") == first
    path = store.path("headquarters", "uplink-D001")
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        store.password("headquarters", "uplink-D001")
