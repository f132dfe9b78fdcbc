"""The owner's quote link over HTTP: QuoteIssued carries a grant the site signed, which opens
the round and records the owner's own approval without signing in, once, and nothing else."""

from __future__ import annotations

import time

from chassis.config import development_secret
from services.workorder.tests.integration.site_client import (
    CUSTOMER,
    LABOUR_BRAKES,
    LABOUR_OIL,
    OWNER_PORTAL,
    PART_OIL,
)
from workorder.links import quote_token

# The development stand-in the site signs its owner links with in these tests.
LINK_SECRET = development_secret("workorder", "report_link_secret")
SIGNATURE = {"name": "王伟"}


def _quoted(site, *lines):
    ro_id = site.open_ro()["id"]
    report_link = site.inspect(ro_id)["report_link"]["url"]
    site.quote(ro_id, *lines)
    [issued] = site.events("QuoteIssued")
    url = issued["data"]["quote_url"]
    assert url.startswith(f"{OWNER_PORTAL}/quote-links/")
    return ro_id, url.removeprefix(OWNER_PORTAL), report_link


def _body(**decisions):
    return {"decisions": [{"line_id": k, "decision": v} for k, v in decisions.items()],
            "signature": SIGNATURE}


def test_the_link_in_quote_issued_lets_the_owner_decide_without_signing_in(site_with_portal):
    site = site_with_portal
    ro_id, link, _ = _quoted(site, LABOUR_OIL, PART_OIL, LABOUR_BRAKES)

    shown = site.call("GET", link, role=None)
    assert shown.status_code == 200, shown.text
    assert shown.headers["Cache-Control"] == "private, no-store"
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    body = shown.json()
    assert (body["repair_order_id"], body["quote_id"], body["current_round"]) == (
        ro_id, f"Q-{ro_id}-1", 1)
    [round_one] = body["rounds"]
    assert [line["status"] for line in round_one["lines"]] == ["PROPOSED"] * 3
    assert round_one["total"] == "951.00" and body["expires_at"]

    # The owner's own rules, each refusal naming its field; nothing is decided meanwhile.
    unsigned = site.call("POST", f"{link}/approval", role=None,
                         json={"decisions": [{"line_id": "L1", "decision": "APPROVED"}]})
    assert unsigned.status_code == 422 and "signature" in unsigned.json()["fields"]
    missing = site.call("POST", f"{link}/approval", role=None, json=_body(L1="APPROVED"))
    assert missing.status_code == 422 and missing.json()["missing_lines"] == ["L2", "L3"]
    phone = site.call("POST", f"{link}/approval", role=None,
                      json={**_body(L1="APPROVED", L2="APPROVED", L3="APPROVED"),
                            "approved_via": "PHONE"})
    assert phone.status_code == 422 and "approved_via" in phone.json()["fields"]
    assert site.events("QuoteApproved") == []

    decided = site.call("POST", f"{link}/approval", role=None,
                        json=_body(L1="APPROVED", L2="APPROVED", L3="DECLINED"))
    assert decided.status_code == 200, decided.text
    assert decided.headers["Cache-Control"] == "private, no-store"
    statuses = [line["status"] for line in decided.json()["rounds"][0]["lines"]]
    assert statuses == ["APPROVED", "APPROVED", "DECLINED"]
    assert decided.json()["stage"] == "WORK_IN_PROGRESS"
    [approved] = site.events("QuoteApproved")
    assert (approved["data"]["approved_via"], approved["data"]["signed_by"]) == (
        "LINK", CUSTOMER)
    assert site.query("SELECT approved_via, signer_name, signed_from FROM quotes")[0] == {
        "approved_via": "LINK", "signer_name": "王伟", "signed_from": "127.0.0.1"}
    assert site.count("audit_log") == 0  # the owner's own approval, nobody acting for them
    assert [job["line_id"] for job in site.ok("GET", f"/repair-orders/{ro_id}/jobs")["items"]] \
        == ["L1"]

    # Used: the link opens and decides nothing any more.
    for method, path in (("GET", link), ("POST", f"{link}/approval")):
        again = site.call(method, path, role=None,
                          json=_body(L1="DECLINED", L2="DECLINED", L3="APPROVED"))
        assert again.status_code == 404, again.text
        assert again.json()["reason"] == "decided"
    assert len(site.events("QuoteApproved")) == 1


def test_a_report_link_a_tampered_expired_or_foreign_link_decides_nothing(site_with_portal):
    site = site_with_portal
    ro_id, link, report_link = _quoted(site, LABOUR_OIL)
    grant = link.rsplit("/", 1)[1]
    report_grant = report_link.rsplit("/", 1)[1]
    header, payload, signature = grant.split(".")
    tampered = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    claims = {"repair_order_id": ro_id, "quote_id": f"Q-{ro_id}-1", "round_": 1,
              "customer_id": CUSTOMER}
    expired = quote_token(LINK_SECRET, **claims, ttl_seconds=60, now=time.time() - 3600)
    foreign = quote_token("another-sites-secret-of-32-characters!!", **claims)

    for bad in (report_grant, tampered, foreign, "not-a-grant"):
        for method, path in (("GET", f"/quote-links/{bad}"),
                             ("POST", f"/quote-links/{bad}/approval")):
            refused = site.call(method, path, role=None, json=_body(L1="APPROVED"))
            assert refused.status_code == 404, (bad, refused.text)
            assert refused.json()["reason"] == "invalid"
    gone = site.call("POST", f"/quote-links/{expired}/approval", role=None,
                     json=_body(L1="APPROVED"))
    assert gone.status_code == 404 and gone.json()["reason"] == "expired"
    assert "expired" in gone.json()["message"]

    # Nor does the quote link open the report, or sign anyone in.
    assert site.call("GET", f"/inspection-reports/{grant}", role=None).status_code == 404
    as_token = site.call("GET", f"/repair-orders/{ro_id}/quote", role=None,
                         headers={"Authorization": f"Bearer {grant}"})
    assert as_token.status_code == 401
    assert site.events("QuoteApproved") == []
    assert site.ok("GET", f"/repair-orders/{ro_id}")["stage"] == \
        "AWAITING_CUSTOMER_AUTHORIZATION"
    # … and the real link still decides its round.
    assert site.call("POST", f"{link}/approval", role=None,
                     json=_body(L1="APPROVED")).status_code == 200


def test_an_approval_in_the_app_ends_the_link_and_the_next_round_has_its_own(site_with_portal):
    site = site_with_portal
    ro_id, first, _ = _quoted(site, LABOUR_OIL)
    assert site.decide(ro_id, {"L1": "APPROVED"}).status_code == 200  # signed in, in the app
    assert site.call("GET", first, role=None).json()["reason"] == "decided"

    site.ok("POST", f"/repair-orders/{ro_id}/additional-work")
    site.quote(ro_id, LABOUR_BRAKES)
    [_, issued] = site.events("QuoteIssued")
    second = issued["data"]["quote_url"].removeprefix(OWNER_PORTAL)
    assert second != first
    refused = site.call("POST", f"{first}/approval", role=None, json=_body(L2="APPROVED"))
    assert refused.status_code == 404
    decided = site.call("POST", f"{second}/approval", role=None, json=_body(L2="APPROVED"))
    assert decided.status_code == 200, decided.text
    assert decided.json()["quote_id"] == f"Q-{ro_id}-2"
    assert [e["data"]["approved_via"] for e in site.events("QuoteApproved")] == ["WEB", "LINK"]
