"""The deployment topology as the tests read it: docker-compose.yml, its config files, and
the names every deployment artefact must agree on."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chassis.config import Settings, load_settings
from chassis.registry import HEADQUARTERS, SITE

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
IMAGE = "aftersales:local"

SITE_SERVICES = ("booking", "workorder", "parts")
HQ_SERVICES = ("crm", "notify", "bi", "partners")
# The issuer of a stack's tokens runs in every stack, headquarters and each site, and so do
# the pages people open (the owner's and the workshop board at a site, the survey and the
# unsubscribe page at headquarters).
IDENTITY = "identity"
PORTAL = "portal"
EVERY_STACK = (IDENTITY, PORTAL)
SITE_STACK = (*SITE_SERVICES, *EVERY_STACK)
HQ_STACK = (*HQ_SERVICES, *EVERY_STACK)
DEALER_SITES = ("D001", "D002")
BROKERS = {"hq": "rabbitmq-hq", "D001": "rabbitmq-d001", "D002": "rabbitmq-d002"}

# Each service's own secrets (read through chassis.config.own_secret or crm.privacy), given
# per stack: none is shared between headquarters and a site, or between two sites.
OWN_SECRETS: dict[str, tuple[str, ...]] = {
    "workorder": ("report_link_secret",),
    "crm": ("crm_encryption_key", "crm_blind_index_key", "survey_link_secret"),
    "notify": ("contact_secret", "link_secret"),
    IDENTITY: ("key_encryption_key",),
    "partners": ("secret_encryption_key",),
    PORTAL: ("session_secret",),
}
# Fernet keys (url-safe base64 of 32 bytes): crm's must be one, identity's and partners' are
# made one.
FERNET_KEYS = ("crm_encryption_key", "key_encryption_key", "secret_encryption_key")
# Every setting name a secret goes by, the old shared token secret among them, and the
# channel credentials notify's channels carry.
SECRET_SETTINGS = (*sorted({n for names in OWN_SECRETS.values() for n in names}),
                   "auth_secret", "api_secret", "api_key", "secret", "password")

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's `${NAME}` / `${NAME:-default}`, from `env` (the defaults when it is empty)."""
    env = {} if env is None else env

    def replace(match: re.Match[str]) -> str:
        return env.get(match["name"]) or match["default"] or ""

    return _VARIABLE.sub(replace, value)


@dataclass(frozen=True)
class AppContainer:
    """One platform service's container: which service of which site, with what config."""

    name: str
    service: str
    config_in_container: str
    definition: dict[str, Any]

    @property
    def site(self) -> str:
        if self.service in HQ_SERVICES or self.name.endswith("-hq"):
            return "hq"
        return self.name.rsplit("-", 1)[1].upper()

    @property
    def stack(self) -> str:
        return HEADQUARTERS if self.site == "hq" else SITE

    def config_file(self) -> Path:
        """The repository file mounted at the path the command names."""
        for source, target in mounts(self.definition):
            if target == self.config_in_container:
                return ROOT / source
            if self.config_in_container.startswith(target.rstrip("/") + "/"):
                return ROOT / source / self.config_in_container[len(target):].lstrip("/")
        raise AssertionError(f"{self.name}: {self.config_in_container} is not mounted")

    def environment(self) -> dict[str, str]:
        raw = self.definition.get("environment") or {}
        return {key: interpolate(str(value)) for key, value in raw.items()}

    def secrets(self, compose: dict[str, Any]) -> dict[str, str]:
        """{path in the container: repository path of the file} of its compose `secrets:`."""
        found = {}
        for entry in self.definition.get("secrets") or []:
            source, target = ((entry, entry) if isinstance(entry, str)
                              else (entry["source"], entry.get("target", entry["source"])))
            target = target if target.startswith("/") else f"/run/secrets/{target}"
            found[target] = str(compose["secrets"][source]["file"]).removeprefix("./")
        return found

    def settings(self, env: dict[str, str] | None = None) -> Settings:
        """Its settings as its container loads them (mounted file + compose environment)."""
        env = self.environment() if env is None else env
        return load_settings(self.service, self.config_file(), env=env)

    def published_port(self) -> tuple[int, int]:
        """(host port, container port) of its HTTP listener."""
        (port,) = self.definition["ports"]
        host, container = str(port).rsplit(":", 2)[-2:]
        return int(host), int(container)


