"""Stock movements, one use case each, in the caller's unit of work: lock, apply the rules
(`parts.domain`), write the rows and the ledger through the store, and emit the events.

Every movement locks the repair orders it touches and then the stock rows (SELECT … FOR
UPDATE), so two movements of one part never interleave: stock cannot go negative and
reservations cannot exceed what is on the shelf, whatever arrives at the same time. Nothing
here commits: the entrypoint's framework does once the use case returned.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chassis.errors import Conflict, InvalidInput, NotFound
from chassis.identity import Identity
from contracts import events
from parts import domain
from parts.domain import (
    CANCELLED,
    OPEN,
    ZERO,
    Change,
    Ledger,
    LockedPart,
    Privileged,
    Reservation,
    quantity_text,
)

if TYPE_CHECKING:  # the store's types, for annotations only: no SQL is reached from here
    from parts.store import PartsUnitOfWork

log = logging.getLogger(__name__)


# -- workorder's decisions --------------------------------------------------------------


def quote_decided(uow: PartsUnitOfWork, event: dict[str, Any], *, actor: str,
                  now: datetime) -> None:
    """`QuoteApproved`: reserve approved PART lines, release declined ones."""
    move = _Movement(uow, actor=actor, now=now)
    data, sequence = event["data"], event["sequence"]
    ro_id = data["repair_order_id"]
    uow.stock.remember_repair_order(ro_id, data["vin"], now)
    existing = uow.stock.reservations_of(ro_id)
    decisions = domain.part_line_decisions(
        data, {line_id: r.decided_sequence for line_id, r in existing.items()}, sequence)
    if not decisions:
        return
    part_numbers = {d.part_number for d in decisions} | {
        existing[d.line_id].part_number for d in decisions if d.line_id in existing}
    orders, locked = move.lock([ro_id], part_numbers)
    if orders[ro_id]["status"] != OPEN:
        log.info("quote for %s ignored: the repair order is %s", ro_id,
                 orders[ro_id]["status"])
        return
    existing = uow.stock.reservations_of(ro_id)  # as of the lock
    decisions = domain.part_line_decisions(
        data, {line_id: r.decided_sequence for line_id, r in existing.items()}, sequence)
    move.also_lock(locked, {existing[d.line_id].part_number for d in decisions
                            if d.line_id in existing})
    # Approvals first, so that stock a declined line frees goes to waiting lines.
    for decision in sorted(decisions, key=lambda d: not d.approved):
        current = existing.get(decision.line_id)
        if current is not None and current.part_number != decision.part_number:
            current = move.release_line(locked, current, status=domain.RELEASED,
                                        reason=domain.LINE_CHANGED)
        lp = locked.get(decision.part_number)
        rule = domain.approve_line if decision.approved else domain.decline_line
        stock, change = rule(lp.stock if lp else None, current, decision,
                             repair_order_id=ro_id, sequence=sequence)
        move.line_changed(locked, current, stock, change)
    move.finish(locked, _open(orders), ro_id)


def repair_order_ended(uow: PartsUnitOfWork, repair_order_id: str, *, status: str,
                       reason: str, vin: str | None = None, actor: str,
                       now: datetime) -> list[Reservation]:
    """Delivered or cancelled: whatever is still set aside goes back to the shelf."""
    return _end(_Movement(uow, actor=actor, now=now), repair_order_id, status=status,
                reason=reason, vin=vin)


def _end(move: _Movement, repair_order_id: str, *, status: str, reason: str,
         vin: str | None = None) -> list[Reservation]:
    uow, now = move.uow, move.now
    if vin is not None:
        uow.stock.remember_repair_order(repair_order_id, vin, now)
    lines = uow.stock.reservations_of(repair_order_id)
    part_numbers = {r.part_number for r in lines.values() if r.status == domain.ACTIVE}
    orders, locked = move.lock([repair_order_id], part_numbers)
    if repair_order_id not in orders:
        return []
    lines = uow.stock.reservations_of(repair_order_id)
    move.also_lock(locked, {r.part_number for r in lines.values()
                            if r.status == domain.ACTIVE})
    released = [move.release_line(locked, line, status=domain.RELEASED, reason=reason)
                for line in lines.values() if line.status == domain.ACTIVE]
    uow.stock.set_repair_order_status(repair_order_id, status, now)
    orders.pop(repair_order_id, None)
    move.finish(locked, _open(orders), repair_order_id)
    return released


def release(uow: PartsUnitOfWork, repair_order_id: str, quote_line_id: str | None,
            reason: str, *, actor: Identity, now: datetime) -> dict[str, Any]:
    """The parts clerk gives back what one line, or every line, of a repair order holds;
    REPAIR_ORDER_CANCELLED also closes the repair order to later quotes. The lines released,
    as they are now."""
    move = _Movement(uow, actor=actor.subject, now=now)
    released = _release(move, repair_order_id, quote_line_id, reason)
    given_back = [{"quote_line_id": line.quote_line_id, "part_number": line.part_number,
                   "released": quantity_text(quantity)}
                  for line, quantity in move.released if quantity > 0]
    if given_back:
        # Parts set aside for what the owner approved went back to the shelf by hand.
        uow.audit(Privileged.RESERVATION_RELEASED, actor=actor, subject=repair_order_id,
                  detail={"reason": reason, "quote_line_id": quote_line_id,
                          "lines": given_back})
    ids = [line.id for line in released]
    return {"repair_order_id": repair_order_id,
            "released": uow.stock.reservation_rows(ids=ids) if ids else []}


def _release(move: _Movement, repair_order_id: str, quote_line_id: str | None,
             reason: str) -> list[Reservation]:
    uow = move.uow
    lines = uow.stock.reservations_of(repair_order_id)
    if not lines:
        raise NotFound(f"repair order {repair_order_id} not found")
    if reason == domain.REPAIR_ORDER_CANCELLED:
        if quote_line_id is not None:
            raise InvalidInput("quote_line_id", "a cancelled repair order releases every line")
        return _end(move, repair_order_id, status=CANCELLED, reason=reason)
    if quote_line_id is not None and quote_line_id not in lines:
        raise NotFound(f"line {quote_line_id} of repair order {repair_order_id} not found")
    chosen = [quote_line_id] if quote_line_id else list(lines)
    orders, locked = move.lock([repair_order_id],
                               {lines[i].part_number for i in chosen})
    lines = uow.stock.reservations_of(repair_order_id)
    move.also_lock(locked, {lines[i].part_number for i in chosen})
    released = [move.release_line(locked, lines[i], status=domain.RELEASED, reason=reason)
                for i in chosen if lines[i].status == domain.ACTIVE]
    move.finish(locked, _open(orders), repair_order_id)
    return released


# -- requisitions and returns ---------------------------------------------------------


def issue(uow: PartsUnitOfWork, request: dict[str, Any], *, actor: str,
          now: datetime) -> dict[str, Any]:
    """Issue reserved parts to a repair order (FIFO over batches) → PartIssued."""
    move = _Movement(uow, actor=actor, now=now)
    ro_id, line_id = request["repair_order_id"], request["quote_line_id"]
    quantity: Decimal = request["quantity"]
    orders = uow.stock.lock_repair_orders([ro_id])
    move.vins.update({k: v["vin"] for k, v in orders.items()})
    line = uow.stock.reservations_of(ro_id).get(line_id) if orders else None
    domain.check_issue(line, quantity, repair_order_id=ro_id, quote_line_id=line_id,
                       part_number=request.get("part_number"))
    assert line is not None
    lp = uow.stock.lock_parts([line.part_number])[line.part_number]
    locked = {line.part_number: lp}
    picks = domain.pick_lots(domain.fifo(uow.stock.lots_on_hand(line.part_number)),
                             quantity, tracking=lp.part.tracking,
                             serial_numbers=request.get("serial_numbers"))
    requisition_id = domain.new_id("REQ")
    uow.stock.add_document(
        "requisition", id=requisition_id, repair_order_id=ro_id, quote_line_id=line_id,
        part_number=line.part_number, quantity=quantity, requested_by=actor,
        issued_at=now)
    ledger = move.ledger(lp, domain.ISSUE, requisition_id, line=line)
    for pick in picks:
        uow.stock.change_lot(pick.lot.id, -pick.quantity)
        ledger.record(-pick.quantity, -pick.quantity, pick.lot)
    lp.stock = lp.stock.issue_reserved(quantity)
    issued = replace(line, reserved=line.reserved - quantity, issued=line.issued + quantity)
    uow.stock.save_reservation(issued, now)
    unit_price = line.unit_price if line.unit_price is not None else lp.part.unit_price
    groups = domain.group_for_events(picks)
    issues = []
    for n, group in enumerate(groups, start=1):
        issue_id = requisition_id if len(groups) == 1 else f"{requisition_id}-{n}"
        data = {"issue_id": issue_id, "repair_order_id": ro_id, "quote_line_id": line_id,
                "vin": move.vins[ro_id], "part_number": line.part_number,
                "part_name": lp.part.name, "quantity": quantity_text(group.quantity),
                "unit": lp.part.unit, "unit_price": domain.money_text(unit_price),
                "currency": "CNY", "from_stock": line.from_stock,
                "issued_by": actor, "issued_at": now,
                **_lot_fields(group)}
        uow.emit(events.PartIssued, data, subject=ro_id, correlation_id=ro_id)
        issues.append({"issue_id": issue_id, "quantity": group.quantity,
                       **_lot_fields(group)})
    move.finish(locked, [], ro_id)
    return {"requisition_id": requisition_id, "repair_order_id": ro_id,
            "quote_line_id": line_id, "part_number": line.part_number,
            "quantity": quantity, "unit": lp.part.unit, "vin": move.vins[ro_id],
            "unit_price": unit_price, "from_stock": line.from_stock, "issues": issues,
            "reserved_left": issued.reserved, "issued_by": actor,
            "issued_at": now}


def return_parts(uow: PartsUnitOfWork, request: dict[str, Any], *, actor: Identity,
                 now: datetime) -> dict[str, Any]:
    """Parts come back from a repair order to the shelf → PartReturned."""
    who = actor.subject
    move = _Movement(uow, actor=who, now=now)
    ro_id, line_id = request["repair_order_id"], request["quote_line_id"]
    quantity: Decimal = request["quantity"]
    line = uow.stock.reservations_of(ro_id).get(line_id)
    if line is None or not line.issued:
        raise Conflict(f"nothing was issued for line {line_id} of repair order {ro_id}",
                       reason="NOTHING_ISSUED")
    orders, locked = move.lock([ro_id], [line.part_number])
    line = uow.stock.reservations_of(ro_id)[line_id]
    move.also_lock(locked, [line.part_number])
    if quantity > line.returnable:
        raise Conflict(f"only {quantity_text(line.returnable)} of line {line_id} can "
                       f"come back", reason="MORE_THAN_ISSUED",
                       returnable=quantity_text(line.returnable))
    lp = locked[line.part_number]
    picks = domain.pick_lots(uow.stock.issued_to_line(ro_id, line_id), quantity,
                             tracking=lp.part.tracking,
                             serial_numbers=request.get("serial_numbers"),
                             batch_number=request.get("batch_number"))
    return_id = domain.new_id("RET")
    uow.stock.add_document(
        "return", id=return_id, repair_order_id=ro_id, quote_line_id=line_id,
        part_number=line.part_number, quantity=quantity, reason=request["reason"],
        note=request.get("note"), returned_by=who, returned_at=now)
    # Written with the return document: a refusal further on rolls both back.
    uow.audit(Privileged.PARTS_RETURNED, actor=actor, subject=ro_id, detail={
        "return_id": return_id, "quote_line_id": line_id, "part_number": line.part_number,
        "quantity": quantity_text(quantity), "unit": lp.part.unit,
        "reason": request["reason"], "note": request.get("note"),
        "issued_to_line": quantity_text(line.issued),
        "returned_before": quantity_text(line.returned),
        "on_hand_before": quantity_text(lp.stock.on_hand),
        "on_hand_after": quantity_text(lp.stock.on_hand + quantity),
        "batch_number": request.get("batch_number"),
        "serial_numbers": request.get("serial_numbers")})
    ledger = move.ledger(lp, domain.RETURN, return_id, line=line,
                         reason=request["reason"])
    for pick in picks:
        uow.stock.change_lot(pick.lot.id, pick.quantity)
        ledger.record(pick.quantity, lot=pick.lot)
    lp.stock = lp.stock.receive(quantity)
    uow.stock.save_reservation(replace(line, returned=line.returned + quantity),
                               now)
    lots = []
    for group in domain.group_for_events(picks):
        data = {"return_id": return_id, "repair_order_id": ro_id, "quote_line_id": line_id,
                "vin": move.vins[ro_id], "part_number": line.part_number,
                "part_name": lp.part.name, "quantity": quantity_text(group.quantity),
                "unit": lp.part.unit, "reason": request["reason"],
                "returned_by": who, "returned_at": now, **_lot_fields(group)}
        if request.get("note"):
            data["note"] = request["note"]
        uow.emit(events.PartReturned, data, subject=ro_id, correlation_id=ro_id)
        lots.append({"quantity": group.quantity, **_lot_fields(group)})
    move.finish(locked, _open(orders), ro_id)
    return {"return_id": return_id, "repair_order_id": ro_id, "quote_line_id": line_id,
            "part_number": line.part_number, "quantity": quantity, "unit": lp.part.unit,
            "reason": request["reason"], "lots": lots, "returned_by": who,
            "returned_at": now}


# -- receipts, transfers, stocktakes ----------------------------------------------------


def receive(uow: PartsUnitOfWork, request: dict[str, Any], *, actor: str,
            now: datetime) -> dict[str, Any]:
    """Goods receipt: batches with quantities or serial numbers; then lines waiting for
    these parts get them."""
    move = _Movement(uow, actor=actor, now=now)
    lines = request["lines"]
    part_numbers = {line["part_number"] for line in lines}
    orders, locked = move.lock([], part_numbers)
    for n, line in enumerate(lines):
        if line["part_number"] not in locked:
            raise InvalidInput(f"lines.{n}.part_number",
                               f"{line['part_number']} is not in the catalogue")
    receipt_id = domain.new_id("GR")
    uow.stock.add_document(
        "receipt", id=receipt_id, reference=request.get("reference"),
        transfer_id=request.get("transfer_id"),
        from_dealer_code=request.get("from_dealer_code"), received_by=actor,
        received_at=now)
    received = []
    for n, line in enumerate(lines):
        lp = locked[line["part_number"]]
        incoming = domain.incoming_lots(
            lp.part.tracking, quantity=line.get("quantity"),
            batch_number=line.get("batch_number"),
            serial_numbers=line.get("serial_numbers"), field=f"lines.{n}.")
        move.refuse_serials_on_hand(lp, [lot.serial_number for lot in incoming
                                         if lot.serial_number], f"lines.{n}")
        ledger = move.ledger(lp, domain.RECEIPT, receipt_id,
                             reason=request.get("reference"))
        total = ZERO
        for lot in incoming:
            added = uow.stock.add_lot(lp.part.part_number, lot, receipt_id,
                                      now)
            ledger.record(lot.quantity, lot=added)
            total += lot.quantity
        lp.stock = lp.stock.receive(total)
        received.append({"part_number": lp.part.part_number, "quantity": total,
                         "batch_number": line.get("batch_number"),
                         "serial_numbers": line.get("serial_numbers")})
    move.finish(locked, _open(orders), receipt_id)
    return {"receipt_id": receipt_id, "reference": request.get("reference"),
            "transfer_id": request.get("transfer_id"),
            "from_dealer_code": request.get("from_dealer_code"), "lines": received,
            "received_by": actor, "received_at": now,
            "stock": [_stock_view(locked[pn]) for pn in sorted(part_numbers)]}


def transfer(uow: PartsUnitOfWork, request: dict[str, Any], *, dealer_code: str, actor: str,
             now: datetime) -> dict[str, Any]:
    """Parts leave for another dealer site → StockTransferred; only what no repair order
    is waiting for may go."""
    move = _Movement(uow, actor=actor, now=now)
    if request["to_dealer_code"] == dealer_code:
        raise InvalidInput("to_dealer_code", "is this site: a transfer goes to another one")
    pn, quantity = request["part_number"], request["quantity"]
    locked = uow.stock.lock_parts([pn])
    if pn not in locked:
        raise NotFound(f"part {pn} not found")
    lp = locked[pn]
    after = lp.stock.take_available(quantity)
    picks = domain.pick_lots(domain.fifo(uow.stock.lots_on_hand(pn)), quantity,
                             tracking=lp.part.tracking,
                             serial_numbers=request.get("serial_numbers"),
                             batch_number=request.get("batch_number"))
    transfer_id = domain.new_id("TRF")
    uow.stock.add_document(
        "transfer", id=transfer_id, part_number=pn, quantity=quantity,
        to_dealer_code=request["to_dealer_code"], note=request.get("note"),
        transferred_by=actor, transferred_at=now)
    ledger = move.ledger(lp, domain.TRANSFER_OUT, transfer_id,
                         reason=f"to {request['to_dealer_code']}")
    for pick in picks:
        uow.stock.change_lot(pick.lot.id, -pick.quantity)
        ledger.record(-pick.quantity, lot=pick.lot)
    lp.stock = after
    lots = [{"quantity": g.quantity, **_lot_fields(g)}
            for g in domain.group_for_events(picks)]
    data = {"transfer_id": transfer_id, "part_number": pn, "part_name": lp.part.name,
            "quantity": quantity_text(quantity), "unit": lp.part.unit,
            "to_dealer_code": request["to_dealer_code"],
            "lots": [{**lot, "quantity": quantity_text(lot["quantity"])} for lot in lots],
            "transferred_by": actor, "transferred_at": now}
    if request.get("note"):
        data["note"] = request["note"]
    uow.emit(events.StockTransferred, data, subject=transfer_id,
             correlation_id=transfer_id)
    move.finish(locked, [], transfer_id)
    return {"transfer_id": transfer_id, "part_number": pn, "quantity": quantity,
            "unit": lp.part.unit, "to_dealer_code": request["to_dealer_code"],
            "lots": lots, "note": request.get("note"), "transferred_by": actor,
            "transferred_at": now, "stock": _stock_view(lp)}


def count(uow: PartsUnitOfWork, request: dict[str, Any], *, actor: Identity,
          now: datetime) -> dict[str, Any]:
    """Stocktake: on hand becomes what was counted, with the reason kept for audit. When
    fewer units are counted than are reserved, the latest reservations give way."""
    who = actor.subject
    move = _Movement(uow, actor=who, now=now)
    pn, counted = request["part_number"], request["counted"]
    holders = uow.stock.repair_orders_holding(pn)
    orders, locked = move.lock(holders, [pn])
    if pn not in locked:
        raise NotFound(f"part {pn} not found")
    lp = locked[pn]
    domain.check_whole(lp.part.tracking, counted, "counted")
    adjustment_id = domain.new_id("ADJ")
    previous, difference = lp.stock.on_hand, counted - lp.stock.on_hand
    uow.stock.add_document(
        "adjustment", id=adjustment_id, part_number=pn, previous_on_hand=previous, counted=counted,
        difference=difference, reason=request["reason"], adjusted_by=who,
        adjusted_at=now)
    serials = request.get("serial_numbers")
    if difference:
        # Written with the adjustment document: a refusal further on rolls both back. A
        # count that confirms the books changes nothing and is not a privileged action.
        uow.audit(Privileged.STOCK_ADJUSTED, actor=actor, subject=pn, detail={
            "adjustment_id": adjustment_id, "reason": request["reason"],
            "on_hand_before": quantity_text(previous), "on_hand_after": quantity_text(counted),
            "difference": quantity_text(difference), "unit": lp.part.unit,
            # Fewer counted than reserved: the latest reservations give way to the count.
            "reserved_before": quantity_text(lp.stock.reserved),
            "reserved_after": quantity_text(min(lp.stock.reserved, counted)),
            "batch_number": request.get("batch_number"), "serial_numbers": serials})
    if lp.part.tracking == domain.SERIAL and difference and not serials:
        raise InvalidInput("serial_numbers", "name the serial numbers found or missing")
    if difference > 0:
        batch = request.get("batch_number")
        if lp.part.tracking == domain.BATCH and not batch:
            batch = f"STOCKTAKE-{now:%Y%m%d}"  # found units of no known batch
        incoming = domain.incoming_lots(lp.part.tracking, quantity=difference,
                                        batch_number=batch, serial_numbers=serials)
        move.refuse_serials_on_hand(lp, serials or [], "serial_numbers")
        ledger = move.ledger(lp, domain.ADJUSTMENT, adjustment_id, reason=request["reason"])
        for lot in incoming:
            added = uow.stock.add_lot(pn, lot, adjustment_id, now)
            ledger.record(lot.quantity, lot=added)
        lp.stock = lp.stock.receive(difference)
    elif difference < 0:
        if counted < lp.stock.reserved:
            holding = uow.stock.holding_lines_newest_first(pn, list(orders))
            _, changes = domain.shrink_reservations(lp.stock, counted, holding)
            for change in changes:
                before = next(h for h in holding if h.id == change.reservation.id)
                stock = lp.stock.release(-change.reserved_change)
                move.line_changed(locked, before, stock, change)
        picks = domain.pick_lots(domain.fifo(uow.stock.lots_on_hand(pn)),
                                 -difference, tracking=lp.part.tracking,
                                 serial_numbers=serials,
                                 batch_number=request.get("batch_number"))
        ledger = move.ledger(lp, domain.ADJUSTMENT, adjustment_id, reason=request["reason"])
        for pick in picks:
            uow.stock.change_lot(pick.lot.id, -pick.quantity)
            ledger.record(-pick.quantity, lot=pick.lot)
        lp.stock = lp.stock.take_available(-difference)
    else:
        move.ledger(lp, domain.ADJUSTMENT, adjustment_id,
                    reason=request["reason"]).record()
    move.finish(locked, _open(orders), adjustment_id)
    return {"adjustment_id": adjustment_id, "part_number": pn,
            "previous_on_hand": previous, "counted": counted, "difference": difference,
            "reason": request["reason"], "adjusted_by": who,
            "adjusted_at": now, "stock": _stock_view(lp)}


# -- the steps every movement shares -----------------------------------------------------


class _Movement:
    """One stock movement under way: who makes it and when, the repair orders' VINs seen so
    far, and the steps every movement shares (locking, the ledger, storing a reservation
    with its events, serving waiting lines and raising StockLow at the end)."""

    def __init__(self, uow: PartsUnitOfWork, *, actor: str, now: datetime) -> None:
        self.uow = uow
        self.stock = uow.stock
        self.actor = actor
        self.now = now
        self.vins: dict[str, str] = {}
        # Lines given back and how much each held, for the audit of a clerk's release.
        self.released: list[tuple[Reservation, Decimal]] = []

    # -- locking --------------------------------------------------------------------------

    def lock(self, repair_order_ids: Iterable[str], part_numbers: Iterable[str]
              ) -> tuple[dict[str, dict[str, Any]], dict[str, LockedPart]]:
        """Lock the repair orders, those waiting for these parts (so freed stock can go to
        them), then the parts' stock rows."""
        part_numbers = sorted(set(part_numbers))
        waiting = self.stock.repair_orders_waiting_for(part_numbers) \
            if part_numbers else []
        orders = self.stock.lock_repair_orders([*repair_order_ids, *waiting])
        self.vins.update({ro_id: row["vin"] for ro_id, row in orders.items()})
        return orders, self.stock.lock_parts(part_numbers)

    def also_lock(self, locked: dict[str, LockedPart], part_numbers: Iterable[str]) -> None:
        """Lock parts found only once the repair order was locked (a line changed part in
        between: rare, so the usual order is not worth a second pass)."""
        missing = set(part_numbers) - set(locked)
        if missing:
            locked.update(self.stock.lock_parts(missing))

    def ledger(self, lp: LockedPart, kind: str, reference: str, *,
                line: Reservation | None = None, reason: str | None = None) -> Ledger:
        return Ledger(
            self.stock.record_movement, lp.part.part_number, lp.stock.on_hand,
            lp.stock.reserved, kind, reference, self.actor, self.now, reason=reason,
            repair_order_id=line.repair_order_id if line else None,
            quote_line_id=line.quote_line_id if line else None,
            vin=self.vins.get(line.repair_order_id) if line else None)

    # -- reservations ---------------------------------------------------------------------

    def line_changed(self, locked: dict[str, LockedPart], before: Reservation | None,
                      new_stock: domain.Stock | None, change: Change) -> None:
        """Store a reservation after a rule applied: stock, ledger, events."""
        line = change.reservation
        lp = locked.get(line.part_number)
        self.stock.save_reservation(line, self.now)
        if lp is None:
            if line.shortfall:
                log.warning("line %s of %s waits for %s, which is not in the catalogue",
                            line.quote_line_id, line.repair_order_id, line.part_number)
            return
        previous = before.shortfall if before and before.part_number == line.part_number \
            else ZERO
        lp.shortfall += line.shortfall - previous
        if change.reserved_change:
            kind = domain.RESERVE if change.reserved_change > 0 else domain.RELEASE
            self.ledger(lp, kind, line.id, line=line, reason=change.reason).record(
                reserved_change=change.reserved_change)
        if new_stock is not None:
            lp.stock = new_stock
        if change.reserved_change > 0:
            self.uow.emit(events.PartReserved, {
                "reservation_id": line.id, "repair_order_id": line.repair_order_id,
                "quote_line_id": line.quote_line_id, "part_number": line.part_number,
                "quantity": quantity_text(change.reserved_change), "unit": lp.part.unit,
                "reserved_at": self.now}, subject=line.repair_order_id,
                correlation_id=line.repair_order_id)
        elif change.reserved_change < 0:
            data = {"reservation_id": line.id, "repair_order_id": line.repair_order_id,
                    "quote_line_id": line.quote_line_id, "part_number": line.part_number,
                    "quantity": quantity_text(-change.reserved_change), "unit": lp.part.unit,
                    "reason": change.reason or domain.CLERK_RELEASE, "released_at": self.now}
            if change.reason in (domain.CLERK_RELEASE, domain.REPAIR_ORDER_CANCELLED,
                                 domain.STOCKTAKE_SHORTAGE):
                data["released_by"] = self.actor
            self.uow.emit(events.PartReleased, data, subject=line.repair_order_id,
                          correlation_id=line.repair_order_id)

    def release_line(self, locked: dict[str, LockedPart], line: Reservation, *, status: str,
                 reason: str, sequence: int | None = None) -> Reservation:
        lp = locked.get(line.part_number)
        stock, change = domain.release_line(lp.stock if lp else None, line, status=status,
                                            reason=reason, sequence=sequence)
        self.line_changed(locked, line, stock, change)
        self.released.append((change.reservation, -change.reserved_change))
        return change.reservation

    def finish(self, locked: dict[str, LockedPart], orders: Iterable[str],
                correlation_id: str) -> None:
        """Give freed stock to lines waiting for it, save the stock rows, and raise StockLow
        where a movement left a part low."""
        open_orders = list(orders)
        for lp in locked.values():
            if lp.stock.available > 0 and lp.shortfall > 0 and open_orders:
                waiting = self.stock.waiting_lines(lp.part.part_number, open_orders)
                _, changes = domain.fill_shortfalls(lp.stock, waiting)
                for change in changes:
                    before = next(w for w in waiting if w.id == change.reservation.id)
                    stock, _ = lp.stock.reserve(change.reserved_change)
                    self.line_changed(locked, before, stock, change)
            if lp.stock != lp.before[0]:
                self.stock.save_stock(lp.stock, self.now)
            alert = domain.low_stock_alert(lp.before, (lp.stock, lp.shortfall), lp.part.unit)
            if alert is not None:
                self.uow.emit(events.StockLow, {
                    "part_number": lp.part.part_number, "part_name": lp.part.name,
                    "unit": lp.part.unit, "available": quantity_text(alert.available),
                    "reorder_point": quantity_text(alert.reorder_point),
                    "suggested_order_quantity": quantity_text(alert.suggested_quantity),
                    "detected_at": self.now}, subject=lp.part.part_number,
                    correlation_id=correlation_id)
            lp.before = (lp.stock, lp.shortfall)

    def refuse_serials_on_hand(self, lp: LockedPart, serials: Sequence[str],
                                field: str) -> None:
        if not serials:
            return
        present = self.stock.serials_on_hand(lp.part.part_number, serials)
        if present:
            raise Conflict(f"serial numbers already on the shelf: {', '.join(present)}",
                           reason="SERIAL_ALREADY_IN_STOCK", field=field,
                           serial_numbers=present)


def _open(orders: dict[str, dict[str, Any]]) -> list[str]:
    return [ro_id for ro_id, row in orders.items() if row["status"] == OPEN]


def _lot_fields(group: domain.LotGroup) -> dict[str, Any]:
    if group.serial_numbers:
        return {"serial_numbers": list(group.serial_numbers)}
    return {"batch_number": group.batch_number}


def _stock_view(lp: LockedPart) -> dict[str, Any]:
    return {"part_number": lp.part.part_number, "on_hand": lp.stock.on_hand,
            "reserved": lp.stock.reserved, "available": lp.stock.available,
            "shortfall": lp.shortfall}
