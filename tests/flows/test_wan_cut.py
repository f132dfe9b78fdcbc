"""The WAN link between a dealer site and headquarters fails, and nothing is lost.

A dealer site (booking, workorder, parts on its own vhost and databases) and headquarters
(BI on its own vhost) are joined only by the shovels `aftersales uplink setup` defines. The
link is cut while the site keeps trading — bookings, repair orders through delivery — and
headquarters publishes a recall; then it is restored. Headquarters must receive every event,
apply each once, and BI's totals for the site must equal the site's own; the site's reception
must see the recall.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bi.service import BiService
from booking.service import BookingService
from chassis import uplink
from chassis.broker_admin import subscriptions
from chassis.cli import main as aftersales
from chassis.testing import (
    AMQP,
    auth,
    make_settings,
    rows,
    service_database,
    trust_setting,
    wait_for,
)
from contracts.customer import customer_id_for
from contracts.vin import check_digit
from crm.service import CrmService
from notify.service import NotifyService
from partners.service import PartnersService
from parts.service import PartsService
from services.crm.tests.integration.crm_hq import CRM_EXTRA
from services.workorder.tests.integration.site_client import LABOUR_BRAKES, PART_OIL, Site
from workorder.service import WorkorderService

ADMIN_URL = "http://guest:guest@127.0.0.1:15672"
DEALER = "D001"
CLERK = auth("parts_clerk", subject="PC-003")
ADVISOR = auth("advisor", subject="SA-017")
ANALYST = auth("oem_analyst", subject="analyst-1")
LABOUR_OIL_ONLY = {"kind": "LABOUR", "description": "更换机油 (oil change)",
                   "operation_code": "MNT-OIL-01", "flat_rate_hours": "0.5",
                   "pay_type": "CUSTOMER_PAY"}


def vin_for(n: int) -> str:
    body = f"LSVAU218XN{n:07d}"
    return body[:8] + check_digit(body) + body[9:]


@pytest.fixture
def linked(database, vhost, broker_admin, services, tmp_path):
    """A site on `vhost`, headquarters on a second vhost, and the shovels between them."""
    hq_vhost = f"{vhost}-hq"
    broker_admin.apply(hq_vhost, ["bi", "crm"])
    hq_uri, site_uri = f"{AMQP}/{hq_vhost}", f"{AMQP}/{vhost}"
    bi = make_settings("bi", service_database(database, BiService), hq_uri, dealer_code="HQ")
    services(BiService, bi)  # its queues exist before the first event crosses
    crm = make_settings("crm", service_database(database, CrmService), hq_uri,
                        dealer_code="HQ", extra=dict(CRM_EXTRA))
    services(CrmService, crm)
    site = {}
    for cls in (PartsService, WorkorderService, BookingService):
        settings = make_settings(cls.name, service_database(database, cls), site_uri,
                                 dealer_code=DEALER, media_dir=str(tmp_path / "media"))
        services(cls, settings)
        site[cls.name] = settings
    # The operator's files: the links, and headquarters' settings for `aftersales ops`.
    files = {"uplinks": tmp_path / "uplinks.yaml", "hq": tmp_path / "hq.yaml"}
    files["uplinks"].write_text(yaml.safe_dump({
        "headquarters": {"amqp_uri": hq_uri, "admin_url": ADMIN_URL},
        # The links' generated passwords stay with the test, not in the repository's var/.
        "secrets_dir": str(tmp_path / "secrets"),
        "sites": [{"dealer_code": DEALER, "amqp_uri": site_uri, "admin_url": ADMIN_URL,
                   "services": ["booking", "workorder", "parts"]}]}), encoding="utf-8")
    files["hq"].write_text(yaml.safe_dump({
        "dealer_code": "HQ", "amqp_uri": hq_uri, "environment": "development",
        "trust": trust_setting("headquarters", "HQ"), "services": {
            "bi": {"database_url": bi.database_url},
            "crm": {"database_url": crm.database_url},
            "notify": {"database_url": service_database(database, NotifyService)},
            "partners": {"database_url": service_database(database, PartnersService)}}}),
        encoding="utf-8")
    assert aftersales(["uplink", "--file", str(files["uplinks"]), "setup"]) == 0
    yield site, {"bi": bi, "crm": crm}, uplink.load_uplinks(files["uplinks"]), files
    broker_admin.delete_vhost(hq_vhost)


class Trading:
    """The site's people: each car booked, checked in, repaired, paid and handed over."""

    def __init__(self, site: dict) -> None:
        self.site = site
        self.workshop = Site(site["workorder"])
        self.booking = f"http://127.0.0.1:{site['booking'].http_port}"
        parts = f"http://127.0.0.1:{site['parts'].http_port}"
        for path, body in (
                ("/parts", {"part_number": "G-052-195-M4", "name": "机油 0W-20", "unit": "L",
                            "unit_price": "98.00", "reorder_point": "1",
                            "reorder_quantity": "4"}),
                ("/receipts", {"reference": "GR-1", "lines": [
                    {"part_number": "G-052-195-M4", "quantity": "40",
                     "batch_number": "OIL-2026-11"}]})):
            answer = requests.post(parts + path, headers=CLERK, json=body, timeout=15)
            assert answer.status_code == 201, answer.text
        self.workshop.add_technician("T-wang", ["BRAKES"])
        self.cars = 0

    def book(self) -> str:
        self.cars += 1
        slot = (datetime.now(UTC) + timedelta(days=1)).replace(
            hour=8 + self.cars, minute=0, second=0, microsecond=0)
        phone = f"1381234{self.cars:04d}"
        owner = auth("owner", subject=customer_id_for(phone))
        answer = requests.post(f"{self.booking}/appointments", headers=owner, timeout=15, json={
            "customer": {"name": "王伟", "phone": phone},
            "vehicle": {"plate": f"京A1{self.cars:04d}", "vin": vin_for(self.cars)},
            "service_type": "MAINTENANCE", "slot_start": slot.isoformat(), "channel": "APP"})
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def deliver_a_car(self) -> str:
        appointment = self.book()
        checked_in = requests.post(f"{self.booking}/appointments/{appointment}/check-in",
                                   headers=ADVISOR, timeout=15)
        assert checked_in.status_code == 200, checked_in.text
        shop, n = self.workshop, self.cars
        phone = f"1381234{n:04d}"
        ro_id = shop.open_ro(vin=vin_for(n), customer_phone=phone, plate=f"京A1{n:04d}")["id"]
        shop.inspect(ro_id)
        shop.quote(ro_id, LABOUR_OIL_ONLY, PART_OIL, LABOUR_BRAKES)
        owner = {"role": "owner", "subject": _customer(phone)}
        decided = shop.decide(ro_id, {"L1": "APPROVED", "L2": "APPROVED", "L3": "DECLINED"},
                              who=owner)
        assert decided.status_code == 200, decided.text
        shop.clock(ro_id, "L1", "T-wang")
        shop.ok("POST", f"/repair-orders/{ro_id}/self-check", 201, role="technician",
                subject="T-wang", json={"passed": True})
        shop.ok("POST", f"/repair-orders/{ro_id}/inspector-check", 201, role="qc_inspector",
                subject="QC-005", json={"passed": True})
        invoice = shop.ok("POST", f"/repair-orders/{ro_id}/invoice", 201, json={})
        shop.ok("POST", f"/repair-orders/{ro_id}/payments", 201, role="cashier",
                subject="CASH-01", json={"method": "CARD", "amount": invoice["balance"]})
        shop.ok("POST", f"/repair-orders/{ro_id}/invoice/signature", **owner,
                json={"name": "王伟"})
        shop.ok("POST", f"/repair-orders/{ro_id}/hand-over",
                json={"mileage_km": 30000 + n, "delivery_mode": "COUNTER"})
        return ro_id


