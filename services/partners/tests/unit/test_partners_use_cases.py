"""partners' use cases against a fake unit of work: the registry, the facts and the outbound
side in memory, the events checked against their contracts, a fixed clock; no database, no
broker, no network (the dispatcher's jobs are answered here, never sent)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import contracts
from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound
from contracts import EventContract, contract_for, events, new_event
from partners import use_cases
from partners.domain import (
    DEFAULT_RETRY_SECONDS,
    AttemptResult,
    DeliveryStatus,
    DisabledBecause,
    EndpointStatus,
    Job,
)
from partners.settings import PartnersSettings
from services.partners.tests.unit.fakes import FakePartnersUnitOfWork

NOW = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)
OPTIONS = PartnersSettings(retry_jitter=0.0)  # the schedule exactly, whatever the draw
LOCAL = replace(OPTIONS, allow_private_endpoints=True)
RANDOM = bytes(range(32))
URL = "https://hooks.partner.example.com/aftersales"
OWNER = "8e3f2a10-6c5d-5b7e-9a41-0f2d3c4b5a69"  # the owner and car of contracts' examples
VIN = "LSVAU2187N2183740"
OTHER_VIN = "1M8GDM9AXKP042788"
RO = "RO-D001-20250318-0042"
EXAMPLES = Path(contracts.__file__).parent
P, W, S = DeliveryStatus.PENDING.value, DeliveryStatus.WAITING.value, DeliveryStatus.SENDING.value
DELIVERED, FAILED = DeliveryStatus.DELIVERED.value, DeliveryStatus.FAILED.value


def example(contract: EventContract, *, dealer: str = "D001", sequence: int = 1,
            subject: str | None = None, **data_changes: Any) -> dict[str, Any]:
    """A fresh event (its own id) from contracts' published example, about `dealer`."""
    base = json.loads((EXAMPLES / contract.example_file).read_text(encoding="utf-8"))
    data = {**base["data"], **data_changes}
    if "dealer_code" in data:
        data["dealer_code"] = dealer
    if subject is not None and contract.subject_field:
        data[contract.subject_field] = subject
    subject = data[contract.subject_field] if contract.subject_field else base["subject"]
    source = (f"dealer/{dealer}/{contract.producer}" if contract.at_dealer_site
              else f"hq/{contract.producer}")
    dealer_code = (dealer if contract.at_dealer_site or "dealer_code" in data
                   else base["dealercode"])
    return new_event(contract, data, source=source, subject=subject, dealer_code=dealer_code,
                     correlation_id=base["correlationid"], sequence=sequence,
                     time=NOW - timedelta(minutes=1))


def register(uow: FakePartnersUnitOfWork, *types: str, partner_id: str = "ptn_a",
             **entitlements: Any) -> dict[str, Any]:
    return use_cases.register_partner(
        uow, partner_id=partner_id, name=f"Shop {partner_id}", client_id=f"cli_{partner_id}",
        entitlements={"event_types": list(types), **entitlements}, now=NOW)


def add_endpoint(uow: FakePartnersUnitOfWork, partner_id: str = "ptn_a", url: str = URL, *,
                 types: list[str] | None = None, options: PartnersSettings = OPTIONS,
                 rate: float | None = None) -> dict[str, Any]:
    return use_cases.add_endpoint(uow, options, partner_id, url=url, types=types,
                                  rate_per_second=rate, random_bytes=RANDOM, now=NOW)


def shop(uow: FakePartnersUnitOfWork, *types: str, options: PartnersSettings = OPTIONS,
         **entitlements: Any) -> dict[str, Any]:
    """One partner entitled to `types`, with one endpoint: the endpoint."""
    register(uow, *types, **entitlements)
    return add_endpoint(uow, options=options)


def rows(uow: FakePartnersUnitOfWork, endpoint_id: str | None = None) -> list[dict[str, Any]]:
    return [d for _, d in sorted(uow.outbound.delivery_rows.items())
            if endpoint_id is None or d["endpoint_id"] == endpoint_id]


def statuses(uow: FakePartnersUnitOfWork) -> list[str]:
    return [d["status"] for d in rows(uow)]


def tick(uow: FakePartnersUnitOfWork, *answers: AttemptResult, now: datetime = NOW,
         room: int = 100, options: PartnersSettings = OPTIONS) -> use_cases.DispatchRun:
    return use_cases.dispatch(uow, options, finished=list(answers), room=room, now=now,
                              draw=lambda: 0.5)


def answer(job: Job, status_code: int | None, *, at: datetime = NOW,
           error: str | None = None) -> AttemptResult:
    return AttemptResult(job.delivery_id, job.attempt, job.endpoint_id, job.partner_id,
                         started_at=at, status_code=status_code, latency_ms=12.5,
                         excerpt="ok" if status_code else None, error=error)


