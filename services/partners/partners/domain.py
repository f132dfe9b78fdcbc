"""partners' rules, with no I/O: who is entitled to an event, in what order an endpoint gets
the events of one subject, how often a failed delivery is tried again, what an answer means,
how fast an endpoint may be called and which addresses it may never be.

Plain Python (the standard library's `ipaddress`, `base64`, `random` given by the caller):
the service layer (`partners.use_cases`) reads and writes, these functions decide.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from chassis.errors import InvalidInput

# -- statuses --------------------------------------------------------------------------------


class DeliveryStatus(StrEnum):
    WAITING = "WAITING"      # behind an earlier event of its subject, for this endpoint
    PENDING = "PENDING"      # first in line of its subject: sent when due
    SENDING = "SENDING"      # taken by a dispatcher, its answer not recorded yet
    DELIVERED = "DELIVERED"  # the endpoint answered 2xx in time
    FAILED = "FAILED"        # every attempt failed, or the endpoint answered 410 Gone


OPEN = frozenset({DeliveryStatus.WAITING, DeliveryStatus.PENDING, DeliveryStatus.SENDING})
SETTLED = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.FAILED})


class EndpointStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


class DisabledBecause(StrEnum):
    GONE = "GONE"                # answered 410 Gone
    FAILING = "FAILING"          # every attempt failed for `disable_after` (5 days)
    OPERATOR = "OPERATOR"        # an operator disabled it


class Outcome(StrEnum):
    DELIVERED = "delivered"  # 2xx within the time limit
    GONE = "gone"            # 410: the receiver says it will never take one again
    FAILED = "failed"        # anything else: tried again later


def outcome_of(status_code: int | None) -> Outcome:
    """What one attempt's answer means. No answer (timeout, refused, connection) is a failure;
    a redirect is a failure too (redirects are not followed)."""
    if status_code is None:
        return Outcome.FAILED
    if 200 <= status_code < 300:
        return Outcome.DELIVERED
    if status_code == 410:
        return Outcome.GONE
    return Outcome.FAILED


def failure_reason(status_code: int | None, error: str | None) -> str:
    """A closed set, for a metric label: http_4xx, http_5xx, http_3xx, timeout, refused,
    connection."""
    if status_code is not None:
        return f"http_{status_code // 100}xx"
    text = (error or "").lower()
    if "timeout" in text or "timed out" in text:
        return "timeout"
    if text.startswith("refused"):
        return "refused"
    return "connection"


# -- retries -----------------------------------------------------------------------------------

# After the first attempt (at once): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — 8 attempts.
DEFAULT_RETRY_SECONDS = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


@dataclass(frozen=True)
class RetrySchedule:
    delays: tuple[float, ...] = DEFAULT_RETRY_SECONDS
    jitter: float = 0.1  # each delay is stretched or shrunk by up to this fraction

    @property
    def attempts(self) -> int:
        return len(self.delays) + 1

    def next_attempt(self, attempts_made: int, now: datetime, draw: float) -> datetime | None:
        """When to try again after `attempts_made` failed attempts (1-based), or None when the
        delivery is exhausted. `draw` is a random number in [0, 1) (the caller's source)."""
        if attempts_made >= self.attempts:
            return None
        delay = self.delays[attempts_made - 1]
        factor = 1.0 + self.jitter * (2.0 * draw - 1.0)
        return now + timedelta(seconds=max(0.0, delay * factor))


def should_disable(failing_since: datetime | None, now: datetime, limit: timedelta) -> bool:
    """An endpoint whose every attempt has failed since `failing_since` for `limit` or longer
    is disabled (the partner is told)."""
    return failing_since is not None and now - failing_since >= limit


# -- order per subject -------------------------------------------------------------------------


@dataclass(frozen=True)
class InLine:
    """One open delivery of an endpoint for one subject (source + subject)."""

    id: int
    sequence: int
    status: DeliveryStatus


@dataclass(frozen=True)
class Placement:
    status: DeliveryStatus
    demote: tuple[int, ...] = ()  # PENDING ones that now wait behind the new delivery


def place(sequence: int, open_deliveries: Iterable[InLine]) -> Placement:
    """Where a new (or replayed) delivery of `sequence` goes among the open ones of its
    subject for the same endpoint.

    It is first in line (PENDING) when none is being sent and every open one comes later in
    the subject's sequence; those PENDING then wait behind it. Otherwise it waits (WAITING):
    behind an earlier one, or behind one already on its way (which cannot be called back, so
    an event that arrives late is sent after it)."""
    found = list(open_deliveries)
    if any(d.status is DeliveryStatus.SENDING or d.sequence <= sequence for d in found):
        return Placement(DeliveryStatus.WAITING)
    return Placement(DeliveryStatus.PENDING, tuple(sorted(
        d.id for d in found if d.status is DeliveryStatus.PENDING)))


def next_in_line(open_deliveries: Iterable[InLine]) -> int | None:
    """Once a delivery is settled (delivered, or failed for good), the one of its subject to
    send next: the earliest waiting one in sequence order, unless one is still in line."""
    found = list(open_deliveries)
    if any(d.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING) for d in found):
        return None
    waiting = [d for d in found if d.status is DeliveryStatus.WAITING]
    if not waiting:
        return None
    return min(waiting, key=lambda d: (d.sequence, d.id)).id


