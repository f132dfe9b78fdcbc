"""partners' pure rules: order per subject, the retry schedule, what an answer means,
entitlements, the rate limit, secrets and which addresses an endpoint may never be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from partners import domain
from partners.domain import (
    About,
    DeliveryStatus,
    Entitlements,
    InLine,
    Outcome,
    RetrySchedule,
    Secret,
    TokenBucket,
)

NOW = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)
W, P, S = DeliveryStatus.WAITING, DeliveryStatus.PENDING, DeliveryStatus.SENDING


# -- order per subject -------------------------------------------------------------------------

def test_the_first_delivery_of_a_subject_is_in_line_at_once():
    assert domain.place(1, []) == domain.Placement(P)


def test_a_later_one_waits_behind_an_open_earlier_one():
    assert domain.place(3, [InLine(1, 1, P)]).status is W
    assert domain.place(3, [InLine(1, 1, S), InLine(2, 2, W)]).status is W


def test_an_earlier_one_arriving_late_goes_first_unless_a_later_one_is_on_its_way():
    placed = domain.place(1, [InLine(7, 2, P), InLine(8, 3, W)])
    assert placed == domain.Placement(P, (7,))
    assert domain.place(1, [InLine(7, 2, S)]).status is W  # cannot be called back


def test_the_next_in_line_is_the_earliest_waiting_once_none_is_in_line():
    assert domain.next_in_line([InLine(5, 4, W), InLine(3, 2, W), InLine(9, 3, W)]) == 3
    assert domain.next_in_line([InLine(5, 4, W), InLine(3, 2, P)]) is None
    assert domain.next_in_line([InLine(5, 4, W), InLine(3, 2, S)]) is None
    assert domain.next_in_line([]) is None


def test_replays_go_back_in_sequence_order():
    found = domain.replay_order([InLine(9, 3, W), InLine(4, 1, W), InLine(5, 2, W)])
    assert [d.id for d in found] == [4, 5, 9]


# -- retries -------------------------------------------------------------------------------------

def test_the_default_schedule_is_eight_attempts_from_at_once_to_ten_hours():
    schedule = RetrySchedule(jitter=0)
    waits = [schedule.next_attempt(n, NOW, 0.5) - NOW for n in range(1, 8)]
    assert waits == [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30),
                     timedelta(hours=2), timedelta(hours=5), timedelta(hours=10),
                     timedelta(hours=10)]
    assert schedule.attempts == 8 and schedule.next_attempt(8, NOW, 0.5) is None


@pytest.mark.parametrize(("draw", "seconds"), [(0.0, 270.0), (0.5, 300.0), (0.999999, 330.0)])
def test_jitter_stretches_or_shrinks_each_wait_by_up_to_its_fraction(draw, seconds):
    wait = RetrySchedule(jitter=0.1).next_attempt(2, NOW, draw) - NOW
    assert wait.total_seconds() == pytest.approx(seconds, abs=0.01)


@pytest.mark.parametrize(("status", "outcome"), [
    (200, Outcome.DELIVERED), (204, Outcome.DELIVERED), (299, Outcome.DELIVERED),
    (410, Outcome.GONE), (301, Outcome.FAILED), (400, Outcome.FAILED), (429, Outcome.FAILED),
    (500, Outcome.FAILED), (None, Outcome.FAILED)])
def test_what_an_answer_means(status, outcome):
    assert domain.outcome_of(status) is outcome


def test_failure_reasons_are_a_closed_set():
    assert domain.failure_reason(503, None) == "http_5xx"
    assert domain.failure_reason(None, "timeout: no answer within 15s") == "timeout"
    assert domain.failure_reason(None, "refused: 10.0.0.1 is a private address") == "refused"
    assert domain.failure_reason(None, "connection: ConnectionRefusedError") == "connection"


def test_an_endpoint_failing_for_five_days_is_disabled():
    five = timedelta(days=5)
    assert not domain.should_disable(None, NOW, five)
    assert not domain.should_disable(NOW - timedelta(days=4, hours=23), NOW, five)
    assert domain.should_disable(NOW - five, NOW, five)


# -- entitlements ---------------------------------------------------------------------------------

QUOTE = "aftersales.QuoteApproved.v1"


def test_a_partner_gets_its_types_of_its_dealers_or_regions():
    entitled = Entitlements(frozenset({QUOTE}), dealers=frozenset({"D001"}),
                            regions=frozenset({"EAST"}))
    assert domain.is_entitled(entitled, QUOTE, About("D001"), region=None, consented=False)
    assert domain.is_entitled(entitled, QUOTE, About("D007"), region="EAST", consented=False)
    assert not domain.is_entitled(entitled, QUOTE, About("D002"), region="WEST",
                                  consented=False)
    assert not domain.is_entitled(entitled, "aftersales.PartIssued.v1", About("D001"),
                                  region=None, consented=False)
    # Headquarters' events about no one dealer (a recall campaign) reach every partner.
    assert domain.is_entitled(entitled, QUOTE, About("HQ"), region=None, consented=False)
    every = Entitlements(frozenset({QUOTE}))
    assert domain.is_entitled(every, QUOTE, About("D123"), region=None, consented=False)


def test_a_partner_limited_to_its_cars_gets_its_vins_and_consenting_owners_only():
    entitled = Entitlements(frozenset({QUOTE}), all_vehicles=False,
                            vins=frozenset({"LSVAU2187N2183740"}))
    mine = About("D001", vins=frozenset({"LSVAU2187N2183740"}))
    other = About("D001", customer_ids=frozenset({"C-1"}), vins=frozenset({"1M8GDM9AXKP042788"}))
    assert domain.is_entitled(entitled, QUOTE, mine, region=None, consented=False)
    assert not domain.is_entitled(entitled, QUOTE, other, region=None, consented=False)
    assert domain.is_entitled(entitled, QUOTE, other, region=None, consented=True)


def test_what_an_event_names_of_its_owner_and_car():
    customers, vins, refs = domain.concerns({
        "repair_order_id": "RO-1", "appointment_id": "A-1", "customer_id": "C-1",
        "vin": "LSVAU2187N2183740"})
    assert (customers, vins, refs) == (frozenset({"C-1"}), frozenset({"LSVAU2187N2183740"}),
                                       ("RO-1", "A-1"))
    customers, vins, _ = domain.concerns({"customer": {"customer_id": "C-2"},
                                          "vehicle": {"plate": "京A12345"}})
    assert (customers, vins) == (frozenset({"C-2"}), frozenset())
    assert domain.concerns({"vins": ["A" * 17, "B" * 17]})[1] == {"A" * 17, "B" * 17}


def test_only_a_partner_purpose_is_partners_business():
    assert domain.partner_of_purpose("partner:ptn_3f9a") == "ptn_3f9a"
    assert domain.partner_of_purpose("MARKETING") is None
    assert domain.partner_of_purpose("partner:") is None


# -- rate limit and secrets ----------------------------------------------------------------------

def test_the_token_bucket_allows_its_burst_then_its_rate():
    bucket = TokenBucket.restore(10, 5, None, None, NOW)
    bucket, allowed = bucket.take(25, NOW)
    assert allowed == 10
    bucket, allowed = bucket.take(25, NOW + timedelta(seconds=1))
    assert allowed == 5
    assert bucket.take(1, NOW + timedelta(seconds=1))[1] == 0


def test_secrets_are_standard_webhooks_and_overlap_while_rotating():
    secret = domain.new_secret(bytes(range(32)))
    assert secret.startswith("whsec_") and len(secret) == 6 + 44
    with pytest.raises(ValueError):
        domain.new_secret(b"short")
    old = Secret("1", "whsec_old", NOW - timedelta(days=1), NOW + timedelta(hours=1))
    new = Secret("2", "whsec_new", NOW, None)
    assert domain.signing_secrets([old, new], NOW) == [new, old]
    assert domain.signing_secrets([old, new], NOW + timedelta(hours=2)) == [new]


# -- safe outbound calls ---------------------------------------------------------------------------

@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.0.0.1", "172.31.255.255", "192.168.0.1", "169.254.169.254", "100.64.0.1",
    "100.127.255.254", "224.0.0.1", "0.0.0.0", "255.255.255.255", "240.0.0.1", "::1", "::",
    "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:7f00:1::", "198.18.0.1",
])
def test_addresses_an_endpoint_may_never_be(address):
    assert domain.address_refusal(address).startswith("refused:")


@pytest.mark.parametrize("address", ["8.8.8.8", "203.119.25.1", "2400:3200::1",
                                     "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert domain.address_refusal(address) is None


def test_a_name_is_refused_when_any_address_it_resolves_to_is_not_public():
    assert domain.resolved_refusal(["8.8.8.8"]) is None
    assert domain.resolved_refusal(["8.8.8.8", "10.0.0.1"]).startswith("refused:")
    assert domain.resolved_refusal([]).startswith("refused:")


def test_private_endpoints_and_http_only_when_allowed():
    assert domain.url_refusal("http://127.0.0.1:9/h", allow_private=True) is None
    assert domain.url_refusal("http://127.0.0.1:9/h", allow_private=False)
    assert domain.url_refusal("https://hooks.partner.example.com/x", allow_private=False) is None
    target = domain.parse_target("https://[2400:3200::1]:8443/in?x=1")
    assert (target.host, target.port, target.path, target.host_header) == (
        "2400:3200::1", 8443, "/in?x=1", "[2400:3200::1]:8443")