def switch_off(uow: FakePartnersUnitOfWork, endpoint_id: str) -> None:
    """An endpoint out of service (how it got there is another test's business)."""
    uow.registry.save_endpoint(endpoint_id, status=EndpointStatus.DISABLED.value,
                               disabled_because=DisabledBecause.OPERATOR.value, disabled_at=NOW)


def shown(uow: FakePartnersUnitOfWork, delivery: dict[str, Any]) -> dict[str, Any]:
    """The event as the partner sees it, from the feed message a delivery carries."""
    return json.loads(uow.outbound.message_rows[delivery["position"]]["body"])


@pytest.fixture
def uow() -> FakePartnersUnitOfWork:
    return FakePartnersUnitOfWork()


# -- the registry ------------------------------------------------------------------------------


def test_a_registered_partner_is_active_with_its_entitlements_by_event_type(uow):
    found = register(uow, "QuoteApproved", "aftersales.VehicleDelivered.v1",
                     dealers=["D001"], all_vehicles=False, vins=[VIN, VIN])

    assert found["active"] is True
    assert found["entitlements"] == {
        "event_types": [events.QuoteApproved.type, events.VehicleDelivered.type],
        "dealers": ["D001"], "regions": None, "all_vehicles": False, "vins": [VIN]}
    assert found["endpoints"] == []
    assert use_cases.partners(uow) == [found]


def test_a_partner_id_and_a_client_id_are_registered_once(uow):
    register(uow, "QuoteApproved")

    with pytest.raises(Conflict):
        register(uow, "QuoteApproved")
    with pytest.raises(Conflict):
        use_cases.register_partner(uow, partner_id="ptn_b", name="B", client_id="cli_ptn_a",
                                   entitlements={}, now=NOW)
    assert list(uow.registry.partner_rows) == ["ptn_a"]


@pytest.mark.parametrize("name", ["ConsentChanged", "NoSuchEvent"])
def test_a_type_never_passed_to_partners_or_unknown_is_refused(uow, name):
    with pytest.raises(InvalidInput):
        register(uow, "QuoteApproved", name)
    assert uow.registry.partner_rows == {}


def test_an_endpoints_first_secret_is_in_its_answer_and_no_other(uow):
    register(uow, "QuoteApproved")
    made = add_endpoint(uow, rate=5)

    assert made["secret"].startswith("whsec_")
    assert made["status"] == EndpointStatus.ACTIVE.value
    assert (made["rate_per_second"], made["rate_burst"]) == (5, OPTIONS.rate_burst)
    listed = use_cases.partner(uow, "ptn_a")["endpoints"]
    assert [e["endpoint_id"] for e in listed] == [made["endpoint_id"]]
    assert "secret" not in listed[0]


@pytest.mark.parametrize("url", [
    "http://hooks.partner.example.com/aftersales",  # not https
    "https://10.1.2.3/hook",                          # private
    "https://127.0.0.1/hook",                         # loopback
    "https://169.254.169.254/latest/meta-data",      # the cloud metadata service
    "https://100.64.0.1/hook",                        # carrier-grade NAT
    "https://[::ffff:192.168.1.1]/hook",             # a private IPv4 inside IPv6
    "https://localhost/hook",
    "https://erp.internal/hook",
    "https://user:pw@hooks.partner.example.com/",
    "ftp://hooks.partner.example.com/",
])
def test_an_endpoint_url_the_ssrf_rule_refuses_is_not_registered(uow, url):
    register(uow, "QuoteApproved")

    with pytest.raises(InvalidInput) as refused:
        add_endpoint(uow, url=url)

    assert "url" in refused.value.detail["fields"]
    assert uow.registry.endpoint_rows == {} and uow.registry.secret_rows == []


def test_private_and_http_endpoints_are_allowed_only_when_private_endpoints_are(uow):
    register(uow, "QuoteApproved")

    made = add_endpoint(uow, url="http://127.0.0.1:8080/hook", options=LOCAL)

    assert made["url"] == "http://127.0.0.1:8080/hook"
    with pytest.raises(InvalidInput):
        add_endpoint(uow, url="ftp://127.0.0.1/hook", options=LOCAL)  # still a URL to call


def test_an_endpoint_of_an_unknown_partner_is_not_found(uow):
    with pytest.raises(NotFound):
        add_endpoint(uow, "ptn_nobody")


def test_an_endpoint_takes_only_types_its_partner_may_be_given(uow):
    register(uow, "QuoteApproved")
    with pytest.raises(InvalidInput):
        add_endpoint(uow, types=["ConsentExpressed"])


# -- what an event becomes ---------------------------------------------------------------------


