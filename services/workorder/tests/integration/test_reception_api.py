"""Reception over HTTP: a repair order opens from an appointment or a walk-in, with its event."""

from __future__ import annotations

import json

import pytest

from chassis.broker import ConfirmingPublisher, OutgoingMessage
from chassis.testing import auth, wait_for
from contracts import events
from services.workorder.tests.integration.site_client import CUSTOMER, OTHER_VIN, VIN
from tests.factories import booked_event


def test_a_walk_in_opens_a_repair_order_and_publishes_repair_order_opened(site):
    response = site.call("POST", "/repair-orders", json=site.reception())
    assert response.status_code == 201, response.text
    ro = response.json()
    assert response.headers["Location"] == f"/repair-orders/{ro['id']}"
    assert ro["id"].startswith("RO-D001-") and ro["id"].endswith("-0001")
    assert (ro["stage"], ro["customer_id"], ro["vin"]) == ("VEHICLE_RECEIVED", CUSTOMER, VIN)
    assert ro["next_steps"] == [{"action": "START_INSPECTION", "to": "EVALUATION"},
                                {"action": "CANCEL", "to": "CANCELLED"}]
    assert ro["belongings"] == ["行车记录仪 (dash cam)"]
    [event] = site.events("RepairOrderOpened")
    assert event["subject"] == ro["id"]
    assert event["data"]["mileage_km"] == 29876
    assert event["data"]["concerns"] == [{"description": "刹车时前轮有异响",
                                          "code": "BRAKE_NOISE"}]
    assert "customer_phone" not in json.dumps(event)  # the phone stays at reception

    second = site.open_ro(vin=OTHER_VIN, plate="京B00001")
    assert second["id"].endswith("-0002")


def test_a_booked_appointment_is_received_from_the_expected_arrivals(site, amqp_uri):
    booked = booked_event()
    publisher = ConfirmingPublisher(amqp_uri)
    publisher.publish([OutgoingMessage(
        exchange=events.AppointmentBooked.exchange, routing_key=events.AppointmentBooked.type,
        body=json.dumps(booked).encode(), message_id=booked["id"])])
    publisher.close()
    appointment_id = booked["data"]["appointment_id"]
    wait_for(lambda: site.ok("GET", "/expected-arrivals")["items"], message="expected arrival")

    body = site.reception(appointment_id=appointment_id)
    for field in ("customer_phone", "vin", "plate", "model"):
        del body[field]
    response = site.call("POST", "/repair-orders", json=body)
    assert response.status_code == 201, response.text
    ro = response.json()
    assert ro["appointment_id"] == appointment_id
    assert ro["customer_id"] == booked["data"]["customer"]["customer_id"]
    assert ro["vin"] == booked["data"]["vehicle"]["vin"]
    assert site.events("RepairOrderOpened")[0]["data"]["appointment_id"] == appointment_id

    again = site.call("POST", "/repair-orders", json=body)
    assert again.status_code == 409  # one repair order per appointment


@pytest.mark.parametrize(("change", "field"), [
    ({"vin": "LSVAU2187N2183741"}, "vin"),           # wrong check digit
    ({"vin": "LSVAU2187N218374"}, "vin"),            # 16 characters
    ({"vin": "LSVAU2187N218374O"}, "vin"),           # letter O
    ({"fuel_level": 101}, "fuel_level"),
    ({"fuel_level": -1}, "fuel_level"),
    ({"mileage_km": -5}, "mileage_km"),
    ({"mileage_km": "29876"}, "mileage_km"),         # a string is not a number of km
    ({"promised_at": "2030-01-01T17:00:00"}, "promised_at"),  # whose five o'clock?
    ({"promised_at": "2001-01-01T17:00:00+08:00"}, "promised_at"),  # in the past
    ({"appointment_id": "never-booked"}, "appointment_id"),
    ({"customer_phone": None}, "customer_phone"),
    ({"concerns": [{"description": ""}]}, "concerns"),
    ({"colour": "red"}, "colour"),                   # unknown field
])
def test_bad_reception_input_is_422_naming_the_field_and_nothing_is_stored(site, change, field):
    response = site.call("POST", "/repair-orders", json=site.reception(**change))
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"]
    assert site.count("repair_orders") == 0
    assert site.count("outbox") == 0


def test_a_walk_in_without_customer_is_refused(site):
    body = site.reception()
    del body["customer_phone"]
    response = site.call("POST", "/repair-orders", json=body)
    assert response.status_code == 422
    assert "customer_id" in response.json()["fields"]


def test_the_odometer_may_not_go_backwards_unless_the_advisor_flags_a_replacement(site):
    first = site.open_ro(mileage_km=30000)
    site.ok("POST", f"/repair-orders/{first['id']}/cancel", json={"reason": "客户改期"})

    lower = site.call("POST", "/repair-orders", json=site.reception(mileage_km=29000))
    assert lower.status_code == 422
    assert lower.json()["fields"] == {"mileage_km": [lower.json()["message"].split(": ", 1)[1]]}
    assert lower.json()["last_known_mileage_km"] == 30000

    flagged = site.open_ro(mileage_km=120, odometer_changed=True)
    assert flagged["odometer_changed"] is True


def test_a_vehicle_has_one_open_repair_order_at_a_time(site):
    first = site.open_ro()
    second = site.call("POST", "/repair-orders", json=site.reception())
    assert second.status_code == 409
    assert second.json()["repair_order_id"] == first["id"]


def test_owners_see_only_their_own_repair_orders_and_staff_of_another_dealer_none(site):
    mine = site.open_ro()
    theirs = site.open_ro(vin=OTHER_VIN, plate="沪C88888", customer_phone="13900000000")
    path = f"/repair-orders/{mine['id']}"

    assert site.ok("GET", path, **site.as_owner())["id"] == mine["id"]
    assert site.call("GET", f"/repair-orders/{theirs['id']}", **site.as_owner()).status_code \
        == 404
    owned = site.ok("GET", "/repair-orders", **site.as_owner())["items"]
    assert [ro["id"] for ro in owned] == [mine["id"]]
    assert len(site.ok("GET", "/repair-orders", role="dealer_manager")["items"]) == 2
    assert [ro["id"] for ro in site.ok("GET", "/repair-orders?stage=VEHICLE_RECEIVED&vin="
                                       + OTHER_VIN)["items"]] == [theirs["id"]]
    assert site.call("GET", "/repair-orders?stage=PARKED").status_code == 422

    assert site.call("GET", path, role=None).status_code == 401
    assert site.call("GET", path, headers={"Authorization": "Bearer forged"}).status_code == 401
    foreign = site.call("GET", path, headers=_other_dealer())
    assert foreign.status_code == 403
    assert site.call("POST", "/repair-orders", role="technician",
                     json=site.reception()).status_code == 403
    assert site.call("GET", "/repair-orders/RO-D001-19990101-0001").status_code == 404


def _other_dealer() -> dict[str, str]:
    return auth("advisor", dealer_code="D002")


def test_cancelling_before_any_approval_and_the_history_of_stages(site):
    ro = site.open_ro()
    cancelled = site.ok("POST", f"/repair-orders/{ro['id']}/cancel", json={"reason": "客户取消"})
    assert cancelled["stage"] == "CANCELLED"
    assert cancelled["cancel_reason"] == "客户取消"
    assert [h["stage"] for h in cancelled["history"]] == ["VEHICLE_RECEIVED", "CANCELLED"]
    again = site.call("POST", f"/repair-orders/{ro['id']}/cancel", json={"reason": "x"})
    assert again.status_code == 409
    assert again.json()["allowed_next_steps"] == []
