"""Reception (who, which car, the odometer) and the inspection (photos, the owner's link)."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, date, datetime, timedelta

import jwt
import pytest

from chassis.auth import TokenVerifier
from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from chassis.registry import SITE
from chassis.testing import test_trust
from contracts.customer import customer_id_for
from workorder.domain import inspection as insp
from workorder.domain.reception import (
    arrival,
    check_mileage,
    check_promise,
    repair_order_number,
)
from workorder.links import REPORT_ISSUER, read_report_token, report_token

SECRET = "a-site-secret-of-at-least-32-characters!"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 60
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 60
HEIC = b"\x00\x00\x00\x18ftypheic" + b"\x00" * 60


# -- reception -----------------------------------------------------------------------------


def test_repair_order_numbers_carry_the_site_and_its_local_day():
    assert repair_order_number("D001", date(2025, 3, 18), 42) == "RO-D001-20250318-0042"


def test_a_walk_in_is_the_same_customer_as_a_booking_by_the_same_phone():
    assert customer_id_for("13812345678") == customer_id_for("13812345678")
    found = arrival({"customer_phone": "13812345678", "vin": "1M8GDM9AXKP042788",
                     "plate": "京A12345"}, None)
    assert found.customer_id == customer_id_for("13812345678")
    assert found.appointment_id is None


def test_a_plate_is_kept_in_the_normal_form_crm_searches():
    for typed in ("京a 12345", "京Ａ１２３４５", "jing a12345", "京A·12345"):
        found = arrival({"customer_id": "C-1", "vin": "1M8GDM9AXKP042788", "plate": typed}, None)
        assert found.plate == "京A12345", typed
    with pytest.raises(InvalidInput) as refused:
        arrival({"customer_id": "C-1", "vin": "1M8GDM9AXKP042788", "plate": " - "}, None)
    assert list(refused.value.detail["fields"]) == ["plate"]


def test_an_appointment_supplies_customer_and_car_and_the_advisor_may_correct_them():
    expected = {"customer_id": "C-1", "vin": "1M8GDM9AXKP042788", "plate": "京A12345",
                "model": "帕萨特"}
    found = arrival({"appointment_id": "A-1", "plate": "京A54321"}, expected)
    assert (found.customer_id, found.vin, found.plate, found.model) == (
        "C-1", "1M8GDM9AXKP042788", "京A54321", "帕萨特")


@pytest.mark.parametrize(("request_", "expected", "field"), [
    ({"appointment_id": "A-unknown"}, None, "appointment_id"),
    ({"vin": "1M8GDM9AXKP042788", "plate": "京A12345"}, None, "customer_id"),
    ({"customer_id": "C-1", "plate": "京A12345"}, None, "vin"),
    ({"customer_id": "C-1", "vin": "1M8GDM9AXKP042788"}, None, "plate"),
    ({"appointment_id": "A-1"}, {"customer_id": "C-1", "vin": "1M8GDM9A1KP042788",
                                 "plate": "京A12345"}, "vin"),  # booked with a bad VIN
])
def test_reception_refuses_what_it_cannot_identify_naming_the_field(request_, expected, field):
    with pytest.raises(InvalidInput) as refused:
        arrival(request_, expected)
    assert list(refused.value.detail["fields"]) == [field]


def test_the_odometer_does_not_run_backwards_unless_it_was_replaced():
    check_mileage(30_000, 29_876, odometer_changed=False)
    check_mileage(30_000, None, odometer_changed=False)
    with pytest.raises(InvalidInput) as refused:
        check_mileage(29_000, 29_876, odometer_changed=False)
    assert refused.value.detail["last_known_mileage_km"] == 29_876
    check_mileage(120, 29_876, odometer_changed=True)


def test_the_promised_time_is_after_reception():
    now = datetime(2025, 3, 18, 6, tzinfo=UTC)
    check_promise(now + timedelta(hours=3), now)
    with pytest.raises(InvalidInput):
        check_promise(now, now)


# -- photos --------------------------------------------------------------------------------


@pytest.mark.parametrize(("content_type", "body"), [
    ("image/jpeg", JPEG), ("image/png", PNG), ("image/webp", WEBP), ("image/heic", HEIC),
    ("image/JPEG; charset=binary", JPEG)])
def test_accepted_photos_are_named_by_their_content_hash(content_type, body):
    photo = insp.accept_photo(content_type, body)
    assert photo.sha256 == hashlib.sha256(body).hexdigest()
    assert photo.size_bytes == len(body)
    assert photo.content_type == content_type.split(";")[0].lower()


@pytest.mark.parametrize(("content_type", "body", "field"), [
    ("image/gif", b"GIF89a" + b"\x00" * 10, "content_type"),
    ("application/pdf", b"%PDF-1.7", "content_type"),
    (None, JPEG, "content_type"),
    ("image/png", JPEG, "content_type"),          # the body is not what it claims
    ("image/jpeg", b"<script>alert(1)</script>", "content_type"),
    ("image/jpeg", b"", "body"),
    ("image/jpeg", JPEG + b"\x00" * 100, "size_bytes"),
])
def test_other_types_disguised_content_and_oversize_photos_are_refused(content_type, body,
                                                                        field):
    with pytest.raises(InvalidInput) as refused:
        insp.accept_photo(content_type, body, max_bytes=100)
    assert list(refused.value.detail["fields"]) == [field]


def test_a_result_may_only_show_photos_uploaded_for_the_repair_order():
    items = {"BATTERY": insp.ChecklistItem("BATTERY", "蓄电池", 1)}
    assert insp.record_item(items, "BATTERY", None, ["a" * 64], {"a" * 64}).position == 1
    with pytest.raises(InvalidInput) as refused:
        insp.record_item(items, "BATTERY", None, ["b" * 64], {"a" * 64})
    assert list(refused.value.detail["fields"]) == ["photos"]


def test_an_item_off_the_checklist_needs_a_name():
    items = {"BATTERY": insp.ChecklistItem("BATTERY", "蓄电池", 1)}
    added = insp.record_item(items, "HORN", "喇叭 (horn)", [], set())
    assert (added.name, added.position) == ("喇叭 (horn)", 2)
    with pytest.raises(InvalidInput):
        insp.record_item(items, "HORN", None, [], set())


def test_an_inspection_is_submitted_only_with_every_result():
    insp.check_complete({"BATTERY": "GREEN", "WIPERS": "RED"})
    with pytest.raises(Conflict) as refused:
        insp.check_complete({"BATTERY": "GREEN", "WIPERS": None, "LIGHTS": None})
    assert refused.value.detail["missing_items"] == ["LIGHTS", "WIPERS"]


# -- the owner's report link ----------------------------------------------------------------


def test_a_report_link_grants_one_inspection_until_it_expires():
    token = report_token(SECRET, repair_order_id="RO-1", inspection_id="INS-RO-1-1")
    grant = read_report_token(SECRET, token)
    assert (grant.repair_order_id, grant.inspection_id) == ("RO-1", "INS-RO-1-1")
    assert grant.expires_at > time.time() + 6 * 24 * 3600


def test_an_expired_link_is_refused():
    token = report_token(SECRET, repair_order_id="RO-1", inspection_id="INS-RO-1-1",
                              ttl_seconds=60, now=time.time() - 3600)
    with pytest.raises(Forbidden) as refused:
        read_report_token(SECRET, token)
    assert refused.value.detail["reason"] == "expired"


def test_a_tampered_or_foreign_link_is_not_found():
    token = report_token(SECRET, repair_order_id="RO-1", inspection_id="INS-RO-1-1")
    header, payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    forged_payload = jwt.utils.base64url_encode(
        json.dumps({**claims, "ro": "RO-2"}).encode()).decode()
    for bad in (f"{header}.{forged_payload}.{signature}",
                report_token("another-sites-secret-of-32-characters!!",
                                  repair_order_id="RO-1", inspection_id="INS-RO-1-1"),
                jwt.encode({"ro": "RO-1", "ins": "INS-RO-1-1", "iss": REPORT_ISSUER,
                            "iat": int(time.time()), "exp": int(time.time()) + 60},
                           SECRET, algorithm="HS256"),  # signed with the raw site secret
                "not-a-token"):
        with pytest.raises(NotFound):
            read_report_token(SECRET, bad)


def test_a_report_link_is_no_sign_in_token():
    token = report_token(SECRET, repair_order_id="RO-1", inspection_id="INS-RO-1-1")
    with pytest.raises(Unauthorized):
        TokenVerifier(test_trust(SITE, "D001")).verify(token)
