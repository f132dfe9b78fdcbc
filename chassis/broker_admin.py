"""Applying the broker's definitions (vhost, permissions, policies, dead-letter queues) from
`chassis/broker_policies.yaml` through the RabbitMQ management HTTP API."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import requests
import yaml

from chassis.broker_names import event_exchange_name, event_queue_name
from chassis.consumer import EventEntrypoint

POLICIES_FILE = Path(__file__).resolve().parent / "broker_policies.yaml"
DEFAULT_ADMIN_URL = "http://guest:guest@127.0.0.1:15672"
# An event exchange exactly as nameko declares it, so either side may declare it first.
EVENT_EXCHANGE = {"type": "topic", "durable": True, "auto_delete": False, "internal": False}


def vhost_of(amqp_uri: str) -> str:
    """The vhost an AMQP URI names ("/" when it names none)."""
    return unquote(urlsplit(amqp_uri).path.lstrip("/")) or "/"


def subscriptions(service_cls: type) -> list[tuple[str, str, str]]:
    """(source service, event type, queue) for every event handler of a service class."""
    found = []
    for name in sorted(dir(service_cls)):
        for entrypoint in getattr(getattr(service_cls, name), "nameko_entrypoints", ()):
            if isinstance(entrypoint, EventEntrypoint):
                consumer = f"{service_cls.name}.{name}"  # type: ignore[attr-defined]
                found.append((entrypoint.source_service, entrypoint.event_type,
                              event_queue_name(entrypoint.source_service, entrypoint.event_type,
                                               consumer)))
    return found


class BrokerAdmin:
    def __init__(self, admin_url: str | None = None, timeout: float = 10.0) -> None:
        self.timeout = timeout
        url = admin_url or os.environ.get("AFTERSALES_RABBITMQ_ADMIN_URL", DEFAULT_ADMIN_URL)
        parts = urlsplit(url)
        self.base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}/api"
        self.auth = (parts.username or "guest", parts.password or "guest")

    def call(self, method: str, path: str, body: Any = None, missing_ok: bool = False) -> Any:
        """One management API call; a 404 is None for a GET (or when `missing_ok`)."""
        response = requests.request(method, f"{self.base}{path}", auth=self.auth,
                                    timeout=self.timeout,
                                    data=None if body is None else json.dumps(body),
                                    headers={"content-type": "application/json"})
        if response.status_code == 404 and (method == "GET" or missing_ok):
            return None
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response.json() if response.content else None

    def apply(self, vhost: str, services: list[str], user: str = "guest",
              policies_file: Path = POLICIES_FILE) -> None:
        spec = yaml.safe_load(policies_file.read_text(encoding="utf-8"))
        v = quote(vhost, safe="")
        self.call("PUT", f"/vhosts/{v}", {
            "description": "aftersales platform",
            # The 3.10 API spells it without underscores; later versions accept both.
            "defaultqueuetype": spec["vhost"]["default_queue_type"]})
        self.call("PUT", f"/permissions/{v}/{quote(user, safe='')}",
                   {"configure": ".*", "write": ".*", "read": ".*"})
        dlx = spec["dead_letter_exchange"]
        self.call("PUT", f"/exchanges/{v}/{quote(dlx['name'], safe='')}",
                   {"type": dlx["type"], "durable": dlx["durable"], "auto_delete": False})
        template = spec["consumer_queue_policy"]
        for service in services:
            policy = json.loads(json.dumps(template).replace("{service}", service))
            self.call("PUT", f"/policies/{v}/{quote(policy['name'], safe='')}", {
                "pattern": policy["pattern"], "apply-to": policy["apply-to"],
                "priority": policy["priority"], "definition": policy["definition"]})
            queue = spec["dead_letter_queue"].replace("{service}", service)
            self.call("PUT", f"/queues/{v}/{quote(queue, safe='')}",
                       {"durable": True, "auto_delete": False,
                        "arguments": {"x-queue-type": spec["vhost"]["default_queue_type"]}})
            self.call("POST", f"/bindings/{v}/e/{quote(dlx['name'], safe='')}/q/"
                               f"{quote(queue, safe='')}", {"routing_key": service})

    def declare_event_queues(self, vhost: str, service_cls: type) -> list[str]:
        """Declare and bind every queue `service_cls` consumes, before it first runs.

        Events that reach a vhost through a broker link before the consuming service has
        started would otherwise find no queue and be dropped by the exchange.
        """
        declared = []
        v = quote(vhost, safe="")
        for source, event_type, queue in subscriptions(service_cls):
            exchange = event_exchange_name(source)
            # Same shape as nameko's declaration (no queue-type argument: the vhost's default
            # makes it a quorum queue either way).
            self.call("PUT", f"/exchanges/{v}/{quote(exchange, safe='')}", EVENT_EXCHANGE)
            self.call("PUT", f"/queues/{v}/{quote(queue, safe='')}",
                      {"durable": True, "auto_delete": False, "arguments": {}})
            self.call("POST", f"/bindings/{v}/e/{quote(exchange, safe='')}/q/"
                              f"{quote(queue, safe='')}", {"routing_key": event_type})
            declared.append(queue)
        return declared

    def delete_vhost(self, vhost: str) -> None:
        """Delete a vhost with its queues and messages (absent already is fine)."""
        self.call("DELETE", f"/vhosts/{quote(vhost, safe='')}", missing_ok=True)

    def vhost(self, vhost: str) -> Any:
        return self.call("GET", f"/vhosts/{quote(vhost, safe='')}")

    def queue(self, vhost: str, name: str) -> Any:
        return self.call("GET", f"/queues/{quote(vhost, safe='')}/{quote(name, safe='')}")

    def policies(self, vhost: str) -> Any:
        return self.call("GET", f"/policies/{quote(vhost, safe='')}")