def replay_order(deliveries: Iterable[InLine]) -> list[InLine]:
    """Replayed deliveries are put back in line in their subject's sequence order."""
    return sorted(deliveries, key=lambda d: (d.sequence, d.id))


# -- rate limit --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenBucket:
    capacity: float
    per_second: float
    tokens: float
    updated_at: datetime

    @classmethod
    def restore(cls, capacity: float, per_second: float, tokens: float | None,
                updated_at: datetime | None, now: datetime) -> TokenBucket:
        if tokens is None or updated_at is None:
            return cls(capacity, per_second, capacity, now)
        return cls(capacity, per_second, min(tokens, capacity), updated_at)

    def refill(self, now: datetime) -> TokenBucket:
        elapsed = max(0.0, (now - self.updated_at).total_seconds())
        return replace(self, tokens=min(self.capacity, self.tokens + elapsed * self.per_second),
                       updated_at=max(now, self.updated_at))

    def take(self, wanted: int, now: datetime) -> tuple[TokenBucket, int]:
        """Up to `wanted` calls now: the bucket after, and how many it allows."""
        bucket = self.refill(now)
        allowed = max(0, min(wanted, int(bucket.tokens)))
        return replace(bucket, tokens=bucket.tokens - allowed), allowed


# -- entitlements ------------------------------------------------------------------------------

HEADQUARTERS_DEALER = "HQ"  # the dealercode of headquarters' events about no one dealer


@dataclass(frozen=True)
class Entitlements:
    """What a partner may receive: event types; dealers and/or regions (neither: every
    dealer); vehicles: every one, or only the VINs it services and the cars of owners who
    consented to share with it."""

    event_types: frozenset[str] = frozenset()
    dealers: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    all_vehicles: bool = True
    vins: frozenset[str] = frozenset()

    def as_document(self) -> dict[str, Any]:
        return {"event_types": sorted(self.event_types),
                "dealers": None if self.dealers is None else sorted(self.dealers),
                "regions": None if self.regions is None else sorted(self.regions),
                "all_vehicles": self.all_vehicles}

    @classmethod
    def from_document(cls, document: Mapping[str, Any],
                      vins: Iterable[str] = ()) -> Entitlements:
        dealers, regions = document.get("dealers"), document.get("regions")
        return cls(event_types=frozenset(document.get("event_types") or ()),
                   dealers=None if dealers is None else frozenset(dealers),
                   regions=None if regions is None else frozenset(regions),
                   all_vehicles=bool(document.get("all_vehicles", True)),
                   vins=frozenset(vins))


@dataclass(frozen=True)
class About:
    """What an event concerns, as far as entitlements go."""

    dealer_code: str
    customer_ids: frozenset[str] = frozenset()
    vins: frozenset[str] = frozenset()


