"""docker-compose.yml: the whole topology from the one image, with config files that load.

No Docker engine is needed: the file is read as YAML and each service's settings are loaded
the way its container would load them (mounted config file + compose environment).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import yaml

from chassis.config import load_settings
from chassis.uplink import load_uplinks
from tests.deploy.topology import (
    BROKERS,
    DEALER_SITES,
    HQ_SERVICES,
    IMAGE,
    ROOT,
    SITE_SERVICES,
    app_containers,
    load_compose,
    mounts,
)

COMPOSE = load_compose()
APPS = app_containers(COMPOSE)
INFRASTRUCTURE = {*BROKERS.values(), "postgres", "prometheus", "grafana", "setup"}


def test_names_every_service_of_the_topology():
    expected = {*HQ_SERVICES, *INFRASTRUCTURE,
                *(f"{service}-{site.lower()}" for site in DEALER_SITES
                  for service in SITE_SERVICES)}
    assert set(COMPOSE["services"]) == expected
    assert sorted((app.site, app.service) for app in APPS) == sorted(
        [("hq", s) for s in HQ_SERVICES]
        + [(site, s) for site in DEALER_SITES for s in SITE_SERVICES])


@pytest.mark.parametrize("name", [app.name for app in APPS] + ["setup"])
def test_each_platform_container_uses_the_one_image_built_by_the_dockerfile(name):
    definition = COMPOSE["services"][name]
    assert definition["image"] == IMAGE
    build = definition["build"]
    assert (ROOT / build["context"] / build.get("dockerfile", "Dockerfile")).is_file()


def test_brokers_are_separate_rabbitmq_containers_with_shovel_and_prometheus_plugins():
    for broker in BROKERS.values():
        definition = COMPOSE["services"][broker]
        assert definition["image"].startswith("rabbitmq:3.13-management")
        plugins_file = dict((t, s) for s, t in mounts(definition))["/etc/rabbitmq/enabled_plugins"]
        plugins = (ROOT / plugins_file).read_text(encoding="utf-8")
        for plugin in ("rabbitmq_management", "rabbitmq_shovel", "rabbitmq_prometheus"):
            assert re.search(rf"\b{plugin}\b", plugins), plugin
        assert plugins.strip().endswith("].")  # an Erlang term: RabbitMQ refuses anything else


@pytest.mark.parametrize("name", sorted(COMPOSE["services"]))
def test_every_mounted_path_exists_in_the_repository(name):
    definition = COMPOSE["services"][name]
    for source, _ in mounts(definition):
        assert (ROOT / source).exists(), f"{name} mounts ./{source}, which does not exist"
    named = [str(v).split(":")[0] for v in definition.get("volumes") or []
             if not str(v).startswith(("./", "/"))]
    for volume in named:
        assert volume in (COMPOSE.get("volumes") or {}), f"{name}: volume {volume} undeclared"


def test_published_ports_do_not_clash():
    published: dict[int, str] = {}
    for name, definition in COMPOSE["services"].items():
        for port in definition.get("ports") or []:
            host = int(str(port).rsplit(":", 2)[-2])
            assert host not in published, f"{name} and {published[host]} both publish {host}"
            published[host] = name


def test_app_containers_wait_for_the_one_shot_setup():
    for app in APPS:
        assert app.definition["depends_on"]["setup"]["condition"] == \
            "service_completed_successfully", app.name
    assert COMPOSE["services"]["setup"]["restart"] == "no"


@pytest.mark.parametrize("app", APPS, ids=lambda app: app.name)
def test_each_container_loads_valid_settings_from_its_config_and_environment(app):
    env = app.environment()
    settings = load_settings(app.service, app.config_file(), env=env)

    assert settings.dealer_code == ("HQ" if app.site == "hq" else app.site)
    assert settings.http_host == "0.0.0.0"  # reachable from Prometheus and the host
    assert app.published_port() == (settings.http_port, settings.http_port)
    broker = BROKERS[app.site]
    assert urlsplit(settings.amqp_uri).hostname == broker
    vhost = "hq" if app.site == "hq" else f"site-{app.site}"
    assert urlsplit(settings.amqp_uri).path == f"/{vhost}"
    # Dead-letter and uplink gauges are read from the container's own broker.
    assert urlsplit(env["AFTERSALES_RABBITMQ_ADMIN_URL"]).hostname == broker
    assert urlsplit(settings.database_url).hostname == "postgres"
    # Secrets come from the environment, not from the mounted file.
    written = yaml.safe_load(app.config_file().read_text(encoding="utf-8"))
    own = written["services"][app.service]
    assert not {"auth_secret", "crm_encryption_key", "crm_blind_index_key"} & {*written, *own}
    if app.service == "crm":
        from crm.privacy import vault_from_settings

        vault = vault_from_settings(settings.extra)
        assert vault.decrypt(vault.encrypt("13812345678")) == "13812345678"
    if app.service == "notify":
        from notify.channels import build_adapter
        from notify.settings import NotifySettings

        NotifySettings.from_extra(settings.extra)
        for channel, options in settings.extra["channels"].items():
            build_adapter(channel.upper(), options)


def test_every_service_has_its_own_database():
    databases = [load_settings(app.service, app.config_file(), env=app.environment())
                 .database_url for app in APPS]
    assert len(set(databases)) == len(databases)


def test_the_uplinks_file_links_both_sites_to_headquarters_on_their_own_brokers():
    links = load_uplinks(ROOT / "deploy" / "compose" / "uplinks.yaml")
    assert links.headquarters.vhost == "hq"
    assert urlsplit(links.headquarters.admin_url).hostname == BROKERS["hq"]
    assert [link.dealer_code for link in links.sites] == list(DEALER_SITES)
    for link in links.sites:
        site_config = [app for app in APPS if app.site == link.dealer_code][0]
        settings = load_settings(site_config.service, site_config.config_file(),
                                 env=site_config.environment())
        assert link.site.amqp_uri == settings.amqp_uri
        assert urlsplit(link.site.admin_url).hostname == BROKERS[link.dealer_code]
        assert link.services == SITE_SERVICES


def test_setup_prepares_every_vhost_the_uplinks_and_every_database():
    setup = COMPOSE["services"]["setup"]
    script_path = dict((t, s) for s, t in mounts(setup))["/etc/aftersales"]
    script = (ROOT / script_path / "setup.sh").read_text(encoding="utf-8")
    assert setup["entrypoint"][-1] == "/etc/aftersales/setup.sh"
    assert "--vhost hq --services crm,notify,bi" in script
    assert '--vhost "site-$site" --services booking,workorder,parts' in script
    assert "for site in D001 D002" in script
    assert "uplink --file /etc/aftersales/uplinks.yaml setup" in script
    assert "headquarters.yaml db upgrade crm notify bi" in script
    assert 'site-$site.yaml" db upgrade booking workorder parts' in script
