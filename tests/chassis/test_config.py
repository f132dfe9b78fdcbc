"""Settings come from YAML and the environment; a missing or wrong one stops the start with
one line naming it."""

from __future__ import annotations

import dataclasses
import json

import pytest

from chassis.cli import main as aftersales
from chassis.config import (
    ConfigError,
    RetryPolicy,
    Settings,
    development_secret,
    load_settings,
    own_secret,
)
from chassis.identity import HEADQUARTERS_SCOPE, SITE_SCOPE, TrustedIssuer
from chassis.registry import HEADQUARTERS, SITE

HQ_ISSUER = {"issuer": "https://id.hq.example.com", "scope": "headquarters",
             "jwks_url": "https://id.hq.example.com/.well-known/jwks.json"}
D001_ISSUER = {"issuer": "https://id.d001.example.com", "scope": "site", "dealer": "D001",
               "jwks_url": "http://identity:8000/.well-known/jwks.json"}
ENV = {"AFTERSALES_DEALER_CODE": "D001",
       "AFTERSALES_AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/site-D001",
       "AFTERSALES_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/d001_booking",
       # Headquarters' issuer alone: valid at a site and at headquarters.
       "AFTERSALES_TRUST": json.dumps([HQ_ISSUER])}


def test_environment_alone_is_enough():
    settings = load_settings("booking", env=ENV)
    assert settings.dealer_code == "D001"
    assert settings.source == "dealer/D001/booking"
    assert settings.database_url.startswith("postgresql+psycopg2://")