def dealer_covered(entitled: Entitlements, dealer_code: str, region: str | None) -> bool:
    if dealer_code == HEADQUARTERS_DEALER:  # a recall campaign, about every dealer
        return True
    if entitled.dealers is None and entitled.regions is None:
        return True
    return (dealer_code in (entitled.dealers or ())
            or (region is not None and region in (entitled.regions or ())))


def is_entitled(entitled: Entitlements, event_type: str, about: About, *, region: str | None,
                consented: bool) -> bool:
    """Whether a partner receives this event: its type, its dealer (or region), and, for a
    partner limited to its own cars, one of its VINs or an owner who consented to it."""
    if event_type not in entitled.event_types:
        return False
    if not dealer_covered(entitled, about.dealer_code, region):
        return False
    if entitled.all_vehicles:
        return True
    return consented or bool(about.vins & entitled.vins)


def endpoint_takes(event_types: frozenset[str] | None, event_type: str) -> bool:
    """An endpoint's own filter (None: every type its partner is entitled to)."""
    return event_types is None or event_type in event_types


# Where an event names its owner and its car (the contracts' field names).
_REFERENCES = ("repair_order_id", "appointment_id", "source_repair_order_id")


def concerns(data: Mapping[str, Any]) -> tuple[frozenset[str], frozenset[str], tuple[str, ...]]:
    """(customer ids, VINs, references to an appointment or repair order) named by an event's
    data; what it does not name is looked up from what earlier events said."""
    customers = {data.get("customer_id")}
    customer = data.get("customer")
    if isinstance(customer, Mapping):
        customers.add(customer.get("customer_id"))
    vins = {data.get("vin")}
    vehicle = data.get("vehicle")
    if isinstance(vehicle, Mapping):
        vins.add(vehicle.get("vin"))
    listed = data.get("vins")
    if isinstance(listed, list):
        vins.update(listed)
    references = tuple(str(data[name]) for name in _REFERENCES if data.get(name))
    return (frozenset(c for c in customers if isinstance(c, str) and c),
            frozenset(v for v in vins if isinstance(v, str) and v), references)


# -- consent ---------------------------------------------------------------------------------

PARTNER_PURPOSE = re.compile(r"^partner:(?P<partner>[A-Za-z0-9][A-Za-z0-9._-]{0,63})$")


def partner_of_purpose(purpose: str) -> str | None:
    """`partner:<partner id>`: the owner allows (or withdraws) sharing their personal data
    with that partner. Any other purpose is not partners' business."""
    found = PARTNER_PURPOSE.match(purpose or "")
    return found["partner"] if found else None


# -- secrets -----------------------------------------------------------------------------------

SECRET_PREFIX = "whsec_"


def new_secret(random_bytes: bytes) -> str:
    """A Standard Webhooks secret: `whsec_` and base64 of 24 to 64 random bytes."""
    if not 24 <= len(random_bytes) <= 64:
        raise ValueError("a webhook secret takes 24 to 64 random bytes")
    return SECRET_PREFIX + base64.b64encode(random_bytes).decode("ascii")


@dataclass(frozen=True)
class Secret:
    id: str
    secret: str
    created_at: datetime
    expires_at: datetime | None  # None: the current one


def signing_secrets(secrets: Iterable[Secret], now: datetime) -> list[Secret]:
    """The secrets an endpoint's messages are signed with: the current one and, while a
    rotation overlaps, the previous ones not yet expired (one signature each), newest first."""
    live = [s for s in secrets if s.expires_at is None or s.expires_at > now]
    return sorted(live, key=lambda s: s.created_at, reverse=True)


# -- safe outbound calls -----------------------------------------------------------------------

# What no endpoint may be, beyond what `ipaddress` calls non-global: carrier-grade NAT
# (100.64.0.0/10), the cloud metadata services, and the names of this machine.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_METADATA = frozenset({ipaddress.ip_address("169.254.169.254"),
                       ipaddress.ip_address("fd00:ec2::254")})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback",
                "metadata.google.internal", "metadata")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")


