"""crm refuses to start without its keys, and documents its API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chassis.config import ConfigError
from chassis.testing import (
    AMQP,
    POSTGRES,
    make_settings,
    service_database,
    trust_setting,
    wait_for,
)
from crm.service import CrmService
from services.crm.tests.integration.crm_hq import BLIND_INDEX_KEY, CRM_EXTRA, booked

SURVEY_LINK_SECRET = "a-survey-link-secret-for-tests-0123456789"


@pytest.mark.parametrize("extra, named", [
    ({"crm_blind_index_key": BLIND_INDEX_KEY}, "crm_encryption_key: missing"),
    ({**CRM_EXTRA, "crm_encryption_key": "0123"}, "crm_encryption_key: not a Fernet key"),
    ({**CRM_EXTRA, "crm_survey_delay_hours": "soon"}, "crm_survey_delay_hours"),
])
def test_a_missing_or_malformed_key_stops_the_start(database, amqp_uri, services, extra,
                                                     named) -> None:
    # In production: a development machine would stand in for a missing key.
    settings = make_settings("crm", service_database(database, CrmService), amqp_uri,
                             dealer_code="HQ", environment="production",
                             extra={**extra, "survey_link_secret": SURVEY_LINK_SECRET})
    with pytest.raises(ConfigError, match=f"^{named}"):
        services(CrmService, settings)


@pytest.mark.parametrize("extra, line", [
    ({"crm_blind_index_key": BLIND_INDEX_KEY},
     "crm_encryption_key: missing (a Fernet key, e.g. from "
     "cryptography.fernet.Fernet.generate_key())"),
    ({**CRM_EXTRA, "crm_encryption_key": "0123"},
     "crm_encryption_key: not a Fernet key (32 bytes, url-safe base64)"),
    ({**CRM_EXTRA, "crm_blind_index_key": "short"},
     "crm_blind_index_key: must be at least 32 characters"),
])
def test_the_command_line_names_a_bad_key_in_one_line(tmp_path: Path, extra, line) -> None:
    # Nothing is reached: the keys are checked before any connection is made.
    config = {"dealer_code": "HQ", "amqp_uri": f"{AMQP}/nowhere",
              "trust": trust_setting("headquarters", "HQ"),
              "services": {"crm": {"database_url": f"{POSTGRES}/nowhere",
                                   "survey_link_secret": SURVEY_LINK_SECRET, **extra}}}
    path = tmp_path / "hq.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    command = Path(sys.executable).parent / "aftersales"
    done = subprocess.run([str(command), "--config", str(path), "run", "crm"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"aftersales: configuration error: {line}"]


def test_every_endpoint_is_in_the_api_document(crm) -> None:
    document = crm.get("/openapi.json", headers={}).json()
    assert {"/customers", "/customers/{customer_id}", "/reminder-runs", "/due-list",
            "/campaigns", "/surveys/{token}", "/complaints"} <= set(document["paths"])


def test_the_resident_id_number_is_kept_encrypted(crm, sites) -> None:
    sites.publish(booked("D001", "APT-1", "c-1"))
    wait_for(lambda: crm.inbox() == 1, message="the booking applied")
    assert crm.put("/customers/c-1/identity", {"id_number": "11010519491231002X"}
                   ).status_code == 204
    assert crm.put("/customers/c-1/identity", {"id_number": "123"}).status_code == 422
    assert crm.put("/customers/nobody/identity", {"id_number": "11010519491231002X"}
                   ).status_code == 404
    assert crm.count("SELECT count(*) FROM customers WHERE id_number_enc LIKE '%1101%'") == 0
    assert crm.count("SELECT count(*) FROM customers WHERE id_number_index IS NOT NULL") == 1