def test_an_event_becomes_one_feed_message_and_a_pending_delivery_per_active_endpoint(uow):
    register(uow, "QuoteApproved")
    first = add_endpoint(uow)
    second = add_endpoint(uow, url="https://backup.partner.example.com/hook")
    event = example(events.QuoteApproved)

    assert use_cases.receive(uow, event, now=NOW) == 2

    assert len(uow.outbound.message_rows) == 1
    assert {d["endpoint_id"] for d in rows(uow)} == {first["endpoint_id"],
                                                     second["endpoint_id"]}
    for made in rows(uow):
        assert (made["status"], made["attempts"], made["next_attempt_at"]) == (P, 0, NOW)
        assert made["event_id"] == event["id"]
        assert made["subject_key"] == f"dealer/D001/workorder|{RO}"
    assert uow.outbound.locked  # the outbound lock, taken before any row


def test_the_same_event_arriving_twice_makes_nothing_the_second_time(uow):
    shop(uow, "QuoteApproved")
    event = example(events.QuoteApproved)

    use_cases.receive(uow, event, now=NOW)
    assert use_cases.receive(uow, event, now=NOW + timedelta(seconds=1)) == 0

    assert len(uow.outbound.message_rows) == 1 and len(rows(uow)) == 1


def test_a_partner_not_entitled_to_the_event_type_gets_neither_message_nor_delivery(uow):
    shop(uow, "VehicleDelivered")

    assert use_cases.receive(uow, example(events.QuoteApproved), now=NOW) == 0
    assert uow.outbound.message_rows == {} and rows(uow) == []


def test_an_endpoint_with_its_own_types_gets_only_those_the_feed_gets_every_entitled(uow):
    register(uow, "QuoteApproved", "VehicleDelivered")
    quotes = add_endpoint(uow, types=["QuoteApproved"])
    everything = add_endpoint(uow, url="https://all.partner.example.com/hook")

    use_cases.receive(uow, example(events.VehicleDelivered), now=NOW)

    assert len(uow.outbound.message_rows) == 1
    assert rows(uow, quotes["endpoint_id"]) == []
    assert len(rows(uow, everything["endpoint_id"])) == 1


def test_a_disabled_endpoint_and_a_deactivated_partner_get_no_delivery(uow):
    endpoint = shop(uow, "QuoteApproved")
    switch_off(uow, endpoint["endpoint_id"])
    register(uow, "QuoteApproved", partner_id="ptn_b")
    add_endpoint(uow, "ptn_b")
    use_cases.set_active(uow, "ptn_b", False, now=NOW)

    assert use_cases.receive(uow, example(events.QuoteApproved), now=NOW) == 0

    # the disabled endpoint's partner still has it in its feed; the deactivated one has not
    assert [m["partner_id"] for m in uow.outbound.message_rows.values()] == ["ptn_a"]


@pytest.mark.parametrize(("dealers", "dealer", "entitled"), [
    (["D001"], "D001", True),
    (["D002"], "D001", False),
    (None, "D007", True),  # no dealers and no regions: every dealer
])
def test_a_partner_limited_to_dealers_gets_only_their_events(uow, dealers, dealer, entitled):
    shop(uow, "QuoteApproved", dealers=dealers)
    event = example(events.QuoteApproved, dealer=dealer,
                    subject=f"RO-{dealer}-20250318-0042")

    assert use_cases.receive(uow, event, now=NOW) == (1 if entitled else 0)


def test_a_partner_limited_to_regions_gets_the_events_of_dealers_in_them(uow):
    shop(uow, "QuoteApproved", regions=["EAST"])
    use_cases.put_region(uow, "D001", "EAST", now=NOW)
    use_cases.put_region(uow, "D002", "WEST", now=NOW)

    made = [use_cases.receive(uow, example(events.QuoteApproved, dealer=dealer,
                                           subject=f"RO-{dealer}-20250318-0042"), now=NOW)
            for dealer in ("D001", "D002", "D003")]

    assert made == [1, 0, 0]  # D003 has no region: not in EAST


def test_headquarters_events_reach_a_partner_whatever_its_dealers(uow):
    shop(uow, "RecallCampaignPublished", dealers=["D002"])

    assert use_cases.receive(uow, example(events.RecallCampaignPublished), now=NOW) == 1


def test_a_partner_limited_to_its_vehicles_gets_only_the_events_of_its_vins(uow):
    shop(uow, "QuoteApproved", all_vehicles=False, vins=[VIN])

    mine = use_cases.receive(uow, example(events.QuoteApproved, vin=VIN), now=NOW)
    other = use_cases.receive(uow, example(events.QuoteApproved, vin=OTHER_VIN,
                                           customer_id="someone-else",
                                           subject="RO-D001-20250318-0043"), now=NOW)

    assert (mine, other) == (1, 0)


def test_an_event_not_naming_the_car_is_known_by_what_earlier_events_said(uow):
    shop(uow, "RepairOrderOpened", "QualityCheckCompleted", all_vehicles=False, vins=[VIN])
    use_cases.receive(uow, example(events.RepairOrderOpened), now=NOW)  # RO, owner, VIN

    checked = example(events.QualityCheckCompleted, sequence=5)
    assert "vin" not in checked["data"]
    assert use_cases.receive(uow, checked, now=NOW) == 1


