"""The quote (报价): lines priced and sent, the owner's decision on each, additional work.

No work starts on a line before the owner approves it: approving a round is what creates the
jobs (approved labour lines) and lets parts set aside the approved part lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chassis.identity import Identity, Role
from contracts import events
from workorder.domain import grants, published, quote
from workorder.domain.pricing import LineKind
from workorder.domain.privileged import Privileged, approval_on_behalf, discounted_labour
from workorder.domain.quote import LineStatus
from workorder.domain.stages import Action, Stage, advance, require_in
from workorder.use_cases.ports import PartsPrices
from workorder.use_cases.views import (
    RepairOrderView,
    Row,
    announce,
    keep_signature,
    quote_view,
    repair_order,
    ro_view,
)

if TYPE_CHECKING:
    from workorder.store import WorkorderUnitOfWork


def add_quote_lines(uow: WorkorderUnitOfWork, parts: PartsPrices, *, actor: Identity,
                    ro_id: str, lines: list[Mapping[str, Any]], labour_rate: Decimal,
                    now: datetime) -> dict[str, Any]:
    """Add labour and part lines (drafts) to the round being built; parts prices each part
    line first, so nothing is stored when parts cannot answer (503)."""
    ro = repair_order(uow, actor, ro_id)
    require_in(ro["stage"], {Stage.PROPOSAL_BUILD}, "adding quote lines",
               work_approved=ro["work_approved"])
    # Priced before the repair order is locked: the RPC may take seconds.
    prices = _price_parts(parts, lines)
    ro = repair_order(uow, actor, ro_id, for_update=True)
    require_in(ro["stage"], {Stage.PROPOSAL_BUILD}, "adding quote lines",
               work_approved=ro["work_approved"])
    round_ = ro["quote_round"]
    quote.check_round_size(len(uow.quotes.lines(ro_id, round_=round_)), len(lines))
    rows = quote.new_lines(lines, prices, after=uow.quotes.highest_line_number(ro_id),
                           round_=round_, default_rate=labour_rate)
    uow.quotes.add_lines(ro_id, rows, by=actor.subject, at=now)
    discounted = discounted_labour(rows, labour_rate, round_=round_)
    if discounted is not None:
        uow.audit(Privileged.QUOTE_LINE_DISCOUNTED, actor=actor, subject=ro_id,
                  detail=discounted)
    return quote_view(uow, ro)


def _price_parts(parts: PartsPrices, lines: Iterable[Mapping[str, Any]]
                 ) -> dict[int, quote.PartPrice]:
    prices = {}
    for index, line in enumerate(lines):
        if line["kind"] != LineKind.PART:
            continue
        prices[index] = quote.part_price(parts.price_of(line["part_number"]),
                                         line["part_number"], f"lines.{index}.part_number")
    return prices


def remove_quote_line(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str, line_id: str
                      ) -> dict[str, Any]:
    """Remove a draft line of the round being built (sent lines are the owner's to decide)."""
    ro = repair_order(uow, actor, ro_id, for_update=True)
    require_in(ro["stage"], {Stage.PROPOSAL_BUILD}, "removing quote lines",
               work_approved=ro["work_approved"])
    quote.check_removable(uow.quotes.line(ro_id, line_id), line_id)
    uow.quotes.remove_line(ro_id, line_id)
    return quote_view(uow, ro)


def send_quote(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str, owner_portal_url: str,
               link_ttl_seconds: int, now: datetime) -> dict[str, Any]:
    """Send the round's draft lines to the owner (QuoteIssued, with the owner's signed link to
    decide them when the site has an owner portal)."""
    ro = repair_order(uow, actor, ro_id, for_update=True)
    to = advance(ro["stage"], Action.SEND_QUOTE, work_approved=ro["work_approved"])
    round_ = ro["quote_round"]
    drafts = uow.quotes.lines(ro_id, round_=round_, status=LineStatus.DRAFT)
    quote.check_sendable(len(drafts))
    who = actor.subject
    uow.quotes.send_round(ro_id, round_, status=LineStatus.PROPOSED.value, by=who, at=now)
    uow.repair_orders.set_stage(ro, to, action=Action.SEND_QUOTE, actor=who, at=now)
    link = _quote_link(uow, ro, round_, owner_portal_url, link_ttl_seconds, now)
    announce(uow, events.QuoteIssued, published.quote_issued(
        ro, round_, drafts, issued_by=who, issued_at=now, quote_url=link), ro_id)
    return quote_view(uow, uow.repair_orders.get(ro_id))


def _quote_link(uow: WorkorderUnitOfWork, ro: Row, round_: int, portal: str, ttl_seconds: int,
                now: datetime) -> str | None:
    """The owner's signed link to decide the round, under the site's owner portal (if any)."""
    token = uow.links.sign_quote(repair_order_id=ro["id"],
                                 quote_id=quote.quote_id(ro["id"], round_), round_=round_,
                                 customer_id=ro["customer_id"], ttl_seconds=ttl_seconds,
                                 now=now.timestamp())
    return grants.quote_url(portal, token)


def get_quote(uow: WorkorderUnitOfWork, *, viewer: Identity, ro_id: str) -> dict[str, Any]:
    return quote_view(uow, repair_order(uow, viewer, ro_id))


def approve_quote(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str,
                  decisions: Iterable[Mapping[str, str]], approved_via: str | None,
                  signature: Mapping[str, Any], signed_from: str | None, now: datetime,
                  grant: grants.QuoteGrant | None = None) -> dict[str, Any]:
    """The owner (online, or through the quote link: `grant`) or the advisor (a phone or
    counter approval) decides every line of the round and signs. Approved labour lines become
    jobs; the repair order goes to work if anything is approved, else straight to settlement;
    QuoteApproved tells parts which part lines to set aside."""
    ro = repair_order(uow, actor, ro_id, for_update=True)
    if grant is not None:  # checked under the lock: a second use, or a race, is refused
        grants.check_quote_waiting(grant, ro, uow.quotes.rounds(ro_id))
    approver = quote.approver(actor, approved_via, ro["customer_id"],
                              through_link=grant is not None)
    require_in(ro["stage"], {Stage.AWAITING_CUSTOMER_AUTHORIZATION}, "deciding quote lines",
               work_approved=ro["work_approved"])
    chosen = quote.decisions_of(decisions)
    round_ = ro["quote_round"]
    decided = quote.decide(uow.quotes.lines(ro_id, round_=round_, status=LineStatus.PROPOSED),
                           chosen)
    signature_sha = keep_signature(uow, signature, "signature.image")
    uow.quotes.decide_lines(ro_id, [line["line_id"] for line in decided.approved],
                            status=LineStatus.APPROVED.value, at=now)
    uow.quotes.decide_lines(ro_id, [line["line_id"] for line in decided.declined],
                            status=LineStatus.DECLINED.value, at=now)
    uow.workshop.add_jobs(ro_id, [line["line_id"] for line in quote.labour_to_do(decided.approved)])
    data = published.quote_approved(ro, round_, decided.approved, decided.declined,
                                    approved_via=approver.via, signed_by=approver.signed_by,
                                    signed_at=now)
    uow.quotes.record_decision(
        ro_id, round_, decided_at=now, approved_via=approver.via, signed_by=approver.signed_by,
        signer_name=signature["name"], signature_sha256=signature_sha, signed_from=signed_from,
        approved_total=data["approved_total"], declined_total=data["declined_total"])
    if approver.on_behalf:
        uow.audit(Privileged.QUOTE_APPROVED_ON_BEHALF, actor=actor, subject=ro_id,
                  detail=approval_on_behalf(data, signer_name=signature["name"],
                                            signature_sha256=signature_sha,
                                            signed_from=signed_from))
    work_approved, action = quote.after_decision(ro["work_approved"], decided)
    to = advance(ro["stage"], action, work_approved=ro["work_approved"])
    uow.repair_orders.set_stage(ro, to, action=action, actor=actor.subject, at=now,
                                work_approved=work_approved)
    announce(uow, events.QuoteApproved, data, ro_id)
    return quote_view(uow, uow.repair_orders.get(ro_id))


def add_work(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str, now: datetime
             ) -> RepairOrderView:
    """Additional work found during the repair (增修): a new quote round opens, while the work
    already approved goes on."""
    ro = repair_order(uow, actor, ro_id, for_update=True)
    to = advance(ro["stage"], Action.ADD_WORK, work_approved=ro["work_approved"])
    round_ = ro["quote_round"] + 1
    uow.quotes.open_round(ro_id, round_, quote_id=quote.quote_id(ro_id, round_),
                          by=actor.subject, at=now)
    uow.repair_orders.set_stage(ro, to, action=Action.ADD_WORK, actor=actor.subject, at=now,
                                quote_round=round_)
    return ro_view(uow, uow.repair_orders.get(ro_id))


# -- the owner's quote link ------------------------------------------------------------------


def quote_by_link(uow: WorkorderUnitOfWork, *, token: str, now: datetime) -> dict[str, Any]:
    """The round the owner's quote link asks them to decide: the link's grant is the
    permission, while that round waits for them."""
    grant = uow.links.read_quote(token, now=now.timestamp())
    ro = uow.repair_orders.find(grant.repair_order_id)
    grants.check_quote_waiting(grant, ro, uow.quotes.rounds(ro["id"]) if ro else ())
    assert ro is not None
    return {**_granted(quote_view(uow, ro), grant), "plate": ro["plate"], "model": ro["model"],
            "report_link": _report_link(uow, ro, grant, now)}


def approve_quote_by_link(uow: WorkorderUnitOfWork, *, token: str,
                          decisions: Iterable[Mapping[str, str]], approved_via: str | None,
                          signature: Mapping[str, Any], signed_from: str | None,
                          now: datetime) -> dict[str, Any]:
    """The owner decides the round through the quote link: their own approval
    (`approve_quote`, the same rules), recorded as LINK."""
    grant = uow.links.read_quote(token, now=now.timestamp())
    owner = Identity(grant.customer_id, Role.OWNER, None,
                     issuer=grants.ISSUERS[grants.Purpose.QUOTE_APPROVAL])
    return _granted(approve_quote(
        uow, actor=owner, ro_id=grant.repair_order_id, decisions=decisions,
        approved_via=approved_via, signature=signature, signed_from=signed_from, now=now,
        grant=grant), grant)


def _report_link(uow: WorkorderUnitOfWork, ro: Row, grant: grants.QuoteGrant, now: datetime
                 ) -> dict[str, Any] | None:
    """The inspection report beside the quote it led to: a report link of its own purpose (a
    quote grant never opens the report itself), expiring with the quote link, so the owner
    weighs each line with the findings and photos behind it. None before any inspection was
    submitted."""
    inspection = uow.inspections.of(ro["id"])
    ttl_seconds = grant.expires_at - int(now.timestamp())
    if inspection is None or inspection["submitted_at"] is None or ttl_seconds <= 0:
        return None
    token = uow.links.sign_report(repair_order_id=ro["id"], inspection_id=inspection["id"],
                                  ttl_seconds=ttl_seconds, now=now.timestamp())
    return {"url": f"/inspection-reports/{token}",
            "expires_at": datetime.fromtimestamp(grant.expires_at, UTC)}


def _granted(view: dict[str, Any], grant: grants.QuoteGrant) -> dict[str, Any]:
    """The quote as the link shows it: its own round only, and until when the link holds."""
    return {**view, "quote_id": grant.quote_id,
            "rounds": [r for r in view["rounds"] if r["round"] == grant.round],
            "expires_at": datetime.fromtimestamp(grant.expires_at, UTC)}