def app_containers(compose: dict[str, Any]) -> list[AppContainer]:
    """Every container that runs a platform service (`... run <service>`)."""
    found = []
    for name, definition in compose["services"].items():
        command = definition.get("command") or []
        if "run" in command:
            config = command[command.index("--config") + 1]
            service = command[command.index("run") + 1]
            found.append(AppContainer(name, service, config, definition))
    return found


def mounts(definition: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of every bind mount of repository paths (./...)."""
    found = []
    for volume in definition.get("volumes") or []:
        source, target = str(volume).split(":")[:2]
        if source.startswith("./"):
            found.append((source[2:], target))
    return found


def fake_secrets_env() -> dict[str, str]:
    """What a deployment's secret store gives as environment: the stack's connections."""
    return {"AFTERSALES_AMQP_URI": "amqp://aftersales:secret@rabbitmq.example.com:5672/site",
            "AFTERSALES_RABBITMQ_ADMIN_URL": "http://monitor:secret@rabbitmq.example.com:15672",
            "PGPASSWORD": "secret"}


def fake_secret(name: str) -> str:
    """A value of the right shape for secret `name`, new on every call."""
    from cryptography.fernet import Fernet

    if name in FERNET_KEYS:
        return Fernet.generate_key().decode()
    import secrets

    return secrets.token_urlsafe(48)


def with_secret_files(settings: Settings, files: dict[str, Path]) -> Settings:
    """`settings` with each `<name>_file` that names a path in `files` (a path as the
    container sees it) pointed at the local file standing for it. A `_file` naming nothing
    in `files` fails: the secret would not be there."""
    extra = dict(settings.extra)
    for key, value in settings.extra.items():
        if key.endswith("_file") and key.removesuffix("_file") in SECRET_SETTINGS:
            assert str(value) in files, f"{settings.service}: {key} {value} is not mounted"
            extra[key] = str(files[str(value)])
    return dataclasses.replace(settings, extra=extra)


def read_own_secrets(settings: Settings) -> dict[str, str]:
    """Every secret of the service, read the way the service reads it at start (production
    rules: a missing, short or published one raises ConfigError)."""
    from chassis.config import own_secret

    read = {name: own_secret(settings, name) for name in OWN_SECRETS.get(settings.service, ())
            if not name.startswith("crm_")}
    if settings.service == "crm":
        from crm.privacy import vault_from_settings
        from crm.settings import CrmSettings

        vault = vault_from_settings(settings)
        assert vault.decrypt(vault.encrypt("13812345678")) == "13812345678"
        assert CrmSettings.from_settings(settings).survey_secret == read["survey_link_secret"]
    if settings.service == "notify":
        from notify.channels import build_adapter
        from notify.settings import NotifySettings

        notify = NotifySettings.from_settings(settings)
        assert (notify.contact_secret, notify.link_secret) == (read["contact_secret"],
                                                               read["link_secret"])
        for channel, options in (settings.extra.get("channels") or {}).items():
            build_adapter(channel.upper(), options)
    if settings.service == IDENTITY:
        from identity.settings import IdentitySettings

        identity = IdentitySettings.from_settings(settings)
        assert identity.key_encryption_key == read["key_encryption_key"]
        assert identity.issuer == settings.extra["issuer"]
    if settings.service == PORTAL:
        from portal.settings import PortalSettings

        # Its URLs are checked at start too: a bad one stops it with one line.
        assert PortalSettings.from_settings(settings).session_secret == read["session_secret"]
    return read