def consent(uow: FakePartnersUnitOfWork, partner_id: str, granted: bool = True, *,
            at: datetime = NOW, customer_id: str = OWNER) -> int:
    return use_cases.consent_changed(uow, {"data": {
        "customer_id": customer_id, "aliases": [], "purpose": f"partner:{partner_id}",
        "channels": ["APP"], "granted": granted, "changed_at": at.isoformat()}})


def test_an_owners_consent_lets_a_partner_limited_to_its_vehicles_have_the_owners_car(uow):
    shop(uow, "QuoteApproved", all_vehicles=False, vins=[])
    consent(uow, "ptn_a")

    assert use_cases.receive(uow, example(events.QuoteApproved), now=NOW) == 1


def test_without_consent_a_partner_sees_no_personal_field(uow):
    shop(uow, "QuoteApproved", "AppointmentBooked")

    use_cases.receive(uow, example(events.QuoteApproved), now=NOW)
    use_cases.receive(uow, example(events.AppointmentBooked), now=NOW)

    quote, booked = (shown(uow, d)["data"] for d in rows(uow))
    assert "customer_id" not in quote and "signed_by" not in quote
    assert quote["vin"] == VIN and quote["approved_total"] == "1699.00"
    assert "customer" not in booked and "plate" not in booked["vehicle"]


def test_with_the_owners_consent_to_that_partner_it_sees_them_and_no_other_partner_does(uow):
    register(uow, "QuoteApproved")
    trusted = add_endpoint(uow)
    register(uow, "QuoteApproved", partner_id="ptn_b")
    other = add_endpoint(uow, "ptn_b")
    consent(uow, "ptn_a")

    use_cases.receive(uow, example(events.QuoteApproved), now=NOW)

    assert shown(uow, rows(uow, trusted["endpoint_id"])[0])["data"]["customer_id"] == OWNER
    assert "customer_id" not in shown(uow, rows(uow, other["endpoint_id"])[0])["data"]


def test_a_withdrawn_consent_redacts_again_and_an_older_change_does_not_undo_it(uow):
    shop(uow, "QuoteApproved")
    consent(uow, "ptn_a", at=NOW - timedelta(hours=2))
    assert consent(uow, "ptn_a", False, at=NOW - timedelta(hours=1)) == 1
    assert consent(uow, "ptn_a", True, at=NOW - timedelta(hours=2)) == 0  # arrives late

    use_cases.receive(uow, example(events.QuoteApproved), now=NOW)

    assert "customer_id" not in shown(uow, rows(uow)[0])["data"]


def test_a_consent_to_anything_but_a_partner_is_not_partners_business(uow):
    assert use_cases.consent_changed(uow, {"data": {
        "customer_id": OWNER, "purpose": "MARKETING", "granted": True,
        "changed_at": NOW.isoformat()}}) == 0
    assert uow.facts.consent_rows == {}


def test_the_owners_credentials_are_never_passed_on_even_with_consent(uow):
    shop(uow, "SurveyRequested")
    consent(uow, "ptn_a")

    use_cases.receive(uow, example(events.SurveyRequested), now=NOW)

    data = shown(uow, rows(uow)[0])["data"]
    assert data["customer_id"] == OWNER
    assert "link_token" not in data


# -- order per subject --------------------------------------------------------------------------


def test_a_later_event_of_a_subject_waits_behind_the_earlier_one(uow):
    shop(uow, "QuoteApproved")

    for sequence in (1, 2, 3):
        use_cases.receive(uow, example(events.QuoteApproved, sequence=sequence), now=NOW)

    assert statuses(uow) == [P, W, W]


def test_an_earlier_event_arriving_late_goes_first_and_the_pending_one_waits_behind_it(uow):
    shop(uow, "QuoteApproved")

    use_cases.receive(uow, example(events.QuoteApproved, sequence=2), now=NOW)
    use_cases.receive(uow, example(events.QuoteApproved, sequence=1), now=NOW)

    assert [(d["sequence"], d["status"]) for d in rows(uow)] == [(2, W), (1, P)]


def test_an_earlier_event_arriving_after_a_later_one_is_on_its_way_goes_after_it(uow):
    shop(uow, "QuoteApproved")
    use_cases.receive(uow, example(events.QuoteApproved, sequence=2), now=NOW)
    tick(uow)  # sequence 2 is being sent: it cannot be called back

    use_cases.receive(uow, example(events.QuoteApproved, sequence=1), now=NOW)

    assert [(d["sequence"], d["status"]) for d in rows(uow)] == [(2, S), (1, W)]


# -- the dispatcher's pick ----------------------------------------------------------------------


