"""chassis finds the services through their entry points and what their classes declare —
where each runs, what headquarters sends down to the sites, which operator commands they
bring — and names none of them itself. Broker names live in one leaf module, and embedded
mode's transport is registered when asked for, not by an import."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chassis import broker_names, cli, registry
from chassis.config import ConfigError, load_settings
from chassis.registry import EVERY, HEADQUARTERS, SITE
from chassis.runner import make_container
from chassis.testing import make_settings
from chassis.uplink import load_uplinks

pytestmark = pytest.mark.unit

ENV = {"AFTERSALES_DEALER_CODE": "D001", "AFTERSALES_AMQP_URI": "amqp://h/site-D001",
       "AFTERSALES_DATABASE_URL": "sqlite:///unused.sqlite",
       # Headquarters' issuer alone: valid for a site's service and a headquarters' one.
       "AFTERSALES_TRUST": json.dumps([{"issuer": "https://id.hq", "scope": "headquarters",
                                        "jwks_url": "https://id.hq/.well-known/jwks.json"}])}
CALLS: list[list[str]] = []


class Workshop:
    name = "workshop"
    stack = SITE


class Recalls:
    name = "recalls"
    stack = HEADQUARTERS
    downlink_events = ("aftersales.Recall.v1",)
    operator_commands = {"rebuild": f"{__name__}:rebuild_recalls"}


class Gossip:
    """A site service may not send anything down: only headquarters' declarations count."""

    name = "gossip"
    stack = SITE
    downlink_events = ("aftersales.Rumour.v1",)


def rebuild_recalls(argv: list[str]) -> int:
    CALLS.append(argv)
    return 3


@pytest.fixture
def installed(monkeypatch):
    classes = {"workshop": Workshop, "recalls": Recalls, "gossip": Gossip}
    monkeypatch.setattr(registry, "service_classes", lambda: dict(classes))
    CALLS.clear()
    return classes


def test_the_installed_services_say_where_they_run():
    assert registry.services_on(SITE) == ["booking", "parts", "workorder"]
    assert registry.services_on(HEADQUARTERS) == ["bi", "crm", "notify", "partners"]
    # identity runs in every stack, each for its own people: nothing of it crosses the links.
    assert registry.stack_of("identity") == EVERY
    # so does portal, the pages each stack's people open.
    assert registry.stack_of("portal") == EVERY
    assert registry.services_running_on(SITE) == ["booking", "identity", "parts", "portal",
                                                  "workorder"]
    assert registry.services_running_on(HEADQUARTERS) == ["bi", "crm", "identity", "notify",
                                                          "partners", "portal"]
    assert registry.downlink_events() == {"crm": ("aftersales.RecallCampaignPublished.v1",
                                                  "aftersales.RecallCompleted.v1")}
    assert registry.operator_commands() == {
        "rebuild": {"bi": "bi.rebuild:main"},
        "create-user": {"identity": "identity.commands:create_user"},
        "rotate-keys": {"identity": "identity.commands:rotate_keys"},
        "retire-keys": {"identity": "identity.commands:retire_keys"},
        "register-partner": {"partners": "partners.commands:register_partner"},
        "add-endpoint": {"partners": "partners.commands:add_endpoint"},
        "rotate-secret": {"partners": "partners.commands:rotate_secret"},
        "enable-endpoint": {"partners": "partners.commands:enable_endpoint"},
        "replay": {"partners": "partners.commands:replay"},
        "partners": {"partners": "partners.commands:list_partners"}}


def test_a_service_of_every_stack_takes_its_stack_from_its_settings():
    with pytest.raises(ConfigError, match="^stack: missing \\(identity runs in every stack"):
        load_settings("identity", env=ENV)
    site = load_settings("identity", env={**ENV, "AFTERSALES_IDENTITY_STACK": "site"})
    assert (site.stack, site.source) == (SITE, "dealer/D001/identity")
    assert "stack" not in site.extra
    with pytest.raises(ConfigError, match="^stack: 'moon' is not site or headquarters$"):
        load_settings("identity", env={**ENV, "AFTERSALES_STACK": "moon"})
    # A service of one stack may say so, but not say another.
    assert load_settings("booking", env={**ENV, "AFTERSALES_STACK": "site"}).stack == SITE
    with pytest.raises(ConfigError, match="^stack: booking runs at site only, not headquarters"):
        load_settings("booking", env={**ENV, "AFTERSALES_STACK": "headquarters"})


@pytest.mark.parametrize(("config", "stack", "dealer"), [
    ("hq.yaml", HEADQUARTERS, "HQ"), ("site-D001.yaml", SITE, "D001"),
    ("site-D002.yaml", SITE, "D002")])
def test_each_local_stack_runs_its_own_identity(config, stack, dealer):
    path = Path(__file__).resolve().parents[2] / "deploy" / "local" / config
    settings = load_settings("identity", path, env={})
    assert (settings.stack, settings.dealer_code) == (stack, dealer)
    # Its issuer is the one the stack's services trust (deploy/local names each).
    own = [t for t in settings.trust if t.issuer == settings.extra["issuer"]]
    assert own and own[0].scope == stack and own[0].jwks_url.startswith(settings.extra["issuer"])


