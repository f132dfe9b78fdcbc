"""partners' unit of work without a database: the registry, the facts and the outbound side
kept in memory.

Each store answers like its `partners.store` counterpart (the same methods, the same row
dictionaries and domain objects, the same uniqueness: a partner has an event once in its
feed, an endpoint has an event once in its deliveries), without the locking: a unit test
runs one use case at a time. Rows are handed out as copies, as a database would.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from chassis.unit_of_work import FakeUnitOfWork
from contracts.payloads import consent_supersedes
from partners.domain import OPEN, DeliveryStatus, EndpointStatus, InLine, Secret

Row = dict[str, Any]

# The nullable columns a row starts without (partners.models).
_ENDPOINT_DEFAULTS: Row = {"disabled_because": None, "disabled_at": None,
                           "failing_since": None, "rate_tokens": None,
                           "rate_updated_at": None}
_DELIVERY_DEFAULTS: Row = {"lease_until": None, "last_attempt_at": None,
                           "last_status_code": None, "last_error": None,
                           "delivered_at": None, "settled_at": None}
_OPEN = {s.value for s in OPEN}
_SETTLED = {DeliveryStatus.DELIVERED.value, DeliveryStatus.FAILED.value}


def _copy(row: Row | None) -> Row | None:
    return None if row is None else copy.deepcopy(row)


class InMemoryRegistry:
    """Partners, their VINs, dealers' regions, endpoints and secrets."""

    def __init__(self) -> None:
        self.partner_rows: dict[str, Row] = {}
        self.vin_rows: dict[str, set[str]] = {}
        self.region_rows: dict[str, str] = {}
        self.endpoint_rows: dict[str, Row] = {}
        self.secret_rows: list[tuple[str, Secret]] = []  # (endpoint id, secret)

    def add_partner(self, row: Row) -> None:
        assert row["partner_id"] not in self.partner_rows, "partner added twice"
        assert self.partner_of_client(row["client_id"]) is None, "client id taken"
        self.partner_rows[row["partner_id"]] = copy.deepcopy(row)

    def partner(self, partner_id: str) -> Row | None:
        return _copy(self.partner_rows.get(partner_id))

    def partner_of_client(self, client_id: str) -> Row | None:
        return _copy(next((p for p in self.partner_rows.values()
                           if p["client_id"] == client_id), None))

    def partners(self) -> list[Row]:
        return [copy.deepcopy(self.partner_rows[k]) for k in sorted(self.partner_rows)]

    def active_partners(self) -> list[Row]:
        return [p for p in self.partners() if p["active"]]

    def save_partner(self, partner_id: str, **values: Any) -> None:
        self.partner_rows[partner_id].update(copy.deepcopy(values))

    def vins(self, partner_id: str) -> set[str]:
        return set(self.vin_rows.get(partner_id, ()))

    def all_vins(self) -> dict[str, set[str]]:
        return {p: set(v) for p, v in self.vin_rows.items() if v}

    def replace_vins(self, partner_id: str, vins: Iterable[str]) -> None:
        self.vin_rows[partner_id] = set(vins)

    def regions(self) -> dict[str, str]:
        return dict(self.region_rows)

    def put_region(self, dealer_code: str, region: str, now: datetime) -> None:
        self.region_rows[dealer_code] = region

    # -- endpoints and their secrets -------------------------------------------------------

    def add_endpoint(self, row: Row) -> None:
        assert row["endpoint_id"] not in self.endpoint_rows, "endpoint added twice"
        self.endpoint_rows[row["endpoint_id"]] = {**_ENDPOINT_DEFAULTS, **copy.deepcopy(row)}

    def endpoint(self, endpoint_id: str, *, lock: bool = False) -> Row | None:
        return _copy(self.endpoint_rows.get(endpoint_id))

    def endpoints_of(self, partner_id: str) -> list[Row]:
        found = [e for e in self.endpoint_rows.values() if e["partner_id"] == partner_id]
        return [copy.deepcopy(e) for e in sorted(found, key=lambda e: (e["created_at"],
                                                                      e["endpoint_id"]))]

    def active_endpoints(self) -> list[Row]:
        return [copy.deepcopy(self.endpoint_rows[k]) for k in sorted(self.endpoint_rows)
                if self.endpoint_rows[k]["status"] == EndpointStatus.ACTIVE.value]

    def save_endpoint(self, endpoint_id: str, **values: Any) -> None:
        self.endpoint_rows[endpoint_id].update(copy.deepcopy(values))

    def add_secret(self, secret: Secret, endpoint_id: str) -> None:
        self.secret_rows.append((endpoint_id, secret))

    def secrets(self, endpoint_ids: Iterable[str]) -> dict[str, list[Secret]]:
        wanted = set(endpoint_ids)
        found: dict[str, list[Secret]] = {}
        for endpoint_id, secret in self.secret_rows:
            if endpoint_id in wanted:
                found.setdefault(endpoint_id, []).append(secret)
        return found

    def expire_secrets(self, endpoint_id: str, at: datetime) -> None:
        self.secret_rows = [
            (e, Secret(s.id, s.secret, s.created_at, at)
             if e == endpoint_id and (s.expires_at is None or s.expires_at > at) else s)
            for e, s in self.secret_rows]