def test_the_dispatcher_takes_a_due_delivery_with_a_lease_and_the_signing_secret(uow):
    endpoint = shop(uow, "QuoteApproved")
    event = example(events.QuoteApproved)
    use_cases.receive(uow, event, now=NOW)

    run = tick(uow)

    [job] = run.jobs
    made = rows(uow)[0]
    assert (made["status"], made["attempts"]) == (S, 1)
    assert made["lease_until"] == NOW + OPTIONS.lease
    assert (job.attempt, job.url, job.message_id) == (1, URL, event["id"])
    assert job.secrets == (endpoint["secret"],)
    assert json.loads(job.body) == shown(uow, made)
    assert run.as_dict()["sent"] == 1


def test_only_the_first_of_a_subject_is_taken_the_next_once_it_is_settled(uow):
    shop(uow, "QuoteApproved")
    for sequence in (1, 2):
        use_cases.receive(uow, example(events.QuoteApproved, sequence=sequence), now=NOW)

    first = tick(uow).jobs
    assert [rows(uow)[0]["delivery_id"]] == [j.delivery_id for j in first]
    assert tick(uow).jobs == []  # sequence 2 waits while 1 is on its way

    later = NOW + timedelta(seconds=1)
    second = tick(uow, answer(first[0], 200, at=later), now=later).jobs

    assert statuses(uow) == [DELIVERED, S]
    assert [j.delivery_id for j in second] == [rows(uow)[1]["delivery_id"]]


def test_a_failing_subject_does_not_hold_up_another_subject(uow):
    shop(uow, "QuoteApproved")
    use_cases.receive(uow, example(events.QuoteApproved, subject="RO-D001-20250318-0001"),
                      now=NOW)
    use_cases.receive(uow, example(events.QuoteApproved, subject="RO-D001-20250318-0002"),
                      now=NOW)

    assert len(tick(uow).jobs) == 2


def test_a_delivery_not_yet_due_or_to_a_disabled_endpoint_is_not_taken(uow):
    endpoint = shop(uow, "QuoteApproved")
    use_cases.receive(uow, example(events.QuoteApproved), now=NOW + timedelta(minutes=1))
    assert tick(uow).jobs == []

    switch_off(uow, endpoint["endpoint_id"])
    assert tick(uow, now=NOW + timedelta(minutes=2)).jobs == []
    assert statuses(uow) == [P]


def test_the_dispatcher_takes_no_more_than_it_has_room_for_oldest_due_first(uow):
    shop(uow, "QuoteApproved")
    for n in range(3):
        use_cases.receive(uow, example(events.QuoteApproved,
                                       subject=f"RO-D001-20250318-000{n}"),
                          now=NOW - timedelta(seconds=3 - n))

    assert [j.delivery_id for j in tick(uow, room=2).jobs] == [1, 2]
    assert tick(uow, room=0).jobs == []
    assert [j.delivery_id for j in tick(uow, room=5).jobs] == [3]


def test_an_endpoint_is_called_no_faster_than_its_rate_limit(uow):
    slow = replace(OPTIONS, rate_per_second=1.0, rate_burst=2.0)
    shop(uow, "QuoteApproved", options=slow)
    for n in range(5):
        use_cases.receive(uow, example(events.QuoteApproved,
                                       subject=f"RO-D001-20250318-000{n}"), now=NOW)

    assert len(tick(uow, options=slow).jobs) == 2  # the burst
    held = [d for d in rows(uow) if d["status"] == P]
    assert len(held) == 3
    assert {d["next_attempt_at"] for d in held} == {NOW + timedelta(seconds=1)}

    assert tick(uow, now=NOW + timedelta(seconds=0.5), options=slow).jobs == []
    assert len(tick(uow, now=NOW + timedelta(seconds=1), options=slow).jobs) == 1


def test_a_delivery_whose_dispatcher_stopped_is_taken_back_once_its_lease_ends(uow):
    shop(uow, "QuoteApproved")
    use_cases.receive(uow, example(events.QuoteApproved), now=NOW)
    [lost] = tick(uow).jobs

    assert tick(uow, now=NOW + OPTIONS.lease).jobs == []  # the lease still holds
    later = NOW + OPTIONS.lease + timedelta(seconds=1)
    [again] = tick(uow, now=later).jobs
    assert again.attempt == 2

    tick(uow, answer(lost, 200, at=later), now=later)  # the first answer arrives late
    assert statuses(uow) == [S]  # the later attempt decides
    assert [a["attempt"] for a in uow.outbound.attempts(lost.delivery_id)] == [1]


