"""A partner's webhook receiver on 127.0.0.1 (plain HTTP: the tests allow private endpoints):
it verifies every delivery with the `standardwebhooks` package from PyPI, keeps what it
received, and answers as the test scripts it (a status per request, 200 once the script
is used up)."""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import eventlet
import eventlet.wsgi
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    event: dict[str, Any]
    status: int
    verified_with: list[str]  # which of the receiver's secrets verified it
    at: float = field(default_factory=time.time)

    @property
    def signatures(self) -> list[str]:
        return self.headers["webhook-signature"].split(" ")


class Receiver:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: list[str] = list(secrets)
        self.script: deque[int] = deque()
        self.by_path: dict[str, deque[int]] = {}
        self.by_event: dict[str, deque[int]] = {}
        self.received: list[Received] = []
        self.refused: list[str] = []  # deliveries that did not verify
        self._socket = eventlet.listen(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self._server = eventlet.spawn(eventlet.wsgi.server, self._socket, self._app,
                                      log_output=False)

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *statuses: int, path: str | None = None) -> None:
        """The next requests' statuses (to `path` only, when given)."""
        (self.by_path.setdefault(path, deque()) if path else self.script).extend(statuses)

    def answer_event(self, event_id: str, *statuses: int) -> None:
        """The next deliveries of one event get these statuses."""
        self.by_event.setdefault(event_id, deque()).extend(statuses)

    def close(self) -> None:
        self._server.kill()
        self._socket.close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def delivered(self, path: str | None = None) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300
                and (path is None or r.headers.get("x-path") == path)]

    def delivered_ids(self, path: str | None = None) -> list[str]:
        return [r.event["id"] for r in self.delivered(path)]

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items()
                   if k.startswith("HTTP_")}
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        path = environ.get("PATH_INFO", "/")
        headers["x-path"] = path
        verified = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                verified.append(secret)
            except WebhookVerificationError:
                pass
        queue = self.by_event.get(headers.get("webhook-id", "")) or self.by_path.get(path)
        status = (queue.popleft() if queue else self.script.popleft() if self.script else 200)
        if not verified:
            self.refused.append(headers.get("webhook-id", ""))
            status = 401
        self.received.append(Received(headers, body, json.loads(body), status, verified))
        start_response(f"{status} {'OK' if status < 300 else 'NO'}",
                       [("Content-Type", "text/plain")])
        return [b"thanks" if status < 300 else b"x" * 10000]
