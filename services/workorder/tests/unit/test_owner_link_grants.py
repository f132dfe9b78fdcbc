"""The owner's links as grants: each signed by the site for one purpose (an inspection report to
see, a quote round to decide), expiring, refused for any other purpose or as a sign-in token,
and a quote link refused once its round no longer waits for the owner."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import jwt
import pytest

from chassis.auth import TokenVerifier
from chassis.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from chassis.identity import Identity, Role
from chassis.registry import SITE
from chassis.testing import test_trust
from workorder.domain import grants
from workorder.domain.inspection import report_url
from workorder.domain.quote import approver
from workorder.links import (
    QUOTE_ISSUER,
    REPORT_ISSUER,
    quote_token,
    read_quote_token,
    read_report_token,
    report_token,
)

SECRET = "a-site-secret-of-at-least-32-characters!"
OTHER_SITE = "another-sites-secret-of-32-characters!!"
RO, QUOTE, CUSTOMER = "RO-D001-20250318-0042", "Q-RO-D001-20250318-0042-1", "C-8e3f2a10"
SENT = datetime(2025, 3, 18, 6, 0, tzinfo=UTC)


def _quote(secret: str = SECRET, **changes: object) -> str:
    claims = {"repair_order_id": RO, "quote_id": QUOTE, "round_": 1, "customer_id": CUSTOMER,
              **changes}
    return quote_token(secret, **claims)  # type: ignore[arg-type]


def _report(secret: str = SECRET) -> str:
    return report_token(secret, repair_order_id=RO, inspection_id=f"INS-{RO}-1")


def _key(label: bytes) -> bytes:
    """A purpose's own key, derived from the site secret as workorder.links does."""
    return hmac.new(SECRET.encode(), label, hashlib.sha256).digest()


def _signed(claims: dict[str, object], label: bytes) -> str:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 600, **claims}, _key(label), algorithm="HS256")


QUOTE_CLAIMS = {"iss": QUOTE_ISSUER, "pur": "quote-approval", "ro": RO, "qid": QUOTE, "rnd": 1,
                "cus": CUSTOMER}


# -- what a quote link grants, and for how long ------------------------------------------------


def test_a_quote_link_names_the_round_and_its_customer_for_three_days():
    grant = read_quote_token(SECRET, _quote())
    assert (grant.repair_order_id, grant.quote_id, grant.round, grant.customer_id) == (
        RO, QUOTE, 1, CUSTOMER)
    assert 71 * 3600 < grant.expires_at - time.time() <= 72 * 3600
    claims = jwt.decode(_quote(), options={"verify_signature": False})
    assert (claims["iss"], claims["pur"]) == ("aftersales/quote-approval", "quote-approval")


def test_an_expired_quote_link_is_not_found_saying_so():
    token = _quote(ttl_seconds=60, now=time.time() - 3600)
    with pytest.raises(NotFound) as refused:
        read_quote_token(SECRET, token)
    assert refused.value.detail["reason"] == "expired"
    assert "expired" in refused.value.message


def test_a_tampered_foreign_or_made_up_quote_link_is_not_found():
    token = _quote()
    header, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    for changed in ({"rnd": 2}, {"cus": "C-someone-else"}, {"ro": "RO-D001-20250318-0043"}):
        forged = jwt.utils.base64url_encode(json.dumps({**claims, **changed}).encode()).decode()
        with pytest.raises(NotFound):
            read_quote_token(SECRET, f"{header}.{forged}.{signature}")
    for bad in (_quote(OTHER_SITE),  # another site's link: its secret is its own
                jwt.encode({**QUOTE_CLAIMS, "iat": int(time.time()),
                            "exp": int(time.time()) + 60}, SECRET, algorithm="HS256"),
                _signed({**QUOTE_CLAIMS, "rnd": "1"}, b"quote-approval-link"),
                _signed({k: v for k, v in QUOTE_CLAIMS.items() if k != "cus"},
                        b"quote-approval-link"),
                "not-a-token", ""):
        with pytest.raises(NotFound) as refused:
            read_quote_token(SECRET, bad)
        assert refused.value.detail["reason"] == "invalid"


# -- one purpose each ----------------------------------------------------------------------------


def test_a_report_link_cannot_decide_a_quote_nor_a_quote_link_show_a_report():
    with pytest.raises(NotFound):
        read_quote_token(SECRET, _report())
    with pytest.raises(NotFound):
        read_report_token(SECRET, _quote())
    assert read_report_token(SECRET, _report()).repair_order_id == RO  # each opens its own


def test_the_purpose_and_issuer_in_a_grant_are_checked_not_only_its_key():
    # Signed with the right purpose's key, but naming another purpose or issuer: refused.
    for claims in ({**QUOTE_CLAIMS, "pur": "inspection-report"},
                   {**QUOTE_CLAIMS, "iss": REPORT_ISSUER},
                   {k: v for k, v in QUOTE_CLAIMS.items() if k != "pur"}):
        with pytest.raises(NotFound):
            read_quote_token(SECRET, _signed(claims, b"quote-approval-link"))
    report = {"iss": REPORT_ISSUER, "ro": RO, "ins": f"INS-{RO}-1"}
    with pytest.raises(NotFound):
        read_report_token(SECRET, _signed({**report, "pur": "quote-approval"},
                                          b"inspection-report-link"))
    with pytest.raises(NotFound):
        read_report_token(SECRET, _signed({**report, "iss": QUOTE_ISSUER},
                                          b"inspection-report-link"))
    # Report links made before grants named their purpose still open their report.
    legacy = _signed(report, b"inspection-report-link")
    assert read_report_token(SECRET, legacy).inspection_id == f"INS-{RO}-1"


