"""notify's own settings, read once at start and checked there: a bad value stops the start
with one line naming the setting (`quiet_hours: ...`, `channels.SMS.adapter: ...`).

The names are those the config files in deploy/ and simulator/ already use, every one
optional; their structure (quiet hours, backoff, per-channel limits and adapters) is checked
by hand, since it is more than one number or word each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chassis.config import ConfigError, own_secret
from notify.channels import ChannelAdapter, build_adapter
from notify.domain import (
    DEFAULT_TIME_ZONE,
    Backoff,
    Channel,
    QuietHours,
    parse_clock,
    zone_of,
)
from notify.privacy import ContactCipher

T = TypeVar("T")


@dataclass(frozen=True)
class NotifySettings:
    """notify's part of the settings (`settings.extra`), typed."""

    quiet_hours: QuietHours = QuietHours()
    default_time_zone: str = DEFAULT_TIME_ZONE
    default_channels: tuple[Channel, ...] = (Channel.SMS,)
    # Channel -> (capacity, per second) of its token bucket; a channel not named is unlimited.
    rate_limits: dict[str, tuple[float, float]] = field(default_factory=dict)
    backoff: Backoff = Backoff()
    # How long a message waits for its customer's contact (events arrive in any order).
    contact_wait: timedelta = timedelta(hours=48)
    public_url: str = "https://notify.aftersales.example.cn"
    owner_app_url: str = "https://owner.aftersales.example.cn"
    # Each dealer site's portal ({dealer code: its base URL}): the owner's links about a visit
    # there (the car, the inspection report, the quote, booking from a reminder) open on that
    # site's own pages; a dealer not named falls back to `owner_app_url`.
    owner_pages: dict[str, str] = field(default_factory=dict)
    # Headquarters' own portal, where the follow-up survey and the unsubscribe page are. Empty:
    # surveys open `owner_app_url` and unsubscribing is notify's own page at `public_url`.
    portal_url: str = ""
    dealer_names: dict[str, str] = field(default_factory=dict)
    dispatch_batch: int = 200
    dispatch_loop: bool = True
    # Channel (SMS, EMAIL, WECHAT, PUSH) -> its adapter's settings, already checked.
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Seals the contact book; signs unsubscribe links; checks the SMS gateway's webhook.
    contact_secret: str = ""
    link_secret: str = ""
    gateway_secret: str | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> NotifySettings:
        # The channel and timing settings are checked first, then the secrets: a bad value
        # and a missing secret together name the value, which is the one in the file.
        options = cls.from_extra(settings.extra)
        return dataclasses.replace(options, contact_secret=own_secret(settings, "contact_secret"),
                                   link_secret=own_secret(settings, "link_secret"))

    @classmethod
    def from_extra(cls, extra: dict[str, Any], *, contact_secret: str = "",
                   link_secret: str = "") -> NotifySettings:
        """Raises ConfigError naming the first bad setting (one line, no traceback)."""
        channels = _channels(extra.get("channels") or {})
        quiet = _setting("quiet_hours", lambda: dict(extra.get("quiet_hours") or {}))
        backoff = _setting("backoff", lambda: dict(extra.get("backoff") or {}))
        limits = _setting("rate_limits", lambda: {
            str(ch).upper(): (float(v.get("capacity", 10)), float(v["per_second"]))
            for ch, v in (extra.get("rate_limits") or {}).items()})
        zone = str(extra.get("default_time_zone", DEFAULT_TIME_ZONE))
        _setting("default_time_zone", lambda: ZoneInfo(zone))  # stops the start, not a send
        sms = channels.get("SMS") or {}
        return cls(
            quiet_hours=_setting("quiet_hours", lambda: QuietHours(
                parse_clock(str(quiet.get("start", "21:00"))),
                parse_clock(str(quiet.get("end", "08:00"))))),
            default_time_zone=zone,
            default_channels=_setting("default_channels", lambda: tuple(
                Channel(str(c).upper()) for c in extra.get("default_channels", ["SMS"]))),
            rate_limits=limits,
            backoff=_setting("backoff", lambda: Backoff(**{
                k: (int(v) if k == "max_attempts" else float(v)) for k, v in backoff.items()})),
            contact_wait=_setting("contact_wait_hours", lambda: timedelta(
                hours=float(extra.get("contact_wait_hours", 48)))),
            public_url=str(extra.get("public_url", cls.public_url)).rstrip("/"),
            owner_app_url=str(extra.get("owner_app_url", cls.owner_app_url)).rstrip("/"),
            owner_pages=_owner_pages(extra.get("owner_pages")),
            portal_url=_http_url("portal_url", extra.get("portal_url") or ""),
            dealer_names=_setting("dealer_names", lambda: dict(extra.get("dealer_names") or {})),
            dispatch_batch=_setting("dispatch_batch", lambda: int(
                extra.get("dispatch_batch", 200))),
            dispatch_loop=bool(extra.get("dispatch_loop", True)),
            channels=channels,
            contact_secret=contact_secret,
            link_secret=link_secret,
            gateway_secret=sms.get("api_secret"),
        )

    def owner_link(self, dealer_code: str | None, path: str) -> str:
        """A page about the owner's visit at `dealer_code`, on that site's portal."""
        return f"{self.owner_pages.get(dealer_code or '', self.owner_app_url)}{path}"

    def survey_link(self, token: str) -> str:
        """The follow-up survey crm signed: headquarters runs it, whichever site it was."""
        return f"{self.portal_url or self.owner_app_url}/surveys/{token}"

    def unsubscribe_link(self, token: str) -> str:
        """The portal's page asks to confirm (a GET must not unsubscribe: mail scanners open
        links); without a portal, notify's own link, which unsubscribes when opened."""
        return f"{self.portal_url or self.public_url}/unsubscribe/{token}"

    def zone_of(self, contact: dict[str, Any] | None) -> str:
        return zone_of(contact, self.default_time_zone)

    def adapters(self) -> dict[str, ChannelAdapter]:
        """One adapter per configured channel (adapters keep state such as WeChat's access
        token, so a process builds them once)."""
        return {channel: build_adapter(channel, dict(config))
                for channel, config in self.channels.items()}


