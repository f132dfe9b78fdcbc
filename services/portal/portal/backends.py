"""The stack's services as the portal calls them: their own HTTP APIs, with the signed-in
person's token or the owner's link grant, so every rule and every role check stays in the
service that owns it and a page can never do more than its visitor may.

An adapter (requests, one pooled session per process). A refusal keeps the service's own
answer (status, error code, message, the fields it names) for the page to show; a service
that does not answer is `Unreachable` (the page says so and asks to try again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass
class ServiceRefused(Exception):
    """The service answered with an error (4xx, 5xx): its status and its error body."""

    status: int
    error: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.error}: {self.message}"

    @property
    def fields(self) -> dict[str, Any]:
        found = self.detail.get("fields")
        return found if isinstance(found, dict) else {}


class Unreachable(Exception):
    """The service did not answer in time (down, or the WAN to headquarters is cut)."""


@dataclass(frozen=True)
class Photo:
    body: bytes
    content_type: str
    etag: str | None


class Backend:
    """One service of the stack at `base_url`."""

    def __init__(self, name: str, base_url: str, *, timeout: float,
                 session: requests.Session) -> None:
        self.name = name
        self.base_url = base_url
        self._timeout = timeout
        self._session = session

    @property
    def configured(self) -> bool:
        return bool(self.base_url)

    def _send(self, method: str, path: str, *, token: str | None, **kwargs: Any
              ) -> requests.Response:
        if not self.base_url:
            raise Unreachable(f"{self.name} is not part of this stack")
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            answer = self._session.request(method, f"{self.base_url}{path}", headers=headers,
                                           timeout=self._timeout, allow_redirects=False,
                                           **kwargs)
        except requests.RequestException as exc:
            raise Unreachable(f"{self.name} did not answer: {type(exc).__name__}") from None
        if answer.status_code >= 400:
            raise _refusal(answer)
        return answer

    def get(self, path: str, *, token: str | None = None,
            params: dict[str, Any] | None = None) -> Any:
        return self._send("GET", path, token=token, params=params).json()

    def post(self, path: str, body: dict[str, Any] | None = None, *,
             token: str | None = None) -> Any:
        answer = self._send("POST", path, token=token, json=body if body is not None else {})
        return answer.json() if answer.content else {}

    def photo(self, path: str, *, token: str | None = None) -> Photo:
        answer = self._send("GET", path, token=token)
        return Photo(answer.content, answer.headers.get("Content-Type", ""),
                     answer.headers.get("ETag"))


def _refusal(answer: requests.Response) -> ServiceRefused:
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = {k: v for k, v in body.items() if k not in ("error", "message")}
    return ServiceRefused(answer.status_code, str(body.get("error", "ERROR")),
                          str(body.get("message", answer.reason or "")), detail)


class Backends:
    """The stack's services the portal calls, by name."""

    def __init__(self, urls: dict[str, str], *, timeout: float) -> None:
        self._session = requests.Session()
        self._session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=50))
        self._session.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=50))
        self._services = {name: Backend(name, url, timeout=timeout, session=self._session)
                          for name, url in urls.items()}

    def __getattr__(self, name: str) -> Backend:
        try:
            return self._services[name]
        except KeyError:
            raise AttributeError(name) from None