def test_an_expired_report_link_is_still_refused_with_403():
    token = report_token(SECRET, repair_order_id=RO, inspection_id=f"INS-{RO}-1",
                         ttl_seconds=60, now=time.time() - 3600)
    with pytest.raises(Forbidden):
        read_report_token(SECRET, token)


def test_no_owner_link_is_a_sign_in_token():
    verifier = TokenVerifier(test_trust(SITE, "D001"))
    for token in (_quote(), _report()):
        with pytest.raises(Unauthorized):
            verifier.verify(token)


# -- a quote link decides its round while that round waits ---------------------------------------


def _grant(**changes: object) -> grants.QuoteGrant:
    values = {"repair_order_id": RO, "quote_id": QUOTE, "round": 1, "customer_id": CUSTOMER,
              "expires_at": int(time.time()) + 600, **changes}
    return grants.QuoteGrant(**values)  # type: ignore[arg-type]


def _ro(**changes: object) -> dict[str, object]:
    return {"id": RO, "customer_id": CUSTOMER, "quote_round": 1,
            "stage": "AWAITING_CUSTOMER_AUTHORIZATION", **changes}


def _round(**changes: object) -> dict[str, object]:
    return {"round": 1, "quote_id": QUOTE, "sent_at": SENT, "decided_at": None, **changes}


def test_a_sent_round_waiting_for_the_owner_is_opened():
    assert grants.check_quote_waiting(_grant(), _ro(), [_round()])["quote_id"] == QUOTE


@pytest.mark.parametrize(("ro", "rounds", "reason"), [
    (_ro(stage="WORK_IN_PROGRESS"), [_round(decided_at=SENT)], "decided"),
    (_ro(stage="PROPOSAL_BUILD", quote_round=2),
     [_round(decided_at=SENT), _round(round=2, quote_id=f"Q-{RO}-2", sent_at=None)], "decided"),
    (_ro(quote_round=2), [_round(), _round(round=2, quote_id=f"Q-{RO}-2")], "superseded"),
    (_ro(stage="CANCELLED"), [_round()], "not_waiting"),
    (_ro(customer_id="C-someone-else"), [_round()], "invalid"),
    (_ro(), [_round(quote_id="Q-another")], "invalid"),
    (_ro(), [_round(sent_at=None)], "invalid"),
    (_ro(), [], "invalid"),
    (None, [], "invalid"),
], ids=["approved", "approved-and-a-new-round", "superseded", "cancelled", "another-customer",
        "another-quote", "not-sent", "no-such-round", "no-such-repair-order"])
def test_a_quote_link_is_refused_once_its_round_no_longer_waits(ro, rounds, reason):
    with pytest.raises(NotFound) as refused:
        grants.check_quote_waiting(_grant(), ro, rounds)
    assert refused.value.detail["reason"] == reason


def test_the_quote_link_goes_under_the_sites_https_owner_portal_only():
    assert grants.quote_url("https://owners.d001.example.cn/", "abc.def.ghi") == \
        "https://owners.d001.example.cn/quote-links/abc.def.ghi"
    assert grants.quote_url("", "abc.def.ghi") is None
    assert grants.quote_url("http://owners.d001.example.cn", "abc.def.ghi") is None
    assert grants.quote_url("https://owners.example.cn", "x" * 500) is None  # no room in it
    portal = "https://owners.d001.example.cn"
    assert len(grants.quote_url(portal, _quote()) or "") <= grants.MAX_LINK_LENGTH


@pytest.mark.parametrize("portal", ["http://127.0.0.1:8109", "http://localhost:8000/",
                                    "http://127.0.0.1"])
def test_a_demo_or_test_machines_portal_on_loopback_gets_links_too(portal):
    # The contract takes plain http on loopback (the portal on the machine itself), so the
    # demo's and the tests' owners receive the links; any other host still needs https.
    assert grants.quote_url(portal, "abc.def.ghi") == \
        f"{portal.rstrip('/')}/quote-links/abc.def.ghi"
    assert report_url(portal, "INS-RO-1-1") == f"{portal.rstrip('/')}/inspections/INS-RO-1-1"


@pytest.mark.parametrize("portal", ["http://owners.d001.example.cn", "http://10.0.0.7:8109",
                                    "http://127.0.0.1.example.cn", "ftp://127.0.0.1", ""])
def test_no_link_goes_under_any_other_plain_http_portal(portal):
    assert grants.quote_url(portal, "abc.def.ghi") is None
    assert report_url(portal, "INS-RO-1-1") is None


# -- the approval through the link is the owner's own, recorded as LINK --------------------------


def test_an_approval_through_the_link_is_the_owners_recorded_as_link():
    owner = Identity(CUSTOMER, Role.OWNER, None, issuer=QUOTE_ISSUER)
    for via in (None, "LINK"):
        assert approver(owner, via, CUSTOMER, through_link=True) == \
            approver(owner, None, CUSTOMER, through_link=True)
    made = approver(owner, None, CUSTOMER, through_link=True)
    assert (made.via, made.signed_by, made.on_behalf) == ("LINK", CUSTOMER, False)
    with pytest.raises(InvalidInput) as refused:
        approver(owner, "WECHAT", CUSTOMER, through_link=True)
    assert list(refused.value.detail["fields"]) == ["approved_via"]


def test_nobody_claims_the_link_channel_without_the_link():
    advisor = Identity("SA-017", Role.ADVISOR, "D001")
    for who in (Identity(CUSTOMER, Role.OWNER, None), advisor):
        with pytest.raises(InvalidInput):
            approver(who, "LINK", CUSTOMER)