class InMemoryFacts:
    """The owner and car of each appointment and repair order, and owners' consents."""

    def __init__(self) -> None:
        self.fact_rows: dict[str, Row] = {}
        self.consent_rows: dict[tuple[str, str], tuple[bool, datetime]] = {}

    def known(self, references: Iterable[str]) -> list[Row]:
        return [dict(self.fact_rows[r]) for r in sorted(set(references))
                if r in self.fact_rows]

    def learn(self, references: Iterable[str], customer_id: str | None,
              vin: str | None) -> None:
        """Whichever event named them first wins (an owner and a car do not change)."""
        if customer_id is None and vin is None:
            return
        for ref in sorted(set(references)):
            ref = ref[:64]
            found = self.fact_rows.setdefault(ref, {"reference": ref, "customer_id": None,
                                                    "vin": None})
            found["customer_id"] = found["customer_id"] or customer_id
            found["vin"] = found["vin"] or vin

    def consenting_partners(self, customer_ids: Iterable[str]) -> set[str]:
        customers = set(customer_ids)
        return {p for (c, p), (granted, _) in self.consent_rows.items()
                if c in customers and granted}

    def record_consent(self, customer_id: str, partner_id: str, granted: bool,
                       at: datetime) -> bool:
        stored = self.consent_rows.get((customer_id, partner_id))
        if not consent_supersedes(stored, granted, at):
            return False
        self.consent_rows[customer_id, partner_id] = (granted, at)
        return True

    def consents_of(self, partner_id: str) -> list[Row]:
        return [{"customer_id": c, "partner_id": p, "granted": g, "changed_at": at}
                for (c, p), (g, at) in sorted(self.consent_rows.items()) if p == partner_id]