def test_while_a_rotation_overlaps_both_secrets_sign_then_only_the_new_one(uow):
    endpoint = shop(uow, "QuoteApproved")
    rotated = use_cases.rotate_secret(uow, OPTIONS, endpoint["endpoint_id"], overlap_hours=1,
                                      random_bytes=bytes(range(1, 33)),
                                      now=NOW + timedelta(minutes=1))
    use_cases.receive(uow, example(events.QuoteApproved, sequence=1), now=NOW)
    use_cases.receive(uow, example(events.QuoteApproved, sequence=2,
                                   subject="RO-D001-20250318-0002"),
                      now=NOW + timedelta(hours=2))

    [during] = tick(uow, now=NOW + timedelta(minutes=30)).jobs
    [after] = tick(uow, answer(during, 200, at=NOW + timedelta(minutes=30)),
                   now=NOW + timedelta(hours=2)).jobs

    assert rotated["previous_secrets_expire_at"] == NOW + timedelta(hours=1, minutes=1)
    assert during.secrets == (rotated["secret"], endpoint["secret"])  # newest first
    assert after.secrets == (rotated["secret"],)


# -- recording an answer ----------------------------------------------------------------------


def sent(uow: FakePartnersUnitOfWork, *types: str, **entitlements: Any) -> tuple[dict, Job]:
    """A partner's endpoint with one delivery on its way: (the endpoint, its job)."""
    endpoint = shop(uow, *(types or ("QuoteApproved",)), **entitlements)
    use_cases.receive(uow, example(events.QuoteApproved), now=NOW)
    [job] = tick(uow).jobs
    return endpoint, job


def test_a_2xx_answer_delivers_and_ends_the_endpoints_failing_spell(uow):
    endpoint, job = sent(uow)
    uow.registry.save_endpoint(endpoint["endpoint_id"], failing_since=NOW - timedelta(hours=1))
    later = NOW + timedelta(seconds=2)

    run = tick(uow, answer(job, 204, at=later), now=later)

    made = rows(uow)[0]
    assert (made["status"], made["delivered_at"], made["settled_at"]) == (DELIVERED, later,
                                                                          later)
    assert (made["last_status_code"], made["lease_until"]) == (204, None)
    assert uow.registry.endpoint_rows[endpoint["endpoint_id"]]["failing_since"] is None
    assert [(a["attempt"], a["outcome"]) for a in uow.outbound.attempts(job.delivery_id)] == [
        (1, "delivered")]
    assert run.as_dict()["delivered"] == 1


@pytest.mark.parametrize(("status_code", "error"), [(503, None), (302, None), (400, None),
                                                    (None, "timeout after 15 s")])
def test_a_failed_attempt_is_tried_again_at_the_schedule(uow, status_code, error):
    endpoint, job = sent(uow)
    later = NOW + timedelta(seconds=2)

    run = tick(uow, answer(job, status_code, at=later, error=error), now=later)

    made = rows(uow)[0]
    assert made["status"] == P
    assert made["next_attempt_at"] == later + timedelta(seconds=DEFAULT_RETRY_SECONDS[0])
    assert (made["last_status_code"], made["last_error"]) == (status_code, error)
    assert uow.registry.endpoint_rows[endpoint["endpoint_id"]]["failing_since"] == later
    assert run.jobs == []  # not due yet
    assert run.as_dict()["retrying"] == 1


def test_a_delivery_that_always_fails_is_tried_eight_times_at_the_schedule_then_failed(uow):
    shop(uow, "QuoteApproved")
    use_cases.receive(uow, example(events.QuoteApproved, sequence=1), now=NOW)
    use_cases.receive(uow, example(events.QuoteApproved, sequence=2), now=NOW)
    at, started, run = NOW, [], tick(uow)
    while run.jobs:
        [job] = run.jobs
        started.append(at)
        run = tick(uow, answer(job, 500, at=at), now=at)
        if not run.jobs and rows(uow)[0]["status"] == P:
            at = rows(uow)[0]["next_attempt_at"]
            run = tick(uow, now=at)
        if rows(uow)[0]["status"] == FAILED:
            break

    waits = [(b - a).total_seconds() for a, b in zip(started, started[1:], strict=False)]
    assert len(started) == OPTIONS.retry.attempts == 8
    assert tuple(waits) == DEFAULT_RETRY_SECONDS
    assert rows(uow)[0]["status"] == FAILED and rows(uow)[0]["settled_at"] == at
    assert rows(uow)[1]["status"] == S  # the next of the subject went out behind it
    assert run.as_dict()["exhausted"] == 1


def test_a_410_answer_fails_the_delivery_and_disables_the_endpoint_telling_the_partner(uow):
    endpoint, job = sent(uow)
    use_cases.receive(uow, example(events.QuoteApproved, sequence=2), now=NOW)

    run = tick(uow, answer(job, 410))

    assert statuses(uow) == [FAILED, P]  # the next is in line, but not sent to it
    assert run.jobs == [] and run.disabled == [("ptn_a", endpoint["endpoint_id"])]
    stored = uow.registry.endpoint_rows[endpoint["endpoint_id"]]
    assert (stored["status"], stored["disabled_because"], stored["disabled_at"]) == (
        EndpointStatus.DISABLED.value, DisabledBecause.GONE.value, NOW)
    [notice] = use_cases.notices(uow, client_id="cli_ptn_a")
    assert notice["kind"] == "ENDPOINT_DISABLED_GONE" and URL in notice["text"]
    announced = getattr(events, "PartnerEndpointDisabled", None)
    assert uow.events.types() == ([announced.type] if announced else [])


