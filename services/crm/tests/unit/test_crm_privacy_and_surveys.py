"""Personal data at rest, blind indexes, survey links and when a low score opens a complaint."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from cryptography.fernet import Fernet

from chassis.config import ConfigError, Settings, load_settings
from chassis.registry import HEADQUARTERS
from crm.domain import surveys
from crm.privacy import Vault, development_keys, mask_phone, normalise_phone, vault_from_settings

KEY = Fernet.generate_key().decode()
INDEX_KEY = "blind-index-key-for-tests-0123456789"


def crm_settings(extra: dict, environment: str = "production") -> Settings:
    return Settings(service="crm", dealer_code="HQ", database_url="sqlite://",
                    amqp_uri="memory://", stack=HEADQUARTERS, environment=environment,
                    extra=extra)


def test_phone_is_encrypted_and_found_by_its_blind_index_in_any_spelling() -> None:
    vault = Vault(KEY, INDEX_KEY)
    stored = vault.encrypt("13812345678")
    assert "13812345678" not in stored
    assert vault.decrypt(stored) == "13812345678"
    assert vault.phone_index("+86 138-1234-5678") == vault.phone_index("13812345678")
    assert vault.phone_index("13812345679") != vault.phone_index("13812345678")


def test_another_index_key_gives_other_indexes() -> None:
    assert Vault(KEY, INDEX_KEY).phone_index("13812345678") != \
        Vault(KEY, INDEX_KEY + "x").phone_index("13812345678")


def test_numbers_normalise_and_mask() -> None:
    assert normalise_phone("0086 138 1234 5678") == "13812345678"
    assert mask_phone("13812345678") == "138****5678"


@pytest.mark.parametrize("extra, named", [
    ({}, "crm_encryption_key: missing"),
    ({"crm_encryption_key": "not-a-key", "crm_blind_index_key": INDEX_KEY},
     "crm_encryption_key: not a Fernet key"),
    ({"crm_encryption_key": KEY}, "crm_blind_index_key: missing"),
    ({"crm_encryption_key": KEY, "crm_blind_index_key": "short"}, "crm_blind_index_key"),
    ({"crm_encryption_key": KEY, "crm_blind_index_key": KEY}, "crm_blind_index_key: must differ"),
    ({"crm_encryption_key": development_keys()[0], "crm_blind_index_key": INDEX_KEY},
     "crm_encryption_key: the published development key"),
    ({"crm_encryption_key": KEY, "crm_blind_index_key": development_keys()[1]},
     "crm_blind_index_key: the published development key"),
    ({"crm_encryption_key_file": "/nonexistent/crm_encryption_key"},
     "crm_encryption_key_file: cannot read /nonexistent/crm_encryption_key"),
])
def test_a_missing_or_malformed_key_is_one_line_naming_it(extra: dict, named: str) -> None:
    with pytest.raises(ConfigError) as refused:
        vault_from_settings(crm_settings(extra))
    assert str(refused.value).startswith(named)
    assert "\n" not in str(refused.value)


def test_the_keys_come_from_files_a_secret_store_mounts(tmp_path) -> None:
    (tmp_path / "key").write_text(KEY + "\n", encoding="utf-8")
    (tmp_path / "index").write_text(INDEX_KEY, encoding="utf-8")
    vault = vault_from_settings(crm_settings({"crm_encryption_key_file": str(tmp_path / "key"),
                                              "crm_blind_index_key_file": str(tmp_path / "index")}))
    assert Vault(KEY, INDEX_KEY).decrypt(vault.encrypt("13812345678")) == "13812345678"
    assert vault.phone_index("13812345678") == Vault(KEY, INDEX_KEY).phone_index("13812345678")


def test_the_keys_and_their_files_come_from_the_environment(tmp_path) -> None:
    (tmp_path / "key").write_text(KEY, encoding="utf-8")
    env = {"AFTERSALES_DEALER_CODE": "HQ", "AFTERSALES_AMQP_URI": "memory://",
           "AFTERSALES_DATABASE_URL": "sqlite://",
           "AFTERSALES_TRUST": '[{"issuer": "https://id.hq", "scope": "headquarters", '
                               '"jwks_url": "https://id.hq/.well-known/jwks.json"}]',
           "AFTERSALES_CRM_CRM_ENCRYPTION_KEY_FILE": str(tmp_path / "key"),
           "AFTERSALES_CRM_CRM_BLIND_INDEX_KEY": INDEX_KEY}
    vault = vault_from_settings(load_settings("crm", env=env, stack=HEADQUARTERS))
    assert Vault(KEY, INDEX_KEY).decrypt(vault.encrypt("王磊")) == "王磊"


def test_development_has_deterministic_stand_ins_and_keeps_given_keys() -> None:
    one = vault_from_settings(crm_settings({}, environment="development"))
    other = vault_from_settings(crm_settings({}, environment="development"))
    assert other.decrypt(one.encrypt("13812345678")) == "13812345678"
    assert one.phone_index("13812345678") == other.phone_index("13812345678")
    key, index = development_keys()
    assert Fernet(key.encode()) and len(index) >= 32 and key != index
    given = vault_from_settings(crm_settings({"crm_encryption_key": KEY,
                                              "crm_blind_index_key": INDEX_KEY},
                                             environment="development"))
    assert Vault(KEY, INDEX_KEY).decrypt(given.encrypt("x")) == "x"
    with pytest.raises(ConfigError, match="^crm_blind_index_key: must be at least"):
        vault_from_settings(crm_settings({"crm_blind_index_key": "short"},
                                         environment="development"))


def test_survey_link_opens_its_survey_only() -> None:
    token = surveys.link_token("secret-0123456789-0123456789-0123", "SVY-1")
    assert surveys.survey_of_token("secret-0123456789-0123456789-0123", token) == "SVY-1"
    assert surveys.survey_of_token("another-secret-0123456789-01234567", token) is None
    assert surveys.survey_of_token("secret-0123456789-0123456789-0123",
                                   token.replace("SVY-1", "SVY-2")) is None
    assert surveys.survey_of_token("secret-0123456789-0123456789-0123", "garbage") is None


def test_survey_falls_due_a_day_or_three_after_delivery() -> None:
    delivered = datetime(2025, 3, 18, 9, 21, tzinfo=UTC)
    assert surveys.due_at(delivered) == datetime(2025, 3, 19, 9, 21, tzinfo=UTC)
    assert surveys.due_at(delivered, 72) == datetime(2025, 3, 21, 9, 21, tzinfo=UTC)


def test_a_score_of_six_or_less_opens_a_complaint_with_owner_and_due_date() -> None:
    assert surveys.complaint_for("SVY-1", "D001", 7, date(2025, 3, 21)) is None
    complaint = surveys.complaint_for("SVY-1", "D001", 6, date(2025, 3, 21))
    assert complaint is not None
    assert complaint.owner == "service-manager@D001"
    assert complaint.due_on == date(2025, 3, 23)


def test_one_survey_per_repair_order() -> None:
    assert surveys.survey_id_for("D001", "RO-1") == surveys.survey_id_for("D001", "RO-1")
    assert surveys.survey_id_for("D001", "RO-1") != surveys.survey_id_for("D002", "RO-1")
