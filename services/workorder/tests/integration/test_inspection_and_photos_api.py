"""Multi-point inspection over HTTP: checklist, photos by content hash, and the owner's link."""

from __future__ import annotations

import hashlib
import time

import pytest

from chassis.config import development_secret
from services.workorder.tests.integration.site_client import OTHER_VIN
from workorder.links import report_token

# The development stand-in the site signs its report links with in these tests.
REPORT_LINK_SECRET = development_secret("workorder", "report_link_secret")

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
TEN_MIB = 10 * 1024 * 1024


def _upload(site, ro_id, body, content_type="image/jpeg", role="technician"):
    return site.call("POST", f"/repair-orders/{ro_id}/photos", role=role, subject="T-wang",
                     data=body, headers={"Content-Type": content_type})


def test_a_photo_is_stored_once_by_its_content_hash(site):
    ro_id = site.open_ro()["id"]
    first = _upload(site, ro_id, JPEG)
    assert first.status_code == 201, first.text
    sha = hashlib.sha256(JPEG).hexdigest()
    assert first.json() == {"sha256": sha, "content_type": "image/jpeg",
                            "size_bytes": len(JPEG), "url": f"/repair-orders/{ro_id}/photos/{sha}"}
    again = _upload(site, ro_id, JPEG, role="advisor")
    assert again.status_code == 200 and again.json()["sha256"] == sha

    stored = list(site.media_dir.rglob(sha))
    assert stored == [site.media_dir / sha[:2] / sha[2:4] / sha]
    assert stored[0].read_bytes() == JPEG
    assert site.count("photos") == 1
    assert site.query("SELECT content_type, size_bytes FROM photos")[0] == {
        "content_type": "image/jpeg", "size_bytes": len(JPEG)}

    fetched = site.call("GET", first.json()["url"])
    assert fetched.status_code == 200
    assert fetched.content == JPEG
    assert fetched.headers["Content-Type"] == "image/jpeg"
    assert fetched.headers["X-Content-Type-Options"] == "nosniff"
    other = site.open_ro(vin=OTHER_VIN, plate="沪C88888", customer_phone="13900000000")
    assert site.call("GET", f"/repair-orders/{other['id']}/photos/{sha}").status_code == 404


@pytest.mark.parametrize(("content_type", "body", "field"), [
    ("image/gif", b"GIF89a" + b"\x00" * 64, "content_type"),
    ("application/octet-stream", JPEG, "content_type"),
    ("text/html", b"<html><script>alert(1)</script></html>", "content_type"),
    ("image/png", JPEG, "content_type"),                      # not what it says it is
    ("image/jpeg", b"", "body"),
    ("image/jpeg", b"\xff\xd8\xff" + b"\x00" * TEN_MIB, "size_bytes"),  # 10 MiB + 3 bytes
])
def test_photo_types_and_size_are_limited_and_a_refused_upload_leaves_nothing(
        site, content_type, body, field):
    ro_id = site.open_ro()["id"]
    response = _upload(site, ro_id, body, content_type)
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"]
    assert site.count("photos") == 0
    assert not site.media_dir.exists() or not any(p.is_file() for p in site.media_dir.rglob("*"))


def test_a_png_at_the_size_limit_is_accepted(site):
    ro_id = site.open_ro()["id"]
    body = PNG + b"\x00" * (TEN_MIB - len(PNG))
    response = _upload(site, ro_id, body, "image/png")
    assert response.status_code == 201, response.text
    assert response.json()["size_bytes"] == TEN_MIB