def test_an_endpoint_failing_every_attempt_for_five_days_is_disabled(uow):
    endpoint, job = sent(uow)
    uow.registry.save_endpoint(endpoint["endpoint_id"],
                               failing_since=NOW - OPTIONS.disable_after)

    run = tick(uow, answer(job, 500))

    stored = uow.registry.endpoint_rows[endpoint["endpoint_id"]]
    assert (stored["status"], stored["disabled_because"]) == (
        EndpointStatus.DISABLED.value, DisabledBecause.FAILING.value)
    assert run.disabled == [("ptn_a", endpoint["endpoint_id"])]
    assert statuses(uow) == [P]  # kept for a replay once it is enabled again
    assert use_cases.notices(uow, client_id="cli_ptn_a")[0]["kind"] == (
        "ENDPOINT_DISABLED_FAILING")


def test_an_operator_disables_an_endpoint_and_its_partner_is_told(uow):
    endpoint = shop(uow, "QuoteApproved")

    found = use_cases.disable_endpoint(uow, endpoint["endpoint_id"], now=NOW)

    assert (found["status"], found["disabled_because"]) == (EndpointStatus.DISABLED.value,
                                                            DisabledBecause.OPERATOR.value)
    [notice] = use_cases.notices(uow, client_id="cli_ptn_a")
    assert notice["kind"] == "ENDPOINT_DISABLED_OPERATOR"
    assert uow.emitted == []  # the operator's decision is the operator's to announce


def test_an_enabled_endpoint_gets_what_waited_for_it(uow):
    endpoint, job = sent(uow)
    tick(uow, answer(job, 503))
    switch_off(uow, endpoint["endpoint_id"])
    later = NOW + timedelta(minutes=1)
    assert tick(uow, now=later).jobs == []

    use_cases.enable_endpoint(uow, endpoint["endpoint_id"], now=later)

    assert len(tick(uow, now=later).jobs) == 1


# -- replays --------------------------------------------------------------------------------------


def delivered(uow: FakePartnersUnitOfWork, *, at: datetime, **changes: Any) -> int:
    """An event received at `at` and delivered at once: its delivery id."""
    use_cases.receive(uow, example(events.QuoteApproved, **changes), now=at)
    [job] = tick(uow, now=at).jobs
    tick(uow, answer(job, 200, at=at), now=at, room=0)
    return job.delivery_id


def test_a_replay_of_a_range_puts_back_the_deliveries_of_events_that_arrived_in_it(uow):
    endpoint = shop(uow, "QuoteApproved")
    before, inside, edge = (delivered(uow, at=NOW + timedelta(hours=h),
                                      subject=f"RO-D001-20250318-000{h}") for h in (0, 1, 2))

    put_back = use_cases.replay(uow, endpoint["endpoint_id"],
                                start=NOW + timedelta(minutes=30), end=NOW + timedelta(hours=2),
                                now=NOW + timedelta(hours=3))

    assert put_back == [inside]
    again = uow.outbound.delivery_rows[inside]
    assert (again["status"], again["attempts"], again["next_attempt_at"]) == (
        P, 0, NOW + timedelta(hours=3))
    assert again["delivered_at"] is None and again["settled_at"] is None
    assert {uow.outbound.delivery_rows[d]["status"] for d in (before, edge)} == {DELIVERED}


def test_replayed_deliveries_of_a_subject_go_back_in_sequence_order(uow):
    endpoint = shop(uow, "QuoteApproved")
    for sequence in (1, 2, 3):
        delivered(uow, at=NOW, sequence=sequence)

    use_cases.replay(uow, endpoint["endpoint_id"], start=NOW, end=NOW + timedelta(hours=1),
                     now=NOW)

    assert [(d["sequence"], d["status"]) for d in rows(uow)] == [(1, P), (2, W), (3, W)]


def test_a_replay_of_failures_puts_back_the_failed_ones_only(uow):
    endpoint = shop(uow, "QuoteApproved")
    fine = delivered(uow, at=NOW, subject="RO-D001-20250318-0001")
    use_cases.receive(uow, example(events.QuoteApproved, subject="RO-D001-20250318-0002"),
                      now=NOW)
    [job] = tick(uow).jobs
    uow.outbound.update([job.delivery_id], attempts=OPTIONS.retry.attempts)
    tick(uow, replace(answer(job, 500), attempt=OPTIONS.retry.attempts), room=0)
    assert uow.outbound.delivery_rows[job.delivery_id]["status"] == FAILED

    put_back = use_cases.replay(uow, endpoint["endpoint_id"],
                                failed_since=NOW - timedelta(days=1), now=NOW)

    assert put_back == [job.delivery_id]
    assert uow.outbound.delivery_rows[fine]["status"] == DELIVERED


