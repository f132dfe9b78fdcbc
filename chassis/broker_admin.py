"""Applying the broker's definitions (vhost, permissions, policies, dead-letter queues) from
`deploy/rabbitmq/policies.yaml` through the RabbitMQ management HTTP API."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import yaml

POLICIES_FILE = Path(__file__).resolve().parents[1] / "deploy" / "rabbitmq" / "policies.yaml"
DEFAULT_ADMIN_URL = "http://guest:guest@127.0.0.1:15672"


class BrokerAdmin:
    def __init__(self, admin_url: str | None = None) -> None:
        url = admin_url or os.environ.get("AFTERSALES_RABBITMQ_ADMIN_URL", DEFAULT_ADMIN_URL)
        parts = urlsplit(url)
        self.base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}/api"
        self.auth = (parts.username or "guest", parts.password or "guest")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, f"{self.base}{path}", auth=self.auth, timeout=10,
                                    data=None if body is None else json.dumps(body),
                                    headers={"content-type": "application/json"})
        if response.status_code == 404 and method == "GET":
            return None
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response.json() if response.content else None

    def apply(self, vhost: str, services: list[str], user: str = "guest",
              policies_file: Path = POLICIES_FILE) -> None:
        spec = yaml.safe_load(policies_file.read_text(encoding="utf-8"))
        v = quote(vhost, safe="")
        self._call("PUT", f"/vhosts/{v}", {
            "description": "aftersales platform",
            # The 3.10 API spells it without underscores; later versions accept both.
            "defaultqueuetype": spec["vhost"]["default_queue_type"]})
        self._call("PUT", f"/permissions/{v}/{quote(user, safe='')}",
                   {"configure": ".*", "write": ".*", "read": ".*"})
        dlx = spec["dead_letter_exchange"]
        self._call("PUT", f"/exchanges/{v}/{quote(dlx['name'], safe='')}",
                   {"type": dlx["type"], "durable": dlx["durable"], "auto_delete": False})
        template = spec["consumer_queue_policy"]
        for service in services:
            policy = json.loads(json.dumps(template).replace("{service}", service))
            self._call("PUT", f"/policies/{v}/{quote(policy['name'], safe='')}", {
                "pattern": policy["pattern"], "apply-to": policy["apply-to"],
                "priority": policy["priority"], "definition": policy["definition"]})
            queue = spec["dead_letter_queue"].replace("{service}", service)
            self._call("PUT", f"/queues/{v}/{quote(queue, safe='')}",
                       {"durable": True, "auto_delete": False,
                        "arguments": {"x-queue-type": spec["vhost"]["default_queue_type"]}})
            self._call("POST", f"/bindings/{v}/e/{quote(dlx['name'], safe='')}/q/"
                               f"{quote(queue, safe='')}", {"routing_key": service})

    def delete_vhost(self, vhost: str) -> None:
        self._call("DELETE", f"/vhosts/{quote(vhost, safe='')}")

    def vhost(self, vhost: str) -> Any:
        return self._call("GET", f"/vhosts/{quote(vhost, safe='')}")

    def queue(self, vhost: str, name: str) -> Any:
        return self._call("GET", f"/queues/{quote(vhost, safe='')}/{quote(name, safe='')}")

    def policies(self, vhost: str) -> Any:
        return self._call("GET", f"/policies/{quote(vhost, safe='')}")
