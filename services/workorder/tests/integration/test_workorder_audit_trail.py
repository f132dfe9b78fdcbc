"""The audit log on the real PostgreSQL, through workorder's HTTP entrypoints: an advisor
approving a quote on the owner's behalf leaves an audit row with who, as whom and from where;
the owner approving their own leaves none; a refused approval leaves none; and the operator's
`aftersales audit list workorder` shows it."""

from __future__ import annotations

import json

from chassis.cli import main as aftersales
from chassis.testing import HQ_ISSUER, trust_setting
from services.workorder.tests.integration.site_client import (
    ADVISOR_ID,
    CUSTOMER,
    LABOUR_BRAKES,
    LABOUR_OIL,
    PART_OIL,
)

ADVISOR = {"role": "advisor", "subject": ADVISOR_ID}


def audit_rows(site) -> list:  # type: ignore[no-untyped-def]
    return site.query("SELECT * FROM audit_log ORDER BY id")


def quoted(site) -> str:  # type: ignore[no-untyped-def]
    ro_id = site.open_ro()["id"]
    site.inspect(ro_id)
    site.quote(ro_id, LABOUR_OIL, PART_OIL, LABOUR_BRAKES)
    return ro_id


def test_an_approval_on_the_owners_behalf_is_audited_and_listed_by_the_operator(
        site, monkeypatch, capsys):
    ro_id = quoted(site)

    # Refused (an advisor does not approve through the owner's app): nothing is recorded.
    refused = site.decide(ro_id, {"L1": "APPROVED", "L2": "APPROVED", "L3": "DECLINED"},
                          who=ADVISOR, approved_via="APP")
    assert refused.status_code == 422, refused.text
    # Refused later on, once the lines were decided: the signature image is not an image.
    bad_image = site.decide(ro_id, {"L1": "APPROVED", "L2": "APPROVED", "L3": "DECLINED"},
                            who=ADVISOR, approved_via="IN_PERSON",
                            signature={"name": "王伟", "image": "not base64!"})
    assert bad_image.status_code == 422, bad_image.text
    assert audit_rows(site) == []
    assert site.query("SELECT decided_at FROM quotes WHERE repair_order_id = :ro",
                      ro=ro_id)[0]["decided_at"] is None

    approved = site.decide(ro_id, {"L1": "APPROVED", "L2": "APPROVED", "L3": "DECLINED"},
                           who=ADVISOR, approved_via="PHONE")
    assert approved.status_code == 200, approved.text

    [row] = audit_rows(site)
    assert (row["service"], row["action"], row["subject"]) == (
        "workorder", "QUOTE_APPROVED_ON_BEHALF", ro_id)
    assert (row["actor_subject"], row["actor_role"], row["actor_dealer_code"],
            row["actor_issuer"]) == (ADVISOR_ID, "advisor", "D001", HQ_ISSUER)
    assert row["client_address"] == "127.0.0.1"
    assert {k: row["detail"][k] for k in ("on_behalf_of", "approved_via", "signed_by",
                                          "approved_lines", "declined_lines",
                                          "approved_total", "declined_total")} == {
        "on_behalf_of": CUSTOMER, "approved_via": "PHONE", "signed_by": ADVISOR_ID,
        # 0.5 h × 300.00 labour, 4.5 L × 98.00 oil; the 1.2 h × 300.00 brakes declined
        "approved_lines": ["L1", "L2"], "declined_lines": ["L3"],
        "approved_total": "591.00", "declined_total": "360.00"}

    monkeypatch.setenv("AFTERSALES_DEALER_CODE", "D001")
    monkeypatch.setenv("AFTERSALES_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/unused")
    monkeypatch.setenv("AFTERSALES_DATABASE_URL", site.database_url)
    monkeypatch.setenv("AFTERSALES_TRUST", json.dumps(trust_setting("site", "D001")))
    assert aftersales(["audit", "list", "workorder", "--json",
                       "--action", "QUOTE_APPROVED_ON_BEHALF"]) == 0
    [listed] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (listed["id"], listed["subject"], listed["actor"]["subject"]) == (
        row["id"], ro_id, ADVISOR_ID)
    assert listed["detail"]["on_behalf_of"] == CUSTOMER


def test_the_owner_approving_their_own_quote_leaves_no_audit_row(site):
    ro_id = quoted(site)
    response = site.decide(ro_id, {"L1": "APPROVED", "L2": "APPROVED", "L3": "APPROVED"})
    assert response.status_code == 200, response.text
    assert audit_rows(site) == []


def test_a_discounted_labour_line_on_the_quote_is_audited(site):
    ro_id = site.open_ro()["id"]
    site.inspect(ro_id)
    site.quote(ro_id, {**LABOUR_BRAKES, "labour_rate": "250.00"}, send=False)
    [row] = audit_rows(site)
    assert (row["action"], row["subject"], row["detail"]["discount_total"]) == (
        "QUOTE_LINE_DISCOUNTED", ro_id, "60.00")