def test_the_runner_keeps_the_stack_settings_give_a_service_of_every_stack():
    class Everywhere:
        name = "everywhere"
        stack = EVERY

    at_hq = make_settings("everywhere", "sqlite://", "amqp://h/x", stack=HEADQUARTERS)
    assert make_container(Everywhere, at_hq).config["AFTERSALES"].at_headquarters
    with pytest.raises(ValueError, match="must say site or headquarters"):
        make_container(Everywhere, make_settings("everywhere", "sqlite://", "amqp://h/x",
                                                 stack=EVERY))


def test_settings_take_the_stack_the_service_class_declares():
    assert load_settings("crm", env=ENV).stack == HEADQUARTERS
    assert load_settings("booking", env=ENV).stack == SITE
    assert make_settings("bi", "sqlite://", "amqp://h/hq").at_headquarters
    # A test's stand-in consumer is no installed service: it runs at a site.
    assert make_settings("ledger", "sqlite://", "amqp://h/x").site == "dealer/D001"
    assert load_settings("ledger", env=ENV, stack=HEADQUARTERS).source == "hq/ledger"
    with pytest.raises(ConfigError, match="^stack: 'moon' is not site or headquarters$"):
        load_settings("booking", env=ENV, stack="moon")


def test_the_runner_runs_a_class_with_the_stack_it_declares():
    class Projection:
        name = "projection"
        stack = HEADQUARTERS

    container = make_container(Projection, make_settings("projection", "sqlite://", "amqp://h/x"))
    settings = container.config["AFTERSALES"]
    assert (settings.stack, settings.site, settings.source) == (
        HEADQUARTERS, "hq", "hq/projection")


def test_only_headquarters_services_send_events_down(installed):
    assert registry.downlink_events() == {"recalls": ("aftersales.Recall.v1",)}
    assert registry.services_on(SITE) == ["gossip", "workshop"]


def test_the_uplinks_file_links_the_site_services_and_the_declared_downlink(tmp_path, installed):
    path = tmp_path / "uplinks.yaml"
    path.write_text(yaml.safe_dump({
        "headquarters": {"amqp_uri": "amqp://h/hq"},
        "sites": [{"dealer_code": "D007", "amqp_uri": "amqp://s/site-D007"}]}), encoding="utf-8")
    links = load_uplinks(path)
    site = links.site("D007")
    assert site.services == ("gossip", "workshop")
    assert site.shovel_names() == ["uplink-D007-gossip", "uplink-D007-workshop"]
    assert dict(links.downlink) == {"recalls": ("aftersales.Recall.v1",)}
    assert links.downlink_names(site) == ["downlink-D007-recalls"]


def test_an_operator_command_is_the_services_own(installed):
    assert cli.main(["--config", "hq.yaml", "ops", "rebuild", "recalls", "--since",
                     "2026-01-01"]) == 3
    assert CALLS == [["--config", "hq.yaml", "--since", "2026-01-01"]]
    assert cli.main(["ops", "rebuild", "recalls"]) == 3
    assert CALLS[-1] == []


def test_ops_rebuild_bi_is_still_spelled_that_way():
    args = cli._parser(registry.operator_commands()).parse_args(
        ["--config", "deploy/local/hq.yaml", "ops", "rebuild", "bi"])
    assert (args.action, args.service, args.targets["bi"], args.arguments) == (
        "rebuild", "bi", "bi.rebuild:main", [])


def test_a_service_cannot_take_the_name_of_a_chassis_ops_command():
    with pytest.raises(SystemExit, match="'sites', which is the chassis' own"):
        cli._parser({"sites": {"recalls": "x:y"}})


def test_the_broker_policies_name_what_broker_names_names():
    policies = yaml.safe_load((Path(cli.__file__).parent / "broker_policies.yaml").read_text(
        encoding="utf-8"))
    assert policies["dead_letter_exchange"]["name"] == broker_names.DEAD_LETTER_EXCHANGE
    assert policies["dead_letter_queue"].replace("{service}", "crm") == \
        broker_names.dead_letter_queue_name("crm")
    queue = broker_names.event_queue_name("booking", "aftersales.AppointmentBooked.v1",
                                          "crm.on_booked")
    assert re.match(policies["consumer_queue_policy"]["pattern"].replace("{service}", "crm"),
                    queue)
    assert broker_names.consuming_service(queue) == "crm"
    assert broker_names.dead_letters_of("deadletter.crm") == "crm"
    assert broker_names.consuming_service("uplink.hq.booking") is None


def test_importing_the_broker_leaves_kombus_memory_transport_alone():
    """Embedded mode's transport is registered by `chassis.embedded.register()` (the runner
    calls it for memory:// settings), not as a side effect of an import."""
    code = ("import chassis.broker, chassis.consumer, chassis.embedded\n"
            "from kombu.transport import TRANSPORT_ALIASES as A\n"
            "print(A['memory'])\n"
            "chassis.embedded.register()\n"
            "print(A['memory'])\n")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, timeout=60).stdout.split()
    assert shown == ["kombu.transport.memory:Transport", "chassis.embedded:Transport"]