def _customer(phone: str) -> str:
    return customer_id_for(phone)


def site_events(site: dict) -> Counter:
    """Every event the site's services published, by type (their outboxes)."""
    counted: Counter = Counter()
    for settings in site.values():
        for event_type, n in rows(settings.database_url,
                                   "SELECT event_type, count(*) FROM outbox GROUP BY 1"):
            counted[event_type] += n
    return counted


def metric(settings, name: str, **labels: str) -> float | None:
    """One sample of a service's /metrics, as Prometheus would scrape it."""
    text = requests.get(f"http://127.0.0.1:{settings.http_port}/metrics", timeout=15).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def open_campaigns(site: dict, vin: str) -> list[str]:
    """What reception at the site sees for a car: the open recall campaigns covering it."""
    answer = requests.get(f"http://127.0.0.1:{site['workorder'].http_port}/vehicles/{vin}/"
                          "open-campaigns", headers=ADVISOR, timeout=15)
    assert answer.status_code == 200, answer.text
    return [campaign["code"] for campaign in answer.json()["open_campaigns"]]


def bi_kpis(bi) -> dict:
    today = date.today()
    answer = requests.get(f"http://127.0.0.1:{bi.http_port}/kpis", headers=ANALYST, timeout=15,
                          params={"dealer": DEALER, "from": str(today - timedelta(days=3)),
                                  "to": str(today + timedelta(days=3))})
    assert answer.status_code == 200, answer.text
    return answer.json()["kpis"]


