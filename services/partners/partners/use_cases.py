"""partners' service layer: the registry the operator keeps, what each event that reaches
headquarters becomes (a feed message per entitled partner, a delivery per endpoint), the
dispatcher's tick (record answers, take due deliveries), replays and the pull feed.

Every function works in the unit of work it is given (`PartnersUnitOfWork`, or a fake one in
the unit tests) and never commits; the rules are `partners.domain`'s.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound
from contracts import ContractViolation, contract_for, events, personal
from partners import domain
from partners.domain import (
    About,
    AttemptResult,
    DeliveryStatus,
    DisabledBecause,
    EndpointStatus,
    Entitlements,
    Job,
    Outcome,
    Secret,
    TokenBucket,
)
from partners.settings import PartnersSettings

if TYPE_CHECKING:  # the store's SQLAlchemy stays out of the service layer
    from partners.store import PartnersUnitOfWork

log = logging.getLogger(__name__)
Event = dict[str, Any]

# Never passed on: the types whose subject is a customer id (owners' consent itself), and
# partners' own events about partners (one partner's endpoint is no other partner's business).
NOT_SHARED = frozenset(c.type for c in events.ALL
                       if personal.subject_is_personal(c.type) or c.producer == "partners")
SHARED_TYPES = frozenset(c.type for c in events.ALL) - NOT_SHARED
# Credentials that act as the owner (a survey's answer token, a quote's decision link): an
# owner's consent to share their personal data with a partner is no power of attorney, so
# these are removed whatever the consent.
CREDENTIALS: dict[str, tuple[str, ...]] = {events.SurveyRequested.type: ("link_token",),
                                           events.QuoteIssued.type: ("quote_url",)}


def shown_data(event_type: str, data: Mapping[str, Any], *, consented: bool) -> dict[str, Any]:
    """What a partner sees of an event's data: without personal fields (contracts.personal)
    unless the owner consented to that partner, and never the owner's credentials."""
    if not consented:
        return personal.redact(event_type, data)
    return {k: v for k, v in data.items() if k not in CREDENTIALS.get(event_type, ())}


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def event_types(names: Iterable[str]) -> list[str]:
    """Event types by name (`QuoteApproved`) or type (`aftersales.QuoteApproved.v1`), each
    one a partner may be given; InvalidInput naming the first that is not."""
    found = []
    for name in names:
        try:
            event_type = contract_for(name).type
        except ContractViolation:
            raise InvalidInput("event_types", f"{name!r} is no event type") from None
        if event_type not in SHARED_TYPES:
            raise InvalidInput("event_types", f"{name} is never passed to partners")
        found.append(event_type)
    return sorted(set(found))


# -- the registry ------------------------------------------------------------------------------