def test_the_inspection_runs_on_the_default_checklist_and_is_published(site):
    templates = site.ok("GET", "/checklist-templates", role="technician")["items"]
    [default] = [t for t in templates if t["is_default"]]
    codes = [item["code"] for item in default["items"]]
    assert {"TYRE_TREAD", "BRAKE_PAD_FRONT", "ENGINE_OIL", "LIGHTS", "BATTERY", "WIPERS"} \
        <= set(codes)

    ro_id = site.open_ro()["id"]
    early = site.call("PUT", f"/repair-orders/{ro_id}/inspection/items/BATTERY",
                      role="technician", json={"status": "GREEN"})
    assert early.status_code == 409
    assert early.json()["allowed_next_steps"][0] == {"action": "START_INSPECTION",
                                                     "to": "EVALUATION"}
    unknown = site.call("POST", f"/repair-orders/{ro_id}/inspection", role="technician",
                        json={"template_code": "NO_SUCH"})
    assert unknown.status_code == 422 and "template_code" in unknown.json()["fields"]

    started = site.ok("POST", f"/repair-orders/{ro_id}/inspection", 201, role="technician")
    assert [i["code"] for i in started["items"]] == codes
    assert site.ok("GET", f"/repair-orders/{ro_id}")["stage"] == "EVALUATION"
    assert site.call("POST", f"/repair-orders/{ro_id}/inspection",
                     role="technician").status_code == 409

    sha = _upload(site, ro_id, JPEG).json()["sha256"]
    bad_photo = site.call("PUT", f"/repair-orders/{ro_id}/inspection/items/BRAKE_PAD_FRONT",
                          role="technician", json={"status": "RED", "photos": ["0" * 64]})
    assert bad_photo.status_code == 422 and "photos" in bad_photo.json()["fields"]
    bad_status = site.call("PUT", f"/repair-orders/{ro_id}/inspection/items/BATTERY",
                           role="technician", json={"status": "BLUE"})
    assert bad_status.status_code == 422 and "status" in bad_status.json()["fields"]

    site.ok("PUT", f"/repair-orders/{ro_id}/inspection/items/BRAKE_PAD_FRONT", role="technician",
            json={"status": "RED", "notes": "剩余 2 mm", "photos": [sha]})
    incomplete = site.call("POST", f"/repair-orders/{ro_id}/inspection/submit",
                           role="technician")
    assert incomplete.status_code == 409
    assert "BATTERY" in incomplete.json()["missing_items"]

    for code in codes:
        if code != "BRAKE_PAD_FRONT":
            site.ok("PUT", f"/repair-orders/{ro_id}/inspection/items/{code}", role="technician",
                    json={"status": "YELLOW" if code == "TYRE_TREAD" else "GREEN"})
    added = site.ok("PUT", f"/repair-orders/{ro_id}/inspection/items/HORN", role="technician",
                    json={"status": "GREEN", "name": "喇叭 (horn)"})
    assert added["items"][-1]["code"] == "HORN"
    submitted = site.ok("POST", f"/repair-orders/{ro_id}/inspection/submit", role="technician",
                        subject="T-wang")
    assert submitted["report_link"]["url"].startswith("/inspection-reports/")
    assert site.ok("GET", f"/repair-orders/{ro_id}")["stage"] == "PROPOSAL_BUILD"

    [event] = site.events("InspectionUploaded")
    items = {item["code"]: item for item in event["data"]["items"]}
    assert items["BRAKE_PAD_FRONT"]["status"] == "RED"
    assert items["BRAKE_PAD_FRONT"]["photos"] == [
        {"sha256": sha, "content_type": "image/jpeg", "size_bytes": len(JPEG)}]
    assert event["data"]["inspected_by"] == "T-wang"
    assert len(items) == len(codes) + 1

    seen = site.ok("GET", f"/repair-orders/{ro_id}/inspection", **site.as_owner())
    assert seen["submitted_at"] is not None
    assert site.call("GET", f"/repair-orders/{ro_id}/inspection",
                     **site.as_owner("someone-else")).status_code == 404


def test_the_owner_link_shows_the_inspection_and_its_photos_without_login(site):
    ro_id = site.open_ro()["id"]
    sha = _upload(site, ro_id, JPEG).json()["sha256"]
    link = site.inspect(ro_id, photos=[sha])["report_link"]

    report = site.call("GET", link["url"], role=None)
    assert report.status_code == 200, report.text
    assert report.headers["Cache-Control"] == "private, no-store"
    body = report.json()
    assert (body["repair_order_id"], body["plate"]) == (ro_id, "京A12345")
    [red] = [item for item in body["items"] if item["status"] == "RED"]
    photo_url = red["photos"][0]["url"]
    assert photo_url.startswith(f"/photos/{sha}?token=")
    photo = site.call("GET", photo_url, role=None)
    assert photo.status_code == 200 and photo.content == JPEG

    # The owner asks for a fresh link from the app; someone else's token gets nothing.
    mine = site.ok("POST", f"/repair-orders/{ro_id}/inspection/report-link", 201,
                   **site.as_owner())
    assert site.call("GET", mine["url"], role=None).status_code == 200
    assert site.call("POST", f"/repair-orders/{ro_id}/inspection/report-link",
                     **site.as_owner("someone-else")).status_code == 404


def test_a_tampered_foreign_or_expired_link_is_refused(site):
    ro_id = site.open_ro()["id"]
    sha = _upload(site, ro_id, JPEG).json()["sha256"]
    token = site.inspect(ro_id, photos=[sha])["report_link"]["url"].rsplit("/", 1)[1]
    other = site.open_ro(vin=OTHER_VIN, plate="沪C88888", customer_phone="13900000000")
    other_sha = _upload(site, other["id"], PNG, "image/png").json()["sha256"]

    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    expired = report_token(REPORT_LINK_SECRET, repair_order_id=ro_id,
                           inspection_id=f"INS-{ro_id}-1", ttl_seconds=60, now=time.time() - 3600)
    not_yet = report_token(REPORT_LINK_SECRET, repair_order_id=other["id"],
                           inspection_id=f"INS-{other['id']}-1")  # never inspected

    assert site.call("GET", f"/inspection-reports/{tampered}", role=None).status_code == 404
    assert site.call("GET", f"/inspection-reports/{not_yet}", role=None).status_code == 404
    refused = site.call("GET", f"/inspection-reports/{expired}", role=None)
    assert refused.status_code == 403 and refused.json()["reason"] == "expired"
    assert site.call("GET", f"/photos/{sha}?token={tampered}", role=None).status_code == 404
    assert site.call("GET", f"/photos/{sha}?token={expired}", role=None).status_code == 403
    assert site.call("GET", f"/photos/{sha}", role=None).status_code == 404
    # A valid link opens its own repair order's photos only.
    assert site.call("GET", f"/photos/{other_sha}?token={token}", role=None).status_code == 404
    assert site.call("GET", f"/photos/{sha}?token={token}", role=None).status_code == 200
