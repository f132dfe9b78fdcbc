"""The call centre's view of one customer, built from the events of every dealer site."""

from __future__ import annotations

import sqlalchemy as sa

from chassis.metrics import REGISTRY
from chassis.testing import auth, wait_for
from services.crm.tests.integration.crm_hq import (
    AGENT,
    ANALYST,
    PHONE,
    VIN,
    booked,
    delivered,
    opened,
    quote_approved,
)


def duplicates_skipped() -> float:
    return sum(REGISTRY.get_sample_value("aftersales_inbox_duplicates_total",
                                         {"service": "crm", "entrypoint": name}) or 0.0
               for name in ("on_appointment_booked", "on_repair_order_opened",
                            "on_vehicle_delivered", "on_quote_approved"))


def test_one_customer_across_two_dealers_with_visits_declined_work_and_appointments(
        crm, sites) -> None:
    # The same person booked at D001 and at D002; each site knows them under its own id.
    history = (
        booked("D001", "APT-1", "site1-cust", booked_at="2025-03-15T20:12:45+08:00"),
        booked("D002", "APT-2", "site2-cust", booked_at="2025-06-01T10:00:00+08:00",
               name="王磊 ", plate="京A54321"),
        opened("D002", "RO-D002-1", "site2-cust", mileage=40_100,
               opened_at="2025-06-03T09:00:00+08:00", plate="京A54321"),
        quote_approved("D002", "RO-D002-1", "site2-cust"),
        delivered("D002", "RO-D002-1", "site2-cust", mileage=40_102,
                  delivered_at="2025-06-03T17:00:00+08:00"),
        opened("D001", "RO-D001-1", "site1-cust"),
        delivered("D001", "RO-D001-1", "site1-cust"))
    sites.publish(*history)
    wait_for(lambda: crm.inbox() == 7, message="7 site events applied")
    # Forwarding from the sites may deliver everything again: nothing is applied twice.
    skipped = duplicates_skipped()
    sites.publish(*reversed(history))
    wait_for(lambda: duplicates_skipped() >= skipped + 7, message="7 duplicates skipped")
    assert crm.inbox() == 7

    found = crm.get("/customers", phone="+86 138 1234 5678")
    assert found.status_code == 200, found.text
    [customer] = found.json()["customers"]
    assert customer["phone"] == PHONE and customer["name"] == "王磊 "
    [vehicle] = customer["vehicles"]
    # The newest event's plate wins (new plates happen); the mileage and date are the last visit's.
    assert (vehicle["vin"], vehicle["plate"]) == (VIN, "京A54321")
    assert (vehicle["last_mileage_km"], vehicle["last_visit_on"]) == (40_102, "2025-06-03")

    view = crm.get(f"/customers/{customer['customer_id']}").json()
    assert sorted((v["dealer_code"], v["repair_order_id"]) for v in view["visits"]) == [
        ("D001", "RO-D001-1"), ("D002", "RO-D002-1")]
    d002 = next(v for v in view["visits"] if v["dealer_code"] == "D002")
    assert (d002["mileage_in_km"], d002["grand_total"]) == (40_100, "1619.00")
    assert [(d["line_id"], d["amount"]) for d in view["declined_work"]] == [("L6", "300.00")]
    assert sorted(a["appointment_id"] for a in view["appointments"]) == ["APT-1", "APT-2"]
    assert len(view["surveys"]) == 2  # one follow-up per delivery
    # Either site's customer id finds the same customer.
    assert crm.get("/customers/site1-cust").json()["customer_id"] == customer["customer_id"]
    assert crm.get("/customers/site2-cust").json()["customer_id"] == customer["customer_id"]


def test_search_by_plate_vin_and_name(crm, sites) -> None:
    sites.publish(booked("D001", "APT-1", "c-1"))
    wait_for(lambda: crm.inbox() == 1, message="the booking applied")
    for params in ({"plate": "京A12345"}, {"plate": "京a 12345"}, {"vin": VIN}, {"name": "王磊"},
                   {"name": "王磊", "phone": PHONE}):
        assert len(crm.get("/customers", **params).json()["customers"]) == 1, params
    assert crm.get("/customers", name="李娜").json()["customers"] == []
    refused = crm.get("/customers")
    assert refused.status_code == 422 and "_schema" in refused.json()["fields"]
    assert crm.get("/customers", vin="NOT-A-VIN").status_code == 422
    assert crm.get("/customers", colour="red").status_code == 422


def test_phone_and_name_are_encrypted_at_rest(crm, sites) -> None:
    sites.publish(booked("D001", "APT-1", "c-1"))
    wait_for(lambda: crm.inbox() == 1, message="the booking applied")
    with crm.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM customers")).mappings().one()
    stored = " ".join(str(v) for v in row.values())
    assert PHONE not in stored and "王磊" not in stored
    assert row["phone_enc"] and row["phone_index"]


def test_analysts_see_the_phone_masked_and_others_are_refused(crm, sites) -> None:
    sites.publish(booked("D001", "APT-1", "c-1"))
    wait_for(lambda: crm.inbox() == 1, message="the booking applied")
    [seen] = crm.get("/customers", headers=ANALYST, vin=VIN).json()["customers"]
    assert seen["phone"] == "138****5678"
    assert crm.get("/customers/c-1", headers=AGENT).json()["phone"] == PHONE
    assert crm.get("/customers/c-1", headers=auth("owner", subject="c-1")).status_code == 403
    assert crm.get("/customers/c-1", headers=auth("technician")).status_code == 403
    # Dealer staff see customers their dealer served (test_crm_dealer_staff.py), no others.
    assert crm.get("/customers/c-1", headers=auth("advisor", dealer_code="D002")
                   ).status_code == 404
    assert crm.get("/customers/c-1", headers={}).status_code == 401
    assert crm.get("/customers/nobody").status_code == 404
