"""The portal's own settings, read once at start and checked there (a bad one stops the start
with one line naming it). In the YAML under `services: portal:` or AFTERSALES_PORTAL_<NAME>.

The portal holds no business data: it renders pages over the APIs of its own stack's
services, so what it needs is where they answer. At a dealer site: booking, workorder and the
site's identity (staff sign in there, with the WAN down too) and headquarters' identity (owners
sign in there by a code sent by SMS). At headquarters: crm and notify (the survey and the
unsubscribe pages) and identity.

Its secret is its own (`chassis.config.own_secret`): `session_secret` seals the tokens it
keeps for signed-in people at rest.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from chassis.config import ConfigError, bounds, own_secret, typed_settings

SERVICE_URLS = ("booking_url", "workorder_url", "identity_url", "owner_identity_url",
                "crm_url", "notify_url", "payment_url")


@dataclass(frozen=True)
class PortalSettings:
    # The portal's own address as people's browsers reach it (links, redirects, and the
    # origin a form must come from).
    public_url: str = "http://127.0.0.1:8106"
    # Where this stack's services answer (from this process); empty: not in this stack.
    booking_url: str = ""
    workorder_url: str = ""
    identity_url: str = ""
    # Owners sign in at headquarters' identity (the site trusts its tokens); at headquarters
    # itself it is `identity_url`.
    owner_identity_url: str = ""
    crm_url: str = ""
    notify_url: str = ""
    # The payment provider's origin, which the owner's browser is sent to (the CSP lets a
    # form go there and nowhere else).
    payment_url: str = ""
    # A signed-in person's session lasts this long at most (refreshed while in use).
    session_hours: float = field(default=12.0, metadata=bounds(0.1, 24 * 30))
    # How often an open board asks for what changed.
    board_refresh_seconds: float = field(default=3.0, metadata=bounds(0.5, 60))
    # How long a call to a service of the stack may take before the page says so.
    backend_timeout_seconds: float = field(default=5.0, metadata=bounds(0.1, 60))
    session_secret: str = field(default="", repr=False)

    @classmethod
    def from_settings(cls, settings: Any) -> PortalSettings:
        options = typed_settings(cls, settings.extra, session_secret="")
        for name in ("public_url", *SERVICE_URLS):
            value = getattr(options, name)
            if value and urlsplit(value).scheme not in ("http", "https"):
                raise ConfigError(f"{name}: {value!r} is not an http(s) URL")
        stripped = {name: getattr(options, name).rstrip("/")
                    for name in ("public_url", *SERVICE_URLS)}
        if not stripped["owner_identity_url"]:
            stripped["owner_identity_url"] = stripped["identity_url"]
        return dataclasses.replace(options, **stripped,
                                   session_secret=own_secret(settings, "session_secret"))

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def session_seconds(self) -> int:
        return int(self.session_hours * 3600)
