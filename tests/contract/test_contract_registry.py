"""The public face of the contract package: names, types, routing, lookups."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys

import pytest

import contracts
from contracts import CONTRACTS, ContractViolation, EventContract, contract_for, events

CORE_EVENTS = {
    "AppointmentBooked": "booking",
    "AppointmentRescheduled": "booking",
    "AppointmentCancelled": "booking",
    "AppointmentNoShow": "booking",
    "AppointmentCheckedIn": "booking",
    "RepairOrderOpened": "workorder",
    "InspectionUploaded": "workorder",
    "QuoteApproved": "workorder",
    "QualityCheckCompleted": "workorder",
    "VehicleDelivered": "workorder",
    "PartIssued": "parts",
    "PartReserved": "parts",
    "StockLow": "parts",
    "ReminderDue": "crm",
    "SurveyAnswered": "crm",
}


def test_every_core_event_is_published_by_its_service():
    for name, producer in CORE_EVENTS.items():
        contract = getattr(events, name)
        assert isinstance(contract, EventContract)
        assert (contract.name, contract.version, contract.producer) == (name, 1, producer)


def test_registry_is_keyed_by_cloudevents_type():
    assert set(CONTRACTS) == {c.type for c in events.ALL}
    for type_, contract in CONTRACTS.items():
        assert CONTRACTS[type_] is contract


def test_derived_names_follow_the_conventions():
    c = events.AppointmentBooked
    assert c.type == "aftersales.AppointmentBooked.v1"
    assert c.exchange == "booking.events"
    assert c.dataschema == "urn:aftersales:schema:AppointmentBooked:v1"
    assert c.schema_file == "schemas/AppointmentBooked.v1.json"
    assert c.example_file == "examples/AppointmentBooked.v1.json"
    assert events.ReminderDue.exchange == "crm.events"


def test_contracts_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        events.QuoteApproved.version = 2  # type: ignore[misc]


def test_contract_for_accepts_a_type_or_a_name():
    assert contract_for("aftersales.QuoteApproved.v1") is events.QuoteApproved
    assert contract_for("QuoteApproved") is events.QuoteApproved


def test_contract_for_a_name_gives_the_latest_major(monkeypatch):
    v2 = dataclasses.replace(events.QuoteApproved, version=2)
    monkeypatch.setitem(CONTRACTS, v2.type, v2)
    assert contract_for("QuoteApproved") is v2
    assert contract_for("aftersales.QuoteApproved.v1") is events.QuoteApproved


@pytest.mark.parametrize("unknown", ["QuoteRejected", "aftersales.QuoteApproved.v9", "", None])
def test_contract_for_an_unknown_event_is_a_contract_violation(unknown):
    with pytest.raises(ContractViolation) as info:
        contract_for(unknown)
    assert "type" in info.value.errors


def test_contract_violation_is_a_value_error_that_survives_pickling():
    error = ContractViolation({"data.vin": ["Not a valid VIN."], "time": ["Naive timestamp."]})
    assert isinstance(error, ValueError)
    assert str(error) == "data.vin: Not a valid VIN.; time: Naive timestamp."
    copy = pickle.loads(pickle.dumps(error))
    assert copy.errors == error.errors and str(copy) == str(error)


def test_public_api_is_exported():
    assert set(contracts.__all__) == {
        "EventContract",
        "CONTRACTS",
        "contract_for",
        "new_event",
        "validate_event",
        "ContractViolation",
        "events",
        # Standard Webhooks, for the partners service and for partners (contracts.webhooks)
        "sign_webhook",
        "verify_webhook",
        "WebhookVerificationError",
    }


def test_importing_contracts_pulls_in_no_runtime_framework():
    # Third-party shops and every service import this package: it must stay light.
    code = (
        "import sys, contracts; "
        "heavy = {'nameko', 'kombu', 'sqlalchemy', 'eventlet', 'jsonschema', 'yaml'}; "
        "bad = heavy & set(sys.modules); "
        "print(','.join(sorted(bad)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