class InMemoryOutbound:
    """The feed, the deliveries with their attempt log, and the notices. `due` joins the
    registry's endpoints, as the real query does."""

    def __init__(self, registry: InMemoryRegistry) -> None:
        self.registry = registry
        self.locked = False
        self.message_rows: dict[int, Row] = {}
        self.delivery_rows: dict[int, Row] = {}
        self.attempt_rows: list[Row] = []
        self.notice_rows: list[Row] = []

    def lock(self) -> None:
        self.locked = True

    # -- the feed ----------------------------------------------------------------------------

    def add_message(self, row: Row) -> int | None:
        self.lock()
        if any(m["partner_id"] == row["partner_id"] and m["event_id"] == row["event_id"]
               for m in self.message_rows.values()):
            return None
        position = max(self.message_rows, default=0) + 1
        self.message_rows[position] = {**copy.deepcopy(row), "position": position}
        return position

    def feed(self, partner_id: str, after: int, limit: int) -> list[Row]:
        return [{"position": p, "body": m["body"]} for p, m in sorted(self.message_rows.items())
                if m["partner_id"] == partner_id and p > after][:limit]

    # -- deliveries ------------------------------------------------------------------------

    def lane(self, endpoint_id: str, subject_key: str) -> list[InLine]:
        return [InLine(d["delivery_id"], d["sequence"], DeliveryStatus(d["status"]))
                for d in self.delivery_rows.values()
                if d["endpoint_id"] == endpoint_id and d["subject_key"] == subject_key
                and d["status"] in _OPEN]

    def add_delivery(self, row: Row) -> int | None:
        self.lock()
        if any(d["endpoint_id"] == row["endpoint_id"] and d["event_id"] == row["event_id"]
               for d in self.delivery_rows.values()):
            return None
        delivery_id = max(self.delivery_rows, default=0) + 1
        self.delivery_rows[delivery_id] = {**_DELIVERY_DEFAULTS, **copy.deepcopy(row),
                                           "delivery_id": delivery_id}
        return delivery_id

    def update(self, delivery_ids: Iterable[int], **values: Any) -> None:
        for delivery_id in set(delivery_ids):
            self.delivery_rows[delivery_id].update(values)

    def delivery(self, delivery_id: int, *, lock: bool = False) -> Row | None:
        return _copy(self.delivery_rows.get(delivery_id))

    def due(self, now: datetime, limit: int) -> list[Row]:
        active = {e["endpoint_id"] for e in self.registry.active_endpoints()}
        found = sorted((d for d in self.delivery_rows.values()
                        if d["status"] == DeliveryStatus.PENDING.value
                        and d["next_attempt_at"] <= now and d["endpoint_id"] in active),
                       key=lambda d: (d["next_attempt_at"], d["delivery_id"]))[:limit]
        return [{**copy.deepcopy(d), "body": self.message_rows[d["position"]]["body"]}
                for d in found]

    def expired_leases(self, now: datetime) -> list[int]:
        return sorted(d["delivery_id"] for d in self.delivery_rows.values()
                      if d["status"] == DeliveryStatus.SENDING.value
                      and d["lease_until"] is not None and d["lease_until"] < now)

    def listing(self, endpoint_id: str, *, status: str | None, limit: int) -> list[Row]:
        found = [copy.deepcopy(d) for _, d in sorted(self.delivery_rows.items(), reverse=True)
                 if d["endpoint_id"] == endpoint_id and (not status or d["status"] == status)]
        return found[:limit]

    def to_replay(self, endpoint_id: str, *, event_id: str | None = None,
                  start: datetime | None = None, end: datetime | None = None,
                  failed_only: bool = False) -> list[Row]:
        found = [d for d in self.delivery_rows.values()
                 if d["endpoint_id"] == endpoint_id and d["status"] in _SETTLED
                 and (event_id is None or d["event_id"] == event_id)
                 and (start is None or d["created_at"] >= start)
                 and (end is None or d["created_at"] < end)
                 and (not failed_only or d["status"] == DeliveryStatus.FAILED.value)]
        return [copy.deepcopy(d) for d in sorted(found, key=lambda d: (d["sequence"],
                                                                      d["delivery_id"]))]

    def oldest_open(self) -> dict[str, datetime]:
        oldest: dict[str, datetime] = {}
        for d in self.delivery_rows.values():
            if d["status"] in _OPEN:
                known = oldest.get(d["endpoint_id"])
                oldest[d["endpoint_id"]] = (d["created_at"] if known is None
                                            else min(known, d["created_at"]))
        return oldest

    # -- the attempt log and notices --------------------------------------------------------

    def log_attempt(self, row: Row) -> None:
        self.attempt_rows.append({**row, "attempt_id": len(self.attempt_rows) + 1})

    def attempts(self, delivery_id: int) -> list[Row]:
        return [dict(a) for a in self.attempt_rows if a["delivery_id"] == delivery_id]

    def add_notice(self, row: Row) -> None:
        self.notice_rows.append({**row, "notice_id": len(self.notice_rows) + 1})

    def notices(self, partner_id: str, limit: int = 100) -> list[Row]:
        return [dict(n) for n in reversed(self.notice_rows)
                if n["partner_id"] == partner_id][:limit]


class FakePartnersUnitOfWork(FakeUnitOfWork):
    """What `partners.use_cases` get from the framework, in memory; `emitted` holds the
    events (validated against their contracts)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.registry = InMemoryRegistry()
        self.facts = InMemoryFacts()
        self.outbound = InMemoryOutbound(self.registry)