def test_a_replay_of_one_event_and_what_a_replay_refuses(uow):
    endpoint = shop(uow, "QuoteApproved")
    one = delivered(uow, at=NOW)
    endpoint_id = endpoint["endpoint_id"]
    event_id = uow.outbound.delivery_rows[one]["event_id"]

    assert use_cases.replay(uow, endpoint_id, event_id=event_id, now=NOW) == [one]
    with pytest.raises(NotFound):  # still in line: nothing settled to replay
        use_cases.replay(uow, endpoint_id, event_id=event_id, now=NOW)
    with pytest.raises(InvalidInput):
        use_cases.replay(uow, endpoint_id, now=NOW)
    with pytest.raises(InvalidInput):
        use_cases.replay(uow, endpoint_id, event_id=event_id, failed_since=NOW, now=NOW)
    with pytest.raises(InvalidInput):
        use_cases.replay(uow, endpoint_id, start=NOW, end=NOW, now=NOW)
    switch_off(uow, endpoint_id)
    with pytest.raises(Conflict):
        use_cases.replay(uow, endpoint_id, start=NOW, now=NOW)


# -- the feed -------------------------------------------------------------------------------------


def test_the_feed_pages_by_cursor_in_arrival_order(uow):
    register(uow, "QuoteApproved", "VehicleDelivered", "PartIssued")
    sent_events = [example(events.QuoteApproved), example(events.PartIssued),
                   example(events.VehicleDelivered)]
    for event in sent_events:
        use_cases.receive(uow, event, now=NOW)

    first = use_cases.feed(uow, OPTIONS, client_id="cli_ptn_a", after=0, limit=2)
    second = use_cases.feed(uow, OPTIONS, client_id="cli_ptn_a", after=int(first["cursor"]),
                            limit=2)
    empty = use_cases.feed(uow, OPTIONS, client_id="cli_ptn_a", after=int(second["cursor"]),
                           limit=2)

    assert [e["id"] for e in first["events"] + second["events"]] == [
        e["id"] for e in sent_events]
    assert (first["count"], second["count"], empty["count"]) == (2, 1, 0)
    assert empty["cursor"] == second["cursor"]  # nothing new: ask after the same again
    assert "customer_id" not in first["events"][0]["data"]  # redacted as webhooks are


def test_the_feed_holds_the_partners_own_messages_as_its_webhooks_carry_them(uow):
    shop(uow, "QuoteApproved")
    register(uow, "QuoteApproved", partner_id="ptn_b")
    use_cases.receive(uow, example(events.QuoteApproved), now=NOW)
    [job] = tick(uow).jobs

    mine = use_cases.feed(uow, OPTIONS, client_id="cli_ptn_a", after=0, limit=10)["events"]
    theirs = use_cases.feed(uow, OPTIONS, client_id="cli_ptn_b", after=0, limit=10)["events"]

    assert mine == [json.loads(job.body)]
    assert len(theirs) == 1 and theirs[0]["id"] == mine[0]["id"]
    assert use_cases.feed(uow, OPTIONS, client_id="cli_ptn_b", after=int(
        use_cases.feed(uow, OPTIONS, client_id="cli_ptn_b", after=0, limit=1)["cursor"]),
        limit=10)["count"] == 0


def test_a_feed_page_is_no_longer_than_the_configured_maximum(uow):
    register(uow, "QuoteApproved")
    for n in range(3):
        use_cases.receive(uow, example(events.QuoteApproved,
                                       subject=f"RO-D001-20250318-000{n}"), now=NOW)

    page = use_cases.feed(uow, replace(OPTIONS, feed_limit_max=2), client_id="cli_ptn_a",
                          after=0, limit=500)

    assert page["count"] == 2


def test_the_feed_is_refused_to_an_unknown_client_and_a_deactivated_partner(uow):
    register(uow, "QuoteApproved")
    with pytest.raises(NotFound):
        use_cases.feed(uow, OPTIONS, client_id="cli_nobody", after=0, limit=10)

    use_cases.set_active(uow, "ptn_a", False, now=NOW)
    with pytest.raises(Forbidden):
        use_cases.feed(uow, OPTIONS, client_id="cli_ptn_a", after=0, limit=10)


def test_every_shared_type_example_is_accepted_and_redacted_without_consent(uow):
    """The fake unit of work takes every event type a partner may be given."""
    shop(uow, *sorted(use_cases.SHARED_TYPES))
    for event_type in sorted(use_cases.SHARED_TYPES):
        use_cases.receive(uow, example(contract_for(event_type)), now=NOW)

    assert len(rows(uow)) == len(use_cases.SHARED_TYPES)
