"""The deployment topology as the tests read it: docker-compose.yml, its config files, and
the names every deployment artefact must agree on."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
IMAGE = "aftersales:local"

SITE_SERVICES = ("booking", "workorder", "parts")
HQ_SERVICES = ("crm", "notify", "bi")
DEALER_SITES = ("D001", "D002")
BROKERS = {"hq": "rabbitmq-hq", "D001": "rabbitmq-d001", "D002": "rabbitmq-d002"}

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
        return "hq" if self.service in HQ_SERVICES else self.name.rsplit("-", 1)[1].upper()

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
    """What a deployment's secret store provides, with values of the right shape."""
    from cryptography.fernet import Fernet

    return {"AFTERSALES_AUTH_SECRET": "a-secret-long-enough-to-sign-tokens-0123",
            "AFTERSALES_AMQP_URI": "amqp://aftersales:secret@rabbitmq.example.com:5672/site",
            "AFTERSALES_RABBITMQ_ADMIN_URL": "http://monitor:secret@rabbitmq.example.com:15672",
            "PGPASSWORD": "secret",
            "AFTERSALES_CRM_CRM_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "AFTERSALES_CRM_CRM_BLIND_INDEX_KEY": "a-blind-index-key-of-at-least-32-characters"}

