"""An event's effect is applied exactly once; failures are retried, then dead-lettered, and
one bad message never holds up the rest."""

from __future__ import annotations

import json

from chassis.cli import main as aftersales
from chassis.deadletter import list_dead_letters, replay
from chassis.testing import trust_setting, wait_for
from tests.factories import booked_event
from tests.reliability import ledger
from tests.reliability.conftest import metric

DUPLICATES = "aftersales_inbox_duplicates_total"
RETRIES = "aftersales_handler_retries_total"
LABELS = {"service": "ledger", "entrypoint": "on_booked"}


def test_the_same_event_published_twice_has_one_effect(run_ledger):
    books = run_ledger()
    event = booked_event()
    duplicates_before = metric(DUPLICATES, **LABELS)

    books.publish(event)
    books.publish(event)

    wait_for(lambda: metric(DUPLICATES, **LABELS) == duplicates_before + 1,
             message="the second copy to be skipped")
    assert books.effects(event["data"]["appointment_id"]) == 1


def test_a_transient_failure_is_retried_and_then_succeeds(run_ledger):
    books = run_ledger()
    event = booked_event()
    ledger.FAILURES[event["data"]["appointment_id"]] = 2  # max_attempts is 3 in tests
    retries_before = metric(RETRIES, **LABELS)

    books.publish(event)

    wait_for(lambda: books.effects(event["data"]["appointment_id"]) == 1, message="the effect")
    assert metric(RETRIES, **LABELS) == retries_before + 2
    assert list_dead_letters(books.amqp_uri, "ledger") == []


def test_a_permanent_failure_is_dead_lettered_after_n_attempts_and_later_events_flow(run_ledger):
    books = run_ledger()
    poison, *later = [booked_event() for _ in range(4)]
    ledger.PERMANENT.add(poison["data"]["appointment_id"])

    for event in (poison, *later):
        books.publish(event)

    for event in later:
        wait_for(lambda e=event: books.effects(e["data"]["appointment_id"]) == 1,
                 message="later events to be applied")
    letters = wait_for(lambda: list_dead_letters(books.amqp_uri, "ledger"),
                       message="the dead letter")
    assert len(letters) == 1
    (letter,) = letters
    assert letter.message_id == poison["id"]
    assert letter.reason == "handler_failed"
    assert letter.attempts == 3
    assert "PermanentFault" in letter.detail
    assert letter.original_queue == "evt-booking-aftersales.AppointmentBooked.v1--ledger.on_booked"
    assert books.effects(poison["data"]["appointment_id"]) == 0  # every attempt rolled back


def test_garbage_and_contract_invalid_messages_go_straight_to_dead_letter(run_ledger):
    books = run_ledger()
    invalid = booked_event()
    invalid["data"]["vehicle"]["vin"] = "NOT-A-VIN"
    good = booked_event()

    books.publish(b"{this is not json", message_id="garbage-1")
    books.publish(b"[1, 2, 3]", message_id="garbage-2")
    books.publish(json.dumps(invalid).encode(), message_id=invalid["id"])
    books.publish(good)

    wait_for(lambda: books.effects(good["data"]["appointment_id"]) == 1,
             message="the good event behind the bad ones")
    letters = wait_for(lambda: (found := list_dead_letters(books.amqp_uri, "ledger"))
                       and len(found) == 3 and found, message="three dead letters")
    reasons = {letter.message_id: letter for letter in letters}
    assert reasons["garbage-1"].reason == "malformed"
    assert reasons["garbage-2"].reason == "malformed"
    assert reasons[invalid["id"]].reason == "contract_invalid"
    assert "data.vehicle.vin" in reasons[invalid["id"]].detail
    assert all(letter.attempts == 0 for letter in letters)  # not retried: retrying cannot help


def test_dead_letters_are_listed_shown_and_replayed_by_the_cli(run_ledger, monkeypatch, capsys):
    books = run_ledger()
    event = booked_event()
    appointment_id = event["data"]["appointment_id"]
    ledger.PERMANENT.add(appointment_id)
    books.publish(event)
    wait_for(lambda: list_dead_letters(books.amqp_uri, "ledger"), message="the dead letter")
    monkeypatch.setenv("AFTERSALES_DEALER_CODE", "D001")
    monkeypatch.setenv("AFTERSALES_AMQP_URI", books.amqp_uri)
    monkeypatch.setenv("AFTERSALES_DATABASE_URL", books.url)
    monkeypatch.setenv("AFTERSALES_TRUST", json.dumps(trust_setting("site", "D001")))

    assert aftersales(["deadletter", "list", "ledger"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["message_id"] for row in listed] == [event["id"]]
    assert aftersales(["deadletter", "show", "ledger", "--id", event["id"]]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["body"]["data"]["appointment_id"] == appointment_id

    ledger.PERMANENT.discard(appointment_id)  # the bug is fixed; replay
    assert aftersales(["deadletter", "replay", "ledger"]) == 0

    wait_for(lambda: books.effects(appointment_id) == 1, message="the replayed effect")
    assert list_dead_letters(books.amqp_uri, "ledger") == []
    assert replay(books.amqp_uri, "ledger") == 0
