"""The uplinks file: what it must name, and the one line that says what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from chassis.config import ConfigError
from chassis.uplink import load_uplinks, with_credentials

LOCAL = Path(__file__).resolve().parents[2] / "deploy" / "local" / "uplinks.yaml"


def test_the_local_file_links_both_dealer_sites_to_headquarters():
    links = load_uplinks(LOCAL)
    assert links.headquarters.vhost == "hq"
    assert [(s.dealer_code, s.site.vhost) for s in links.sites] == [
        ("D001", "site-D001"), ("D002", "site-D002")]
    assert links.site("D002").shovel_names() == [
        "uplink-D002-booking", "uplink-D002-workorder", "uplink-D002-parts"]


@pytest.mark.parametrize(("text", "named"), [
    ("sites: []", "headquarters.amqp_uri"),
    ("headquarters: {amqp_uri: http://x}\nsites: []", "headquarters.amqp_uri"),
    ("headquarters: {amqp_uri: amqp://h/hq}\nsites: []", "sites"),
    ("headquarters: {amqp_uri: amqp://h/hq}\nsites: [{dealer_code: d1, amqp_uri: amqp://s/x}]",
     "sites[0].dealer_code"),
    ("headquarters: {amqp_uri: amqp://h/hq}\n"
     "sites: [{dealer_code: D1, amqp_uri: amqp://s/x, services: [crm]}]", "sites[0].services"),
    # A password in a committed file is one every copy of it shares: setup generates them.
    ("headquarters: {amqp_uri: amqp://h/hq}\n"
     "sites: [{dealer_code: D1, amqp_uri: amqp://s/x, uplink_password: p}]",
     "sites[0].uplink_password"),
])
def test_a_wrong_entry_is_named(tmp_path, text, named):
    path = tmp_path / "uplinks.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        load_uplinks(path)


def test_the_shovel_publishes_as_the_sites_own_user():
    assert with_credentials("amqp://guest:guest@hq.example:5672/hq", "uplink-D001", "p@ss") == \
        "amqp://uplink-D001:p%40ss@hq.example:5672/hq"


def test_the_secrets_directory_is_the_option_else_the_environment_else_the_file(
        tmp_path, monkeypatch):
    path = tmp_path / "uplinks.yaml"
    path.write_text("headquarters: {amqp_uri: amqp://h/hq}\nsecrets_dir: /srv/secrets\n"
                    "sites: [{dealer_code: D1, amqp_uri: amqp://s/x}]", encoding="utf-8")
    monkeypatch.delenv("AFTERSALES_SECRETS_DIR", raising=False)
    assert load_uplinks(path).secrets_dir == Path("/srv/secrets")
    monkeypatch.setenv("AFTERSALES_SECRETS_DIR", "/run/secrets")
    assert load_uplinks(path).secrets_dir == Path("/run/secrets")
    assert load_uplinks(path, secrets_dir=tmp_path).secrets_dir == tmp_path
    monkeypatch.delenv("AFTERSALES_SECRETS_DIR")
    path.write_text("headquarters: {amqp_uri: amqp://h/hq}\n"
                    "sites: [{dealer_code: D1, amqp_uri: amqp://s/x}]", encoding="utf-8")
    assert load_uplinks(path).secrets_dir == Path("var/secrets")