def address_refusal(address: str) -> str | None:
    """Why a call to this IP address is refused, or None when it is a public address.

    Loopback, private, link-local, carrier-grade NAT, multicast, reserved, unspecified and
    the metadata addresses are refused; an IPv4 address inside IPv6 (mapped, NAT64, 6to4,
    Teredo) is judged as the IPv4 address it carries."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"refused: {address!r} is not an IP address"
    if ip in _METADATA:
        return f"refused: {ip} is a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or (ip.sixtofour if ip.sixtofour else None)
        if inner is None and ip.teredo:
            inner = ip.teredo[1]
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            refused = address_refusal(str(inner))
            return f"refused: {ip} carries {inner} ({refused})" if refused else None
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return f"refused: {ip} is a carrier-grade NAT address"
    for test, what in ((ip.is_loopback, "loopback"), (ip.is_link_local, "link-local"),
                       (ip.is_multicast, "multicast"), (ip.is_unspecified, "unspecified"),
                       (ip.is_private, "private"), (ip.is_reserved, "reserved"),
                       (not ip.is_global, "not a public")):
        if test:
            return f"refused: {ip} is a {what} address"
    return None


@dataclass(frozen=True)
class Target:
    """An endpoint URL taken apart: where to connect and what to ask for."""

    scheme: str
    host: str           # a name, or an IP address without brackets
    port: int
    path: str           # path and query, as sent in the request line
    host_is_address: bool = field(default=False)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_target(url: str) -> Target:
    """Raises InvalidInput("url", ...) for a URL that is not http(s) with a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput("url", f"not a URL ({exc})") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput("url", "must be an https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("url", "must not carry a user name or password")
    if parts.fragment:
        raise InvalidInput("url", "must not have a #fragment")
    host = parts.hostname.rstrip(".").lower()
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        is_address = True
    except ValueError:
        is_address = False
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path,
                  is_address)


def url_refusal(url: str, *, allow_private: bool) -> str | None:
    """Why an endpoint URL may not be registered (or called), or None.

    https only, to a public address: an IP literal is checked here, a name again after DNS
    resolution at every call (`partners.sender`). With `allow_private` (development, the
    demo, tests) http and any address are allowed."""
    try:
        target = parse_target(url)
    except InvalidInput as exc:
        return exc.message.removeprefix("url: ")
    if allow_private:
        return None
    if target.scheme != "https":
        return "must be an https:// URL"
    if target.host_is_address:
        return address_refusal(target.host)
    if target.host in _LOCAL_NAMES or target.host.endswith(_LOCAL_SUFFIXES):
        return f"refused: {target.host} names this machine or a private network"
    if "." not in target.host:
        return f"refused: {target.host} is not a public DNS name"
    return None


def resolved_refusal(addresses: Sequence[str]) -> str | None:
    """After DNS resolution: refused unless every address the name resolves to is public (a
    name that also resolves to a private address could be steered to it)."""
    if not addresses:
        return "refused: the name resolves to no address"
    for address in addresses:
        refused = address_refusal(address)
        if refused:
            return refused
    return None


# -- what a dispatcher sends, and what it learns ------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One attempt to deliver one message to one endpoint."""

    delivery_id: int
    attempt: int          # 1-based: this attempt's number
    endpoint_id: str
    partner_id: str
    url: str
    message_id: str       # the event id: `webhook-id`, the same on every attempt
    body: bytes           # the CloudEvent as the partner may see it, exactly as signed
    secrets: tuple[str, ...]
    created_at: datetime  # the event's arrival at headquarters


@dataclass(frozen=True)
class AttemptResult:
    delivery_id: int
    attempt: int
    endpoint_id: str
    partner_id: str
    started_at: datetime
    status_code: int | None
    latency_ms: float
    excerpt: str | None = None  # the start of the answer's body
    error: str | None = None    # no answer: why (timeout, refused, connection)
    created_at: datetime | None = None

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.status_code)