def _channels(raw: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise ConfigError("channels: must map a channel name to its adapter settings")
    channels = {}
    for name, config in raw.items():
        channel = str(name).upper()
        if channel not in Channel.__members__:  # only the four channels the owner can choose
            raise ConfigError(f"channels.{name}: not one of "
                              f"{', '.join(c.value for c in Channel)}")
        if not isinstance(config, dict):
            raise ConfigError(f"channels.{name}: must be a mapping with an 'adapter'")
        build_adapter(channel, dict(config))  # checked now: a bad adapter stops the start
        channels[channel] = dict(config)
    return channels


def _http_url(name: str, value: Any) -> str:
    """An http(s) base URL without its trailing slash ('' stays ''), or a ConfigError."""
    text = str(value).strip().rstrip("/")
    if text and (urlsplit(text).scheme not in ("http", "https") or not urlsplit(text).netloc):
        raise ConfigError(f"{name}: {text!r} is not an http(s) URL")
    return text


def _owner_pages(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("owner_pages: must map a dealer code to its portal's URL")
    pages = {str(dealer): _http_url(f"owner_pages.{dealer}", url) for dealer, url in raw.items()}
    for dealer, url in pages.items():
        if not url:
            raise ConfigError(f"owner_pages.{dealer}: give the portal's URL")
    return pages


def _setting(name: str, read: Callable[[], T]) -> T:
    """`read()`, or a ConfigError naming the setting when its value cannot be used."""
    try:
        return read()
    except (ValueError, TypeError, KeyError, AttributeError, ZoneInfoNotFoundError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{name}: {problem}") from None


def notify_resources(settings: Any) -> dict[str, Any]:
    """What every notify unit of work of a process shares, built once at start: the contact
    cipher and one adapter per configured channel (checked, with the rest, when the container
    was built)."""
    options = NotifySettings.from_settings(settings)
    return {"cipher": ContactCipher(options.contact_secret), "channels": options.adapters()}