def test_a_site_trades_through_a_cut_link_and_headquarters_gets_everything_once(
        linked, capsys):
    site, hq, links, files = linked
    bi = hq["bi"]
    trading = Trading(site)

    # Linked: the first car's story reaches headquarters as it happens.
    trading.deliver_a_car()
    wait_for(lambda: bi_kpis(bi)["ros_delivered"] == 1, timeout=30,
             message="headquarters to see the first delivery")
    [before] = uplink.status(links)
    assert before["running"] and before["waiting_at_site"] == 0
    assert metric(site["booking"], "aftersales_uplink_running", dealer_code=DEALER) == 1

    # The WAN link is cut. The site keeps booking and repairing; its events wait at the site,
    # and what headquarters sends the site (a recall campaign) waits at headquarters.
    assert aftersales(["uplink", "--file", str(files["uplinks"]), "stop", DEALER]) == 0
    assert not uplink.status(links)[0]["running"]
    recalled = vin_for(9)
    answer = requests.post(f"http://127.0.0.1:{hq['crm'].http_port}/campaigns", timeout=15,
                           headers=auth("operator", subject="ops-1"), json={
                               "code": "RC-2026-07", "title": "制动软管召回 (brake hose recall)",
                               "starts_on": str(date.today() - timedelta(days=1)),
                               "vins": [recalled]})
    assert answer.status_code == 201, answer.text
    wait_for(lambda: uplink.status(links)[0]["waiting_for_site"] == 1,
             message="the campaign to wait at headquarters")
    assert open_campaigns(site, recalled) == []
    trading.deliver_a_car()
    trading.deliver_a_car()
    trading.book()  # booked for tomorrow, not yet arrived
    wait_for(lambda: uplink.status(links)[0]["waiting_at_site"] > 0,
             message="events to queue at the site while the link is down")
    assert bi_kpis(bi)["ros_delivered"] == 1
    # What Prometheus sees: the site reports its link down (read at most every 10 s).
    wait_for(lambda: metric(site["workorder"], "aftersales_uplink_running",
                            dealer_code=DEALER) == 0, timeout=20,
             message="the site to report its link down")
    heard_from = metric(bi, "aftersales_site_last_event_timestamp_seconds",
                        service="bi", dealer_code=DEALER)

    # The link is restored: everything crosses, each event applied once.
    assert aftersales(["uplink", "--file", str(files["uplinks"]), "setup"]) == 0
    published = site_events(site)
    bi_types = {event_type for _, event_type, _ in subscriptions(BiService)}
    expected = sum(n for event_type, n in published.items() if event_type in bi_types)

    def received() -> int:
        # The site's own events (BI also logs headquarters' recall campaign).
        return rows(bi.database_url, "SELECT count(*) FROM event_log "
                                     f"WHERE source LIKE 'dealer/{DEALER}/%'")[0][0]

    wait_for(lambda: received() == expected, timeout=60,
             message=f"headquarters to receive all {expected} events the site published")
    wait_for(lambda: uplink.status(links)[0]["waiting_at_site"] == 0, timeout=30,
             message="the site's queue to drain")
    wait_for(lambda: open_campaigns(site, recalled) == ["RC-2026-07"], timeout=30,
             message="reception at the site to see the recall")
    applied = Counter(dict(rows(bi.database_url, "SELECT event_type, count(*) FROM event_log "
                                f"WHERE source LIKE 'dealer/{DEALER}/%' GROUP BY 1")))
    assert applied == Counter({t: n for t, n in published.items() if t in bi_types})

    assert metric(bi, "aftersales_site_last_event_timestamp_seconds", service="bi",
                  dealer_code=DEALER) > heard_from  # headquarters hears from the site again

    # BI's totals for the site equal the site's own.
    workshop = trading.workshop
    delivered = workshop.query("SELECT id FROM repair_orders WHERE stage = 'VEHICLE_DELIVERED'")
    invoiced = sum(Decimal(e["data"]["grand_total"]) for e in workshop.events("VehicleDelivered"))
    kpis = bi_kpis(bi)
    assert kpis["ros_delivered"] == len(delivered) == 3
    assert kpis["ro_count"] == 3
    assert Decimal(kpis["revenue"]) == invoiced > 0
    assert rows(site["booking"].database_url, "SELECT count(*) FROM appointments")[0][0] == 4

    # The operator's view: the link runs, nothing waits, when the site was last heard of.
    capsys.readouterr()
    assert aftersales(["--config", str(files["hq"]), "ops", "sites",
                       "--uplinks", str(files["uplinks"])]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [seen] = [line for line in lines if line.get("dealer_code") == DEALER]
    assert seen["running"] and seen["waiting_at_site"] == 0
    assert seen["events_applied"]["bi"] == expected and seen["last_event_at_hq"]
    [bi_backlog] = [line for line in lines if line.get("headquarters_service") == "bi"]
    assert bi_backlog == {"headquarters_service": "bi", "waiting": 0, "dead_letters": 0}