def test_yaml_sections_are_overridden_by_the_environment(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(
        "dealer_code: D009\namqp_uri: amqp://guest:guest@127.0.0.1:5672/site-D009\n"
        "trust:\n  - {issuer: 'https://id.hq', scope: headquarters, jwks_url: 'https://id.hq/k'}\n"
        "retry: {max_attempts: 7}\n"
        "services:\n  booking:\n    database_url: sqlite:///var/b.sqlite\n    http_port: 8101\n"
        "  workorder:\n    database_url: sqlite:///var/w.sqlite\n", encoding="utf-8")
    settings = load_settings("booking", path, env={"AFTERSALES_BOOKING_HTTP_PORT": "9000"})
    assert (settings.dealer_code, settings.http_port) == ("D009", 9000)
    assert settings.database_url == "sqlite:///var/b.sqlite"
    assert settings.retry.max_attempts == 7


def test_headquarters_services_publish_under_hq():
    assert load_settings("crm", env=ENV).source == "hq/crm"


@pytest.mark.parametrize("change, named", [
    ({"AFTERSALES_DEALER_CODE": ""}, "dealer_code: missing"),
    ({"AFTERSALES_DEALER_CODE": "d-1"}, "dealer_code:"),
    ({"AFTERSALES_AMQP_URI": "http://broker"}, "amqp_uri:"),
    ({"AFTERSALES_DATABASE_URL": "mysql://x"}, "database_url:"),
    ({"AFTERSALES_HTTP_PORT": "eighty"}, "http_port:"),
    ({"AFTERSALES_HTTP_PORT": "70000"}, "http_port:"),
    ({"AFTERSALES_RETRY_MAX_ATTEMPTS": "0"}, "retry.max_attempts:"),
    ({"AFTERSALES_LOG_LEVEL": "LOUD"}, "log_level:"),
    ({"AFTERSALES_TRUST": ""}, "trust: missing"),
    ({"AFTERSALES_TRUST": "[{broken"}, "AFTERSALES_TRUST: not valid JSON"),
    ({"AFTERSALES_ENVIRONMENT": "staging"}, "environment: 'staging' is not production or"),
    ({"AFTERSALES_TIME_ZONE": "Beijing"}, "time_zone:"),
])
def test_a_wrong_setting_is_named_in_one_line(change, named):
    with pytest.raises(ConfigError) as raised:
        load_settings("booking", env={**ENV, **change})
    message = str(raised.value)
    assert message.startswith(named)
    assert "\n" not in message


def test_the_command_line_stops_with_exit_code_2_and_one_line(monkeypatch, capsys):
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("AFTERSALES_CONFIG", raising=False)
    assert aftersales(["outbox", "status", "booking"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["aftersales: configuration error: dealer_code: missing "
                   "(set AFTERSALES_DEALER_CODE or 'dealer_code' in the config file)"]


def test_retry_backoff_grows_and_is_capped():
    policy = RetryPolicy(max_attempts=6, backoff_initial_seconds=0.5, backoff_max_seconds=3)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3, 3]


def test_a_services_own_settings_come_from_the_environment_too(tmp_path):
    path = tmp_path / "hq.yaml"
    path.write_text("services:\n  crm:\n    crm_encryption_key: from-the-file\n",
                    encoding="utf-8")
    env = {**ENV, "AFTERSALES_CRM_CRM_BLIND_INDEX_KEY": "from-the-environment",
           "AFTERSALES_CRM_CRM_ENCRYPTION_KEY": "overridden", "AFTERSALES_BI_OTHER": "not crm's"}
    settings = load_settings("crm", path, env=env)
    assert settings.extra == {"crm_encryption_key": "overridden",
                              "crm_blind_index_key": "from-the-environment"}


def test_a_nested_setting_comes_from_the_environment_as_json():
    env = {**ENV, "AFTERSALES_NOTIFY_CHANNELS": '{"sms": {"adapter": "file", "path": "x"}}'}
    assert load_settings("notify", env=env).extra["channels"] == {
        "sms": {"adapter": "file", "path": "x"}}
    with pytest.raises(ConfigError, match="AFTERSALES_NOTIFY_CHANNELS: not valid JSON"):
        load_settings("notify", env={**ENV, "AFTERSALES_NOTIFY_CHANNELS": "{sms"})


# -- trust: the issuers whose tokens a service accepts ---------------------------------------

def trust_of(entries, service: str = "booking", stack: str | None = None, **env: str):
    value = entries if isinstance(entries, str) else json.dumps(entries)
    return load_settings(service, env={**ENV, "AFTERSALES_TRUST": value, **env},
                         stack=stack).trust


def test_a_site_trusts_its_own_issuer_and_headquarters():
    trust = trust_of([D001_ISSUER, HQ_ISSUER])
    assert trust == (
        TrustedIssuer("https://id.d001.example.com", SITE_SCOPE, "D001",
                      jwks_url="http://identity:8000/.well-known/jwks.json"),
        TrustedIssuer("https://id.hq.example.com", HEADQUARTERS_SCOPE,
                      jwks_url="https://id.hq.example.com/.well-known/jwks.json"))


def test_headquarters_trusts_its_own_issuer():
    (trusted,) = trust_of([HQ_ISSUER], "crm", dealer_code="HQ")
    assert (trusted.issuer, trusted.scope, trusted.dealer_code) == (
        "https://id.hq.example.com", HEADQUARTERS_SCOPE, None)


def test_trust_in_the_config_file_as_yaml_with_keys_given(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(
        "trust:\n"
        "  - issuer: https://id.d001\n    scope: site\n    dealer: D001\n"
        "    jwks: {keys: [{kty: OKP, crv: Ed25519, x: abc, kid: k1}]}\n"
        "  - {issuer: https://id.hq, scope: headquarters, jwks: '{\"keys\": []}'}\n",
        encoding="utf-8")
    env = {k: v for k, v in ENV.items() if k != "AFTERSALES_TRUST"}
    site, hq = load_settings("booking", path, env=env).trust
    # Keys given in the file (an air-gapped site) are kept as the JSON text of a JWKS.
    assert json.loads(site.jwks) == {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "abc",
                                               "kid": "k1"}]}
    assert site.jwks_url is None
    assert (hq.jwks, hq.jwks_url) == ('{"keys": []}', None)


def test_a_services_own_trust_setting_comes_first():
    trust = trust_of([HQ_ISSUER], AFTERSALES_BOOKING_TRUST=json.dumps([D001_ISSUER]))
    assert [t.issuer for t in trust] == ["https://id.d001.example.com"]


@pytest.mark.parametrize("entries, named", [
    ("", "trust: missing"),
    ([], "trust: missing"),
    (HQ_ISSUER, "trust: must be a list of issuers"),
    (["https://id.hq.example.com"], "trust[0]: must be a mapping"),
    ([{**HQ_ISSUER, "audience": "x"}], "trust[0].audience: unknown setting"),
    ([{**HQ_ISSUER, "issuer": ""}], "trust[0].issuer: missing"),
    ([HQ_ISSUER, {**D001_ISSUER, "scope": "partner"}],
     "trust[1].scope: 'partner' is not headquarters or site"),
    ([{**HQ_ISSUER, "scope": None}], "trust[0].scope: None is not headquarters or site"),
    ([{**D001_ISSUER, "dealer": "D002"}],
     "trust[0].dealer: a site trusts its own issuer only (D001), not 'D002'"),
    ([{**D001_ISSUER, "dealer": None}],
     "trust[0].dealer: a site trusts its own issuer only (D001), not None"),
    ([{**HQ_ISSUER, "dealer": "D001"}], "trust[0].dealer: headquarters' issuer names no dealer"),
    ([{**HQ_ISSUER, "jwks": {"keys": []}}], "trust[0]: give either jwks_url or jwks"),
    ([{"issuer": "https://id.hq", "scope": "headquarters"}],
     "trust[0]: give either jwks_url or jwks"),
])
def test_a_wrong_trust_is_named_in_one_line(entries, named):
    with pytest.raises(ConfigError) as raised:
        trust_of(entries)
    assert str(raised.value).startswith(named)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("service, stack", [("crm", None), ("identity", HEADQUARTERS),
                                            ("booking", HEADQUARTERS)])
def test_headquarters_refuses_a_site_issuer(service, stack):
    """Dealer staff reach headquarters with headquarters' tokens: a site's issuer, even the
    only one, would let one dealer's identity service vouch for every dealer's data."""
    for entries in ([D001_ISSUER], [HQ_ISSUER, D001_ISSUER]):
        with pytest.raises(ConfigError, match=r"^trust\[\d\]: headquarters trusts no site's "):
            trust_of(entries, service, stack, AFTERSALES_DEALER_CODE="HQ")


def test_a_site_refuses_another_dealers_issuer():
    for entries in ([{**D001_ISSUER, "dealer": "D002"}, HQ_ISSUER],
                    [D001_ISSUER, {**D001_ISSUER, "issuer": "https://id.d002", "dealer": "D002"}]):
        with pytest.raises(ConfigError, match=r"^trust\[\d\]\.dealer: a site trusts its own "):
            trust_of(entries)
    # The same entry is the other site's own.
    other = {**D001_ISSUER, "dealer": "D002"}
    assert trust_of([other], AFTERSALES_DEALER_CODE="D002")[0].dealer_code == "D002"


def test_the_environment_is_production_unless_said():
    assert load_settings("booking", env=ENV).environment == "production"
    env = {**ENV, "AFTERSALES_ENVIRONMENT": "development"}
    assert load_settings("booking", env=env).environment == "development"


# -- own_secret: a service's own secret, from the settings, a file or the environment --------

SECRET = "a-report-link-secret-of-the-site-0123456789"


def workorder(environment: str = "production", **extra) -> Settings:
    return Settings(service="workorder", dealer_code="D001", database_url="sqlite://",
                    amqp_uri="memory://", stack=SITE, environment=environment, extra=extra)


def test_own_secret_from_the_setting():
    assert own_secret(workorder(report_link_secret=SECRET), "report_link_secret") == SECRET


def test_own_secret_from_the_file_a_secret_store_mounts(tmp_path):
    path = tmp_path / "report_link_secret"
    path.write_text(SECRET + "\n", encoding="utf-8")  # as `echo` or kubectl write it
    assert own_secret(workorder(report_link_secret_file=str(path)),
                      "report_link_secret") == SECRET
    # A value given outright wins over the file.
    other = "another-report-link-secret-0123456789-xyz"
    assert own_secret(workorder(report_link_secret=other, report_link_secret_file=str(path)),
                      "report_link_secret") == other


def test_own_secret_and_its_file_from_the_environment(tmp_path):
    path = tmp_path / "secret"
    path.write_text(SECRET, encoding="utf-8")
    env = {**ENV, "AFTERSALES_WORKORDER_REPORT_LINK_SECRET_FILE": str(path)}
    assert own_secret(load_settings("workorder", env=env), "report_link_secret") == SECRET
    env = {**ENV, "AFTERSALES_WORKORDER_REPORT_LINK_SECRET": SECRET}
    assert own_secret(load_settings("workorder", env=env), "report_link_secret") == SECRET
    # Another service's variable is not this service's secret.
    env = {**ENV, "AFTERSALES_CRM_REPORT_LINK_SECRET": SECRET}
    with pytest.raises(ConfigError, match="^report_link_secret: missing"):
        own_secret(load_settings("workorder", env=env), "report_link_secret")


def test_an_unreadable_secret_file_is_named_in_one_line(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError) as raised:
        own_secret(workorder(report_link_secret_file=str(missing)), "report_link_secret")
    assert str(raised.value).startswith(f"report_link_secret_file: cannot read {missing}")
    assert "\n" not in str(raised.value)


def test_development_stands_in_the_published_value_for_a_missing_secret():
    published = development_secret("workorder", "report_link_secret")
    assert own_secret(workorder("development"), "report_link_secret") == published
    assert published != development_secret("crm", "report_link_secret")  # per service
    # A secret given is used, even a short one, on a development machine.
    assert own_secret(workorder("development", report_link_secret="short"),
                      "report_link_secret") == "short"


@pytest.mark.parametrize("extra, named", [
    ({}, "report_link_secret: missing"),
    ({"report_link_secret": ""}, "report_link_secret: missing"),
    ({"report_link_secret": "short"}, "report_link_secret: must be at least 32 characters"),
    ({"report_link_secret": "x" * 31}, "report_link_secret: must be at least 32 characters"),
    ({"report_link_secret": development_secret("workorder", "report_link_secret")},
     "report_link_secret: the published development value"),
])
def test_production_refuses_a_missing_short_or_published_secret(extra, named, tmp_path):
    with pytest.raises(ConfigError) as raised:
        own_secret(workorder(**extra), "report_link_secret")
    assert str(raised.value).startswith(named)
    assert "\n" not in str(raised.value)
    # The same from a file.
    if extra.get("report_link_secret"):
        path = tmp_path / "secret"
        path.write_text(extra["report_link_secret"], encoding="utf-8")
        with pytest.raises(ConfigError, match=f"^{named}"):
            own_secret(workorder(report_link_secret_file=str(path)), "report_link_secret")


def test_production_takes_a_secret_of_32_characters():
    settings = dataclasses.replace(workorder(), extra={"report_link_secret": "x" * 32})
    assert own_secret(settings, "report_link_secret") == "x" * 32