def _entitlements(document: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The stored form of entitlements from the operator's, and the VINs listed."""
    entitled = Entitlements(
        event_types=frozenset(event_types(document.get("event_types") or [])),
        dealers=None if document.get("dealers") is None else frozenset(document["dealers"]),
        regions=None if document.get("regions") is None else frozenset(document["regions"]),
        all_vehicles=bool(document.get("all_vehicles", True)))
    return entitled.as_document(), sorted(set(document.get("vins") or []))


def register_partner(uow: PartnersUnitOfWork, *, partner_id: str | None, name: str,
                     client_id: str, entitlements: Mapping[str, Any],
                     now: datetime) -> dict[str, Any]:
    """A franchise shop, linked to the client id identity gave its system."""
    partner_id = partner_id or f"ptn_{uuid.uuid4().hex[:12]}"
    if uow.registry.partner(partner_id) is not None:
        raise Conflict(f"partner {partner_id} exists already", partner_id=partner_id)
    if uow.registry.partner_of_client(client_id) is not None:
        raise Conflict(f"client {client_id} belongs to another partner", client_id=client_id)
    stored, vins = _entitlements(entitlements)
    uow.registry.add_partner({"partner_id": partner_id, "name": name, "client_id": client_id,
                              "active": True, "entitlements": stored, "created_at": now,
                              "updated_at": now})
    uow.registry.replace_vins(partner_id, vins)
    return partner(uow, partner_id)


def set_entitlements(uow: PartnersUnitOfWork, partner_id: str,
                     entitlements: Mapping[str, Any], *, now: datetime) -> dict[str, Any]:
    _partner(uow, partner_id)
    stored, vins = _entitlements(entitlements)
    uow.registry.save_partner(partner_id, entitlements=stored, updated_at=now)
    uow.registry.replace_vins(partner_id, vins)
    return partner(uow, partner_id)


def set_active(uow: PartnersUnitOfWork, partner_id: str, active: bool, *,
               now: datetime) -> dict[str, Any]:
    _partner(uow, partner_id)
    uow.registry.save_partner(partner_id, active=active, updated_at=now)
    return partner(uow, partner_id)


def partner(uow: PartnersUnitOfWork, partner_id: str) -> dict[str, Any]:
    found = _partner(uow, partner_id)
    return {**found, "entitlements": {**found["entitlements"],
                                      "vins": sorted(uow.registry.vins(partner_id))},
            "endpoints": [endpoint_view(e) for e in uow.registry.endpoints_of(partner_id)]}


def partners(uow: PartnersUnitOfWork) -> list[dict[str, Any]]:
    return [partner(uow, p["partner_id"]) for p in uow.registry.partners()]


def _partner(uow: PartnersUnitOfWork, partner_id: str) -> dict[str, Any]:
    found = uow.registry.partner(partner_id)
    if found is None:
        raise NotFound(f"partner {partner_id} not found")
    return found


def put_region(uow: PartnersUnitOfWork, dealer_code: str, region: str, *,
               now: datetime) -> dict[str, str]:
    """Partners' own copy of a dealer's region (what `regions` entitlements go by)."""
    uow.registry.put_region(dealer_code, region, now)
    return {"dealer_code": dealer_code, "region": region}


def regions(uow: PartnersUnitOfWork) -> list[dict[str, str]]:
    return [{"dealer_code": d, "region": r} for d, r in sorted(uow.registry.regions().items())]


# -- endpoints and secrets ---------------------------------------------------------------------


def endpoint_view(row: Mapping[str, Any], secret: str | None = None) -> dict[str, Any]:
    view = {k: row[k] for k in ("endpoint_id", "partner_id", "url", "event_types", "status",
                                "disabled_because", "disabled_at", "failing_since",
                                "rate_per_second", "rate_burst", "created_at")}
    return {**view, "secret": secret} if secret else view


def add_endpoint(uow: PartnersUnitOfWork, options: PartnersSettings, partner_id: str, *,
                 url: str, types: Iterable[str] | None, rate_per_second: float | None,
                 random_bytes: bytes, now: datetime) -> dict[str, Any]:
    """A webhook endpoint; its first secret is in the answer (and in no other)."""
    _partner(uow, partner_id)
    refused = domain.url_refusal(url, allow_private=options.allow_private_endpoints)
    if refused:
        raise InvalidInput("url", refused)
    endpoint_id = str(uuid.uuid4())
    row = {"endpoint_id": endpoint_id, "partner_id": partner_id, "url": url,
           "event_types": None if types is None else event_types(types),
           "status": EndpointStatus.ACTIVE.value, "rate_per_second":
           rate_per_second or options.rate_per_second,
           "rate_burst": max(options.rate_burst, rate_per_second or 0), "created_at": now}
    uow.registry.add_endpoint(row)
    secret = Secret(str(uuid.uuid4()), domain.new_secret(random_bytes), now, None)
    uow.registry.add_secret(secret, endpoint_id)
    return endpoint_view(_endpoint(uow, endpoint_id), secret.secret)


def rotate_secret(uow: PartnersUnitOfWork, options: PartnersSettings, endpoint_id: str, *,
                  overlap_hours: float | None, random_bytes: bytes,
                  now: datetime) -> dict[str, Any]:
    """A new secret signs from now on; the previous ones sign too until the overlap ends
    (several signatures in `webhook-signature` meanwhile)."""
    _endpoint(uow, endpoint_id)
    overlap = (options.secret_overlap if overlap_hours is None
               else timedelta(hours=overlap_hours))
    uow.registry.expire_secrets(endpoint_id, now + overlap)
    secret = Secret(str(uuid.uuid4()), domain.new_secret(random_bytes), now, None)
    uow.registry.add_secret(secret, endpoint_id)
    return {**endpoint_view(_endpoint(uow, endpoint_id), secret.secret),
            "previous_secrets_expire_at": now + overlap}


def enable_endpoint(uow: PartnersUnitOfWork, endpoint_id: str, *,
                    now: datetime) -> dict[str, Any]:
    """Back in service: what waits for it goes out again (FAILED ones after a replay)."""
    _endpoint(uow, endpoint_id)
    uow.registry.save_endpoint(endpoint_id, status=EndpointStatus.ACTIVE.value,
                               disabled_because=None, disabled_at=None, failing_since=None)
    return endpoint_view(_endpoint(uow, endpoint_id))


def disable_endpoint(uow: PartnersUnitOfWork, endpoint_id: str, *,
                     now: datetime) -> dict[str, Any]:
    found = _endpoint(uow, endpoint_id)
    if found["status"] == EndpointStatus.ACTIVE.value:
        _disable(uow, found, DisabledBecause.OPERATOR, now)
    return endpoint_view(_endpoint(uow, endpoint_id))


def _endpoint(uow: PartnersUnitOfWork, endpoint_id: str, *,
              lock: bool = False) -> dict[str, Any]:
    found = uow.registry.endpoint(endpoint_id, lock=lock)
    if found is None:
        raise NotFound(f"endpoint {endpoint_id} not found")
    return found


_NOTICES = {
    DisabledBecause.GONE: "answered 410 Gone",
    DisabledBecause.FAILING: "failed every delivery attempt for too long",
    DisabledBecause.OPERATOR: "was disabled by headquarters' operator",
}


def _disable(uow: PartnersUnitOfWork, endpoint: Mapping[str, Any], because: DisabledBecause,
             now: datetime) -> None:
    """Disable an endpoint and tell its partner: a notice it reads with its own token
    (`GET /notices`) and, when partners itself decided it (410 Gone, failing), a
    PartnerEndpointDisabled event."""
    uow.registry.save_endpoint(endpoint["endpoint_id"], status=EndpointStatus.DISABLED.value,
                               disabled_because=because.value, disabled_at=now)
    text = (f"Your endpoint {endpoint['url']} {_NOTICES[because]} and is disabled; nothing "
            "more is sent to it until headquarters enables it again. Events still reach "
            "your feed (GET /feed).")
    uow.outbound.add_notice({"partner_id": endpoint["partner_id"],
                             "endpoint_id": endpoint["endpoint_id"],
                             "kind": f"ENDPOINT_DISABLED_{because.value}", "text": text,
                             "created_at": now})
    # The event says what partners decided (GONE, FAILING); an operator's decision is the
    # operator's to announce, the notice above tells the partner.
    contract = getattr(events, "PartnerEndpointDisabled", None)
    if contract is not None and because is not DisabledBecause.OPERATOR:
        uow.emit(contract, {"partner_id": endpoint["partner_id"],
                            "endpoint_id": endpoint["endpoint_id"], "url": endpoint["url"],
                            "reason": because.value, "disabled_at": now.isoformat()},
                 subject=endpoint["endpoint_id"], correlation_id=endpoint["partner_id"],
                 dealer_code=domain.HEADQUARTERS_DEALER)
    log.warning("endpoint %s of partner %s disabled (%s)", endpoint["endpoint_id"],
                endpoint["partner_id"], because.value)


# -- what an event becomes -------------------------------------------------------------------


def receive(uow: PartnersUnitOfWork, event: Event, *, now: datetime) -> int:
    """An event that reached headquarters: a feed message for each partner entitled to it
    (its personal fields removed unless the owner consented to that partner) and a delivery
    for each of that partner's active endpoints that takes its type. Returns the deliveries
    made."""
    data = event["data"]
    # The outbound lock first, before any row lock (facts): one order of locks, no deadlock.
    uow.outbound.lock()
    customers, vins, references = domain.concerns(data)
    for fact in uow.facts.known(references):
        customers |= {fact["customer_id"]} if fact["customer_id"] else set()
        vins |= {fact["vin"]} if fact["vin"] else set()
    if len(customers) <= 1 and len(vins) <= 1:
        uow.facts.learn(references, next(iter(customers), None), next(iter(vins), None))
    partners_now = uow.registry.active_partners()
    if not partners_now:
        return 0
    about = About(event["dealercode"], frozenset(customers), frozenset(vins))
    restricted = any(not p["entitlements"].get("all_vehicles", True) for p in partners_now)
    vins_by = uow.registry.all_vins() if restricted else {}
    by_region = any(p["entitlements"].get("regions") for p in partners_now)
    region = uow.registry.regions().get(about.dealer_code) if by_region else None
    consenting = uow.facts.consenting_partners(customers)
    endpoints: dict[str, list[dict[str, Any]]] = defaultdict(list)
    made = 0
    loaded = False
    subject_key = f"{event['source']}|{event['subject']}"
    for found in partners_now:
        partner_id = found["partner_id"]
        entitled = Entitlements.from_document(found["entitlements"], vins_by.get(partner_id, ()))
        consented = partner_id in consenting
        if not domain.is_entitled(entitled, event["type"], about, region=region,
                                  consented=consented):
            continue
        data_shown = shown_data(event["type"], data, consented=consented)
        body = json.dumps({**event, "data": data_shown}, ensure_ascii=False,
                          separators=(",", ":"))
        position = uow.outbound.add_message({
            "partner_id": partner_id, "event_id": event["id"], "event_type": event["type"],
            "dealer_code": event["dealercode"], "subject_key": subject_key,
            "sequence": event["sequence"], "event_time": _time(event["time"]), "body": body,
            "received_at": now})
        if position is None:  # this partner has it already
            continue
        if not loaded:
            for endpoint in uow.registry.active_endpoints():
                endpoints[endpoint["partner_id"]].append(endpoint)
            loaded = True
        for endpoint in endpoints[partner_id]:
            types = endpoint["event_types"]
            if domain.endpoint_takes(None if types is None else frozenset(types),
                                     event["type"]):
                _enqueue(uow, endpoint["endpoint_id"], partner_id, position, event,
                         subject_key, now)
                made += 1
    return made


def _enqueue(uow: PartnersUnitOfWork, endpoint_id: str, partner_id: str, position: int,
             event: Event, subject_key: str, now: datetime) -> None:
    placed = domain.place(event["sequence"], uow.outbound.lane(endpoint_id, subject_key))
    uow.outbound.update(placed.demote, status=DeliveryStatus.WAITING.value)
    uow.outbound.add_delivery({
        "endpoint_id": endpoint_id, "partner_id": partner_id, "position": position,
        "event_id": event["id"], "event_type": event["type"], "subject_key": subject_key,
        "sequence": event["sequence"], "status": placed.status.value, "attempts": 0,
        "next_attempt_at": now, "created_at": now})


def consent_changed(uow: PartnersUnitOfWork, event: Event) -> int:
    """crm's (or notify's) word on what an owner allows: a purpose `partner:<partner id>`
    grants or withdraws sharing the owner's personal data with that partner, under crm's id
    and each site's id of the owner. Other purposes are not partners' business. Returns the
    ids whose consent changed."""
    data = event["data"]
    partner_id = domain.partner_of_purpose(str(data.get("purpose", "")))
    if partner_id is None:
        return 0
    at = _time(data.get("changed_at") or data["expressed_at"])
    changed = 0
    for customer_id in dict.fromkeys([data["customer_id"], *data.get("aliases", [])]):
        changed += uow.facts.record_consent(customer_id, partner_id, bool(data["granted"]), at)
    return changed


# -- the dispatcher ------------------------------------------------------------------------------


@dataclass
class DispatchRun:
    """What one tick did: the jobs to send now, and what it recorded (for the metrics)."""

    jobs: list[Job] = field(default_factory=list)
    # (partner, endpoint, outcome): delivered, retrying, exhausted, gone
    outcomes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    failures: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    lags: list[tuple[str, str, float]] = field(default_factory=list)
    disabled: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        totals: Counter[str] = Counter()
        for (_, _, outcome), count in self.outcomes.items():
            totals[outcome] += count
        return {"sent": len(self.jobs), **{k: totals.get(k, 0) for k in
                                            ("delivered", "retrying", "exhausted", "gone")},
                "disabled": len(self.disabled)}


def dispatch(uow: PartnersUnitOfWork, options: PartnersSettings, *,
             finished: list[AttemptResult], room: int, now: datetime,
             draw: Callable[[], float]) -> DispatchRun:
    """One tick: record the answers the sender has had since the last one, take back
    deliveries whose dispatcher stopped, and take up to `room` due deliveries to send
    (SENDING, with a lease), each endpoint within its rate limit. The sending itself happens
    after this transaction commits (`partners.sender`), never inside it."""
    run = DispatchRun()
    uow.outbound.lock()
    for result in finished:
        _record(uow, options, result, now=now, draw=draw, run=run)
    expired = uow.outbound.expired_leases(now)
    uow.outbound.update(expired, status=DeliveryStatus.PENDING.value, lease_until=None,
                        next_attempt_at=now)
    if room > 0:
        _take_due(uow, options, min(room, options.dispatch_batch), now, run)
    return run


def _record(uow: PartnersUnitOfWork, options: PartnersSettings, result: AttemptResult, *,
            now: datetime, draw: Callable[[], float], run: DispatchRun) -> None:
    outcome = result.outcome
    uow.outbound.log_attempt({
        "delivery_id": result.delivery_id, "endpoint_id": result.endpoint_id,
        "attempt": result.attempt, "started_at": result.started_at,
        "outcome": outcome.value, "status_code": result.status_code,
        "latency_ms": round(result.latency_ms, 3),
        "response_excerpt": result.excerpt, "error": (result.error or None) and
        result.error[:500]})
    row = uow.outbound.delivery(result.delivery_id, lock=True)
    if (row is None or row["status"] != DeliveryStatus.SENDING.value
            or row["attempts"] != result.attempt):
        return  # taken back after its lease ran out: the later attempt decides
    endpoint = _endpoint(uow, result.endpoint_id, lock=True)
    key = (result.partner_id, result.endpoint_id)
    answered = {"last_status_code": result.status_code, "lease_until": None,
                "last_error": (result.error or None) and result.error[:500]}
    if outcome is Outcome.DELIVERED:
        uow.outbound.update([row["delivery_id"]], status=DeliveryStatus.DELIVERED.value,
                            delivered_at=now, settled_at=now, **answered)
        if endpoint["failing_since"] is not None:
            uow.registry.save_endpoint(result.endpoint_id, failing_since=None)
        run.outcomes[(*key, "delivered")] += 1
        arrived = row["created_at"]
        done = result.started_at + timedelta(milliseconds=result.latency_ms)
        run.lags.append((*key, max(0.0, (done - arrived).total_seconds())))
        _promote(uow, row, now)
        return
    if outcome is Outcome.GONE:
        uow.outbound.update([row["delivery_id"]], status=DeliveryStatus.FAILED.value,
                            settled_at=now, **answered)
        run.outcomes[(*key, "gone")] += 1
        if endpoint["status"] == EndpointStatus.ACTIVE.value:
            _disable(uow, endpoint, DisabledBecause.GONE, now)
            run.disabled.append(key)
        _promote(uow, row, now)
        return
    run.failures[(*key, domain.failure_reason(result.status_code, result.error))] += 1
    again = options.retry.next_attempt(result.attempt, now, draw())
    if again is None:
        uow.outbound.update([row["delivery_id"]], status=DeliveryStatus.FAILED.value,
                            settled_at=now, **answered)
        run.outcomes[(*key, "exhausted")] += 1
        _promote(uow, row, now)
    else:
        uow.outbound.update([row["delivery_id"]], status=DeliveryStatus.PENDING.value,
                            next_attempt_at=again, **answered)
        run.outcomes[(*key, "retrying")] += 1
    failing_since = endpoint["failing_since"] or now
    if endpoint["failing_since"] is None:
        uow.registry.save_endpoint(result.endpoint_id, failing_since=failing_since)
    if (endpoint["status"] == EndpointStatus.ACTIVE.value
            and domain.should_disable(failing_since, now, options.disable_after)):
        _disable(uow, endpoint, DisabledBecause.FAILING, now)
        run.disabled.append(key)


def _promote(uow: PartnersUnitOfWork, settled: Mapping[str, Any], now: datetime) -> None:
    """The next delivery of the settled one's subject, if one waits, is now first in line."""
    lane = uow.outbound.lane(settled["endpoint_id"], settled["subject_key"])
    following = domain.next_in_line(lane)
    if following is not None:
        uow.outbound.update([following], status=DeliveryStatus.PENDING.value,
                            next_attempt_at=now)


def _take_due(uow: PartnersUnitOfWork, options: PartnersSettings, limit: int, now: datetime,
              run: DispatchRun) -> None:
    due = uow.outbound.due(now, limit)
    if not due:
        return
    by_endpoint: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in due:
        by_endpoint[row["endpoint_id"]].append(row)
    secrets = uow.registry.secrets(by_endpoint)
    for endpoint_id, rows in by_endpoint.items():
        endpoint = _endpoint(uow, endpoint_id, lock=True)
        bucket = TokenBucket.restore(endpoint["rate_burst"], endpoint["rate_per_second"],
                                     endpoint["rate_tokens"], endpoint["rate_updated_at"], now)
        bucket, allowed = bucket.take(len(rows), now)
        uow.registry.save_endpoint(endpoint_id, rate_tokens=bucket.tokens,
                                   rate_updated_at=bucket.updated_at)
        later = rows[allowed:]
        if later:  # the next token's time: the rest make way for other endpoints meanwhile
            wait = max(0.0, 1.0 - bucket.tokens) / bucket.per_second
            uow.outbound.update([r["delivery_id"] for r in later],
                                next_attempt_at=now + timedelta(seconds=wait))
        signing = tuple(s.secret for s in domain.signing_secrets(secrets.get(endpoint_id, ()),
                                                                 now))
        for row in rows[:allowed]:
            attempt = row["attempts"] + 1
            uow.outbound.update([row["delivery_id"]], status=DeliveryStatus.SENDING.value,
                                attempts=attempt, lease_until=now + options.lease,
                                last_attempt_at=now)
            run.jobs.append(Job(row["delivery_id"], attempt, endpoint_id, row["partner_id"],
                                endpoint["url"], row["event_id"], row["body"].encode("utf-8"),
                                signing, row["created_at"]))


def backlog(uow: PartnersUnitOfWork) -> dict[tuple[str, str], datetime]:
    """Per active endpoint (partner, endpoint): the arrival of its oldest undelivered event."""
    oldest = uow.outbound.oldest_open()
    return {(e["partner_id"], e["endpoint_id"]): oldest[e["endpoint_id"]]
            for e in uow.registry.active_endpoints() if e["endpoint_id"] in oldest}


# -- replays ---------------------------------------------------------------------------------


def replay(uow: PartnersUnitOfWork, endpoint_id: str, *, event_id: str | None = None,
           start: datetime | None = None, end: datetime | None = None,
           failed_since: datetime | None = None, now: datetime) -> list[int]:
    """Send again, to one endpoint: one message (by its event id), every message of events
    that arrived in [start, end), or every FAILED one of events since `failed_since`. Each is
    put back in line in its subject's sequence order; the ones still in line are left there.
    Returns the deliveries put back."""
    modes = [event_id is not None, start is not None or end is not None,
             failed_since is not None]
    if sum(modes) != 1:
        raise InvalidInput("replay", "give one of: event_id; from and to; failed_since")
    if start is not None and end is not None and end <= start:
        raise InvalidInput("to", "must be after from")
    endpoint = _endpoint(uow, endpoint_id)
    if endpoint["status"] != EndpointStatus.ACTIVE.value:
        raise Conflict("the endpoint is disabled: enable it first", endpoint_id=endpoint_id)
    uow.outbound.lock()
    rows = uow.outbound.to_replay(endpoint_id, event_id=event_id,
                                  start=start or failed_since, end=end,
                                  failed_only=failed_since is not None)
    if event_id is not None and not rows:
        raise NotFound(f"no settled delivery of event {event_id} to this endpoint")
    by_id = {r["delivery_id"]: r for r in rows}
    ordered = domain.replay_order(domain.InLine(r["delivery_id"], r["sequence"],
                                                DeliveryStatus(r["status"])) for r in rows)
    for item in ordered:
        row = by_id[item.id]
        placed = domain.place(item.sequence, uow.outbound.lane(endpoint_id, row["subject_key"]))
        uow.outbound.update(placed.demote, status=DeliveryStatus.WAITING.value)
        uow.outbound.update([item.id], status=placed.status.value, attempts=0,
                            next_attempt_at=now, lease_until=None, delivered_at=None,
                            settled_at=None, last_error=None, last_status_code=None)
    return [item.id for item in ordered]


# -- reading ---------------------------------------------------------------------------------


def deliveries(uow: PartnersUnitOfWork, endpoint_id: str, *, status: str | None,
               limit: int) -> list[dict[str, Any]]:
    _endpoint(uow, endpoint_id)
    return uow.outbound.listing(endpoint_id, status=status, limit=limit)


def attempts(uow: PartnersUnitOfWork, delivery_id: int) -> list[dict[str, Any]]:
    if uow.outbound.delivery(delivery_id) is None:
        raise NotFound(f"delivery {delivery_id} not found")
    return uow.outbound.attempts(delivery_id)


def _partner_of_token(uow: PartnersUnitOfWork, client_id: str) -> dict[str, Any]:
    found = uow.registry.partner_of_client(client_id)
    if found is None:
        raise NotFound("no partner is registered for this client")
    if not found["active"]:
        raise Forbidden("this partner is deactivated")
    return found


def feed(uow: PartnersUnitOfWork, options: PartnersSettings, *, client_id: str, after: int,
         limit: int) -> dict[str, Any]:
    """The partner's messages after `after`, in feed order: the same CloudEvents, redacted
    the same way, as its webhooks carry. `cursor` is what to ask after next time."""
    found = _partner_of_token(uow, client_id)
    rows = uow.outbound.feed(found["partner_id"], after, min(limit, options.feed_limit_max))
    cursor = rows[-1]["position"] if rows else after
    return {"events": [json.loads(r["body"]) for r in rows], "cursor": str(cursor),
            "count": len(rows)}


def notices(uow: PartnersUnitOfWork, *, client_id: str) -> list[dict[str, Any]]:
    return uow.outbound.notices(_partner_of_token(uow, client_id)["partner_id"])
