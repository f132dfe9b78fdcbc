"""Parts rules, plain Python: stock arithmetic, reservations and shortages, FIFO issues,
returns, reorder suggestions and VIN → model lookup.

Nothing here touches a database or a broker: functions take values and give values, so the
rules can be read and tested on their own. Quantities are `Decimal` (oil comes in litres);
money is `Decimal` with two places, CNY including VAT.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from typing import Any

from chassis.errors import Conflict, InvalidInput
from contracts.vocabulary import UNITS

ZERO = Decimal(0)
CENT = Decimal("0.01")
# Units that only come whole: a suggestion of 2.5 filters is an order for 3.
WHOLE_UNITS = frozenset({"EA", "SET"})

# How the store tells units of a part apart: by batch (oil, filters) or one by one (a gearbox,
# an ECU), which decides what a receipt must carry and what an issue records.
BATCH, SERIAL = "BATCH", "SERIAL"
TRACKING = (BATCH, SERIAL)

# A repair order as parts knows it: open until delivered (CLOSED) or cancelled.
OPEN, CLOSED, CANCELLED = "OPEN", "CLOSED", "CANCELLED"

# Reservation of one approved quote line.
ACTIVE, DECLINED, RELEASED = "ACTIVE", "DECLINED", "RELEASED"

# Why a reservation was given up (PartReleased.reason).
LINE_DECLINED = "LINE_DECLINED"
QUANTITY_REDUCED = "QUANTITY_REDUCED"
REPAIR_ORDER_CANCELLED = "REPAIR_ORDER_CANCELLED"
REPAIR_ORDER_CLOSED = "REPAIR_ORDER_CLOSED"
STOCKTAKE_SHORTAGE = "STOCKTAKE_SHORTAGE"
CLERK_RELEASE = "CLERK_RELEASE"
LINE_CHANGED = "LINE_CHANGED"
RELEASE_REASONS = (LINE_DECLINED, QUANTITY_REDUCED, REPAIR_ORDER_CANCELLED, REPAIR_ORDER_CLOSED,
                   STOCKTAKE_SHORTAGE, CLERK_RELEASE, LINE_CHANGED)

# Why a part came back from a repair order. Defective parts are not listed: they go to a
# warranty or supplier claim, not back on the shelf.
RETURN_REASONS = ("NOT_USED", "WRONG_PART", "OVER_ISSUED", "OTHER")

# Kinds of rows in the movements ledger.
RECEIPT, ISSUE, RETURN, TRANSFER_OUT, ADJUSTMENT, RESERVE, RELEASE = (
    "RECEIPT", "ISSUE", "RETURN", "TRANSFER_OUT", "ADJUSTMENT", "RESERVE", "RELEASE")
MOVEMENT_KINDS = (RECEIPT, ISSUE, RETURN, TRANSFER_OUT, ADJUSTMENT, RESERVE, RELEASE)


class Privileged(StrEnum):
    """Movements made by hand that change the books against the paperwork behind them, and
    so go into the audit log with the quantities before and after. Receipts, issues and
    transfers are not: each follows a delivery note, an approved line or a transfer the
    other site receives."""

    STOCK_ADJUSTED = "STOCK_ADJUSTED"              # a stocktake changed on hand
    PARTS_RETURNED = "PARTS_RETURNED"              # parts back on the shelf from a repair order
    RESERVATION_RELEASED = "RESERVATION_RELEASED"  # the clerk freed what approved lines held

# A VIN names the maker (WMI, characters 1-3) and the vehicle line (VDS, 4-9; 9 is the check
# digit); a model is found by the longest known prefix of 3 to 11 characters.
VIN_PREFIX_MIN, VIN_PREFIX_MAX = 3, 11


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def quantity_text(value: Decimal) -> str:
    """`Decimal("10.000")` → "10", `Decimal("4.500")` → "4.5" (the contract's notation)."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def money_text(value: Decimal) -> str:
    return str(value.quantize(CENT))


def is_whole(quantity: Decimal) -> bool:
    return quantity == quantity.to_integral_value()


# -- stock of one part at this site ---------------------------------------------------------


@dataclass(frozen=True)
class Stock:
    """On hand and reserved quantities of one part; available is what may still be promised."""

    part_number: str
    on_hand: Decimal
    reserved: Decimal = ZERO
    reorder_point: Decimal = ZERO
    reorder_quantity: Decimal = ZERO

    def __post_init__(self) -> None:
        if self.on_hand < 0 or self.reserved < 0 or self.reserved > self.on_hand:
            raise Conflict(f"stock of {self.part_number} would become inconsistent",
                           part_number=self.part_number, on_hand=quantity_text(self.on_hand),
                           reserved=quantity_text(self.reserved))

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved

    def reserve(self, wanted: Decimal) -> tuple[Stock, Decimal]:
        """Reserve up to `wanted`; returns the new stock and what was granted (maybe less)."""
        granted = max(ZERO, min(wanted, self.available))
        return replace(self, reserved=self.reserved + granted), granted

    def release(self, quantity: Decimal) -> Stock:
        if quantity > self.reserved:
            raise Conflict(f"only {quantity_text(self.reserved)} of {self.part_number} "
                           f"is reserved", part_number=self.part_number)
        return replace(self, reserved=self.reserved - quantity)

    def issue_reserved(self, quantity: Decimal) -> Stock:
        """Reserved units leave the store: both on hand and reserved go down."""
        if quantity > self.reserved:
            raise Conflict(f"only {quantity_text(self.reserved)} of {self.part_number} "
                           f"is reserved", part_number=self.part_number)
        return replace(self, on_hand=self.on_hand - quantity, reserved=self.reserved - quantity)

    def take_available(self, quantity: Decimal) -> Stock:
        """Units no repair order waits for leave the store (transfer out, stocktake loss)."""
        if quantity > self.available:
            raise Conflict(
                f"only {quantity_text(self.available)} of {self.part_number} is available "
                f"(on hand {quantity_text(self.on_hand)}, reserved "
                f"{quantity_text(self.reserved)})",
                reason="NOT_ENOUGH_AVAILABLE", part_number=self.part_number,
                available=quantity_text(self.available))
        return replace(self, on_hand=self.on_hand - quantity)

    def receive(self, quantity: Decimal) -> Stock:
        return replace(self, on_hand=self.on_hand + quantity)


@dataclass(frozen=True)
class Part:
    part_number: str
    name: str
    unit: str
    unit_price: Decimal
    tracking: str


@dataclass
class LockedPart:
    """A catalogue part with its stock row locked for this transaction; `before` is where
    the movement started (for the low-stock alert)."""

    part: Part
    stock: Stock
    bin_location: str | None = None
    shortfall: Decimal = ZERO
    before: tuple[Stock, Decimal] = field(init=False)

    def __post_init__(self) -> None:
        self.before = (self.stock, self.shortfall)


@dataclass
class Ledger:
    """The movement rows of one part in one movement, keeping the running balances; each
    row goes to `write` (the store's ledger)."""

    write: Callable[[dict[str, Any]], None]
    part_number: str
    on_hand: Decimal
    reserved: Decimal
    kind: str
    reference: str
    actor: str
    at: datetime
    reason: str | None = None
    repair_order_id: str | None = None
    quote_line_id: str | None = None
    vin: str | None = None

    def record(self, on_hand_change: Decimal = ZERO, reserved_change: Decimal = ZERO,
               lot: Lot | None = None) -> None:
        self.on_hand += on_hand_change
        self.reserved += reserved_change
        self.write({
            "kind": self.kind, "part_number": self.part_number,
            "lot_id": lot.id if lot else None,
            "batch_number": lot.batch_number if lot else None,
            "serial_number": lot.serial_number if lot else None,
            "on_hand_change": on_hand_change, "reserved_change": reserved_change,
            "on_hand_after": self.on_hand, "reserved_after": self.reserved,
            "repair_order_id": self.repair_order_id, "quote_line_id": self.quote_line_id,
            "vin": self.vin, "reference": self.reference, "reason": self.reason,
            "actor": self.actor, "moved_at": self.at})


# -- reservations of approved quote lines ------------------------------------------------------


@dataclass(frozen=True)
class Reservation:
    """What the store holds for one quote line of a repair order.

    `approved` is what the customer approved; `reserved` what is set aside on the shelf now;
    `issued` what went to the car. The shortfall is the approved demand neither reserved nor
    issued: a parts shortage, normal in a workshop, filled by the next receipt.
    """

    id: str
    repair_order_id: str
    quote_line_id: str
    part_number: str
    approved: Decimal
    reserved: Decimal = ZERO
    issued: Decimal = ZERO
    returned: Decimal = ZERO
    status: str = ACTIVE
    decided_sequence: int = 0
    # False when the store could not cover the line on approval (fill-rate KPI).
    from_stock: bool = True
    unit_price: Decimal | None = None

    @property
    def shortfall(self) -> Decimal:
        # Returned units do not reopen demand: the part came back because it was not needed.
        if self.status != ACTIVE:
            return ZERO
        return max(ZERO, self.approved - self.reserved - self.issued)

    @property
    def returnable(self) -> Decimal:
        return self.issued - self.returned


@dataclass(frozen=True)
class LineDecision:
    """The customer's answer on one PART line of a quote."""

    line_id: str
    approved: bool
    part_number: str
    quantity: Decimal
    unit_price: Decimal


def part_line_decisions(data: Mapping[str, Any], decided: Mapping[str, int],
                        sequence: int) -> list[LineDecision]:
    """The PART lines a `QuoteApproved` event decides, without those already decided by a
    later event of the same repair order (events may arrive out of order; `decided` maps
    line id → sequence of the event that last decided it). Labour lines need no parts.

    A line both approved and declined counts as declined: nothing is set aside on a doubt.
    """
    found: dict[str, LineDecision] = {}
    for approved, lines in ((True, data.get("approved_lines", ())),
                            (False, data.get("declined_lines", ()))):
        for line in lines:
            if line.get("kind") != "PART":
                continue
            found[line["line_id"]] = LineDecision(
                line_id=line["line_id"], approved=approved, part_number=line["part_number"],
                quantity=Decimal(line["quantity"]), unit_price=Decimal(line["unit_price"]))
    return [d for d in found.values() if decided.get(d.line_id, 0) < sequence]


@dataclass(frozen=True)
class Change:
    """One reservation after a rule applied, and how much its reserved quantity moved."""

    reservation: Reservation
    reserved_change: Decimal = ZERO
    reason: str | None = None  # for a release


def approve_line(stock: Stock | None, current: Reservation | None, decision: LineDecision, *,
                 repair_order_id: str, sequence: int) -> tuple[Stock | None, Change]:
    """Reserve for an approved line what the store can, up to what is still to be issued.

    `stock` is None for a part the catalogue does not know yet: the line is recorded as a
    shortage and filled once the part is created and received.
    """
    if current is None:
        current = Reservation(id=new_id("RSV"), repair_order_id=repair_order_id,
                              quote_line_id=decision.line_id,
                              part_number=decision.part_number, approved=decision.quantity)
    if current.part_number != decision.part_number:
        # The line now asks for another part: what the old part held must have been released
        # (release_line with LINE_CHANGED) before; the new part starts from nothing issued.
        if current.reserved:
            raise ValueError(f"release {current.part_number} for line {decision.line_id} first")
        current = replace(current, issued=ZERO, returned=ZERO, from_stock=True)
    line = replace(current, part_number=decision.part_number, approved=decision.quantity,
                   status=ACTIVE, decided_sequence=sequence, unit_price=decision.unit_price)
    target = max(ZERO, line.approved - line.issued)
    change = target - line.reserved
    if stock is None:
        return None, Change(replace(line, from_stock=False), ZERO)
    if change > 0:
        stock, granted = stock.reserve(change)
        fully = granted == change
        line = replace(line, reserved=line.reserved + granted,
                       from_stock=line.from_stock and fully)
        return stock, Change(line, granted)
    if change < 0:
        stock = stock.release(-change)
        line = replace(line, reserved=line.reserved + change)
        return stock, Change(line, change, QUANTITY_REDUCED)
    return stock, Change(line)


def release_line(stock: Stock | None, current: Reservation, *, status: str, reason: str,
                 sequence: int | None = None) -> tuple[Stock | None, Change]:
    """Give back what a line holds; the line becomes DECLINED or RELEASED."""
    held = current.reserved
    if stock is not None and held:
        stock = stock.release(held)
    line = replace(current, reserved=ZERO, status=status,
                   decided_sequence=current.decided_sequence if sequence is None else sequence)
    return stock, Change(line, -held, reason)


def decline_line(stock: Stock | None, current: Reservation | None, decision: LineDecision, *,
                 repair_order_id: str, sequence: int) -> tuple[Stock | None, Change]:
    """A declined line holds nothing; remembering it keeps a late, older approval out."""
    if current is None:
        current = Reservation(id=new_id("RSV"), repair_order_id=repair_order_id,
                              quote_line_id=decision.line_id, part_number=decision.part_number,
                              approved=ZERO, status=DECLINED, decided_sequence=sequence,
                              unit_price=decision.unit_price)
        return stock, Change(current)
    return release_line(stock, current, status=DECLINED, reason=LINE_DECLINED,
                        sequence=sequence)


def fill_shortfalls(stock: Stock, waiting: Sequence[Reservation]
                    ) -> tuple[Stock, list[Change]]:
    """Set newly available stock aside for lines waiting for it, first approved first served."""
    changes = []
    for line in waiting:
        if stock.available <= 0:
            break
        if line.shortfall <= 0 or line.part_number != stock.part_number:
            continue
        stock, granted = stock.reserve(line.shortfall)
        changes.append(Change(replace(line, reserved=line.reserved + granted), granted))
    return stock, changes


def shrink_reservations(stock: Stock, counted: Decimal, lines_newest_first: Sequence[Reservation]
                        ) -> tuple[Stock, list[Change]]:
    """A stocktake found fewer units than are reserved: the latest reservations give way and
    become shortages, so that reserved never exceeds what is on the shelf."""
    excess = stock.reserved - counted
    changes = []
    for line in lines_newest_first:
        if excess <= 0:
            break
        take = min(line.reserved, excess)
        if take <= 0:
            continue
        stock = stock.release(take)
        excess -= take
        changes.append(Change(replace(line, reserved=line.reserved - take), -take,
                              STOCKTAKE_SHORTAGE))
    if excess > 0:
        raise Conflict(f"reservations of {stock.part_number} exceed the count",
                       part_number=stock.part_number)
    return stock, changes


def check_issue(line: Reservation | None, quantity: Decimal, *, repair_order_id: str,
                quote_line_id: str, part_number: str | None = None) -> None:
    """Parts go to a repair order only against what is reserved for an approved line."""
    where = f"line {quote_line_id} of repair order {repair_order_id}"
    if line is None:
        raise Conflict(f"{where} was never approved: nothing is reserved for it, so no part "
                       f"can be issued", reason="LINE_NOT_APPROVED",
                       repair_order_id=repair_order_id, quote_line_id=quote_line_id)
    if line.status == DECLINED:
        raise Conflict(f"{where} was declined by the customer: no part can be issued for it",
                       reason="LINE_DECLINED", repair_order_id=repair_order_id,
                       quote_line_id=quote_line_id)
    if line.status == RELEASED:
        raise Conflict(f"the reservation for {where} was released", reason="RELEASED",
                       repair_order_id=repair_order_id, quote_line_id=quote_line_id)
    if part_number is not None and part_number != line.part_number:
        raise Conflict(f"{where} is for part {line.part_number}, not {part_number}",
                       reason="WRONG_PART", expected_part_number=line.part_number)
    if quantity > line.reserved:
        raise Conflict(f"only {quantity_text(line.reserved)} reserved for {where}",
                       reason="NOT_ENOUGH_RESERVED", reserved=quantity_text(line.reserved),
                       shortfall=quantity_text(line.shortfall))


# -- lots: batches and serial numbers -------------------------------------------------------


@dataclass(frozen=True)
class Lot:
    """A batch received (quantity) or one serial-numbered unit (quantity 1)."""

    id: int
    batch_number: str | None
    serial_number: str | None
    remaining: Decimal
    received_at: datetime


@dataclass(frozen=True)
class Pick:
    lot: Lot
    quantity: Decimal


def check_whole(tracking: str, quantity: Decimal, field: str = "quantity") -> None:
    if tracking == SERIAL and not is_whole(quantity):
        raise InvalidInput(field, "a serial-numbered part is counted in whole units")


def pick_lots(candidates: Iterable[tuple[Lot, Decimal]], quantity: Decimal, *, tracking: str,
              serial_numbers: Sequence[str] | None = None,
              batch_number: str | None = None) -> list[Pick]:
    """Take `quantity` from (lot, quantity that may be taken) pairs in the order given.

    Named serial numbers or a named batch narrow the choice; otherwise the order decides
    (oldest first for issues and transfers: FIFO).
    """
    check_whole(tracking, quantity)
    pairs = [(lot, q) for lot, q in candidates if q > 0]
    if serial_numbers:
        if len(serial_numbers) != quantity:
            raise InvalidInput("serial_numbers", "give one serial number per unit")
        if len(set(serial_numbers)) != len(serial_numbers):
            raise InvalidInput("serial_numbers", "a serial number is listed twice")
        by_serial = {lot.serial_number: (lot, q) for lot, q in pairs if lot.serial_number}
        missing = [s for s in serial_numbers if s not in by_serial]
        if missing:
            raise Conflict(f"serial numbers not available here: {', '.join(missing)}",
                           reason="SERIAL_NOT_AVAILABLE", serial_numbers=missing)
        return [Pick(by_serial[s][0], Decimal(1)) for s in serial_numbers]
    if batch_number is not None:
        pairs = [(lot, q) for lot, q in pairs if lot.batch_number == batch_number]
    picks, left = [], quantity
    for lot, q in pairs:
        if left <= 0:
            break
        take = min(q, left)
        picks.append(Pick(lot, take))
        left -= take
    if left > 0:
        where = f" in batch {batch_number}" if batch_number else ""
        raise Conflict(f"only {quantity_text(quantity - left)} of {quantity_text(quantity)} "
                       f"found{where}", reason="NOT_ENOUGH_IN_LOTS",
                       found=quantity_text(quantity - left))
    return picks


def fifo(lots: Iterable[Lot]) -> list[tuple[Lot, Decimal]]:
    """Lots oldest first, each with what is left in it."""
    ordered = sorted(lots, key=lambda lot: (lot.received_at, lot.id))
    return [(lot, lot.remaining) for lot in ordered]


@dataclass(frozen=True)
class LotGroup:
    """What one event reports: a quantity of one batch, or a set of serial numbers."""

    quantity: Decimal
    batch_number: str | None = None
    serial_numbers: tuple[str, ...] | None = None


def group_for_events(picks: Sequence[Pick]) -> list[LotGroup]:
    """One group per batch number, and one group for all serial numbers."""
    serials = tuple(p.lot.serial_number for p in picks if p.lot.serial_number)
    batches: dict[str, Decimal] = {}
    for pick in picks:
        if pick.lot.serial_number is None and pick.lot.batch_number is not None:
            batches[pick.lot.batch_number] = batches.get(pick.lot.batch_number, ZERO) + \
                pick.quantity
    groups = [LotGroup(q, batch_number=b) for b, q in batches.items()]
    if serials:
        groups.append(LotGroup(Decimal(len(serials)), serial_numbers=serials))
    return groups


@dataclass(frozen=True)
class IncomingLot:
    batch_number: str | None
    serial_number: str | None
    quantity: Decimal


def incoming_lots(tracking: str, *, quantity: Decimal | None, batch_number: str | None,
                  serial_numbers: Sequence[str] | None, field: str = "") -> list[IncomingLot]:
    """The lots one receipt line makes: a batch with a quantity, or one lot per serial.

    `field` prefixes the names in errors ("lines.2.").
    """
    if tracking == SERIAL:
        if not serial_numbers:
            raise InvalidInput(f"{field}serial_numbers",
                               "a serial-numbered part is received with its serial numbers")
        if len(set(serial_numbers)) != len(serial_numbers):
            raise InvalidInput(f"{field}serial_numbers", "a serial number is listed twice")
        if quantity is not None and quantity != len(serial_numbers):
            raise InvalidInput(f"{field}quantity", "must equal the number of serial numbers")
        return [IncomingLot(batch_number, s, Decimal(1)) for s in serial_numbers]
    if serial_numbers:
        raise InvalidInput(f"{field}serial_numbers",
                           "this part is tracked by batch: give batch_number and quantity")
    if not batch_number:
        raise InvalidInput(f"{field}batch_number", "a batch-tracked part needs its batch number")
    if quantity is None:
        raise InvalidInput(f"{field}quantity", "required for a batch")
    return [IncomingLot(batch_number, None, quantity)]


# -- low stock and reorder suggestions ------------------------------------------------------


@dataclass(frozen=True)
class ReorderSuggestion:
    part_number: str
    available: Decimal
    shortfall: Decimal
    reorder_point: Decimal
    reorder_quantity: Decimal
    suggested_quantity: Decimal


def net_position(stock: Stock, shortfall: Decimal) -> Decimal:
    """What the store could still promise once waiting lines are served (may be negative)."""
    return stock.available - shortfall


def is_low(stock: Stock, shortfall: Decimal) -> bool:
    """Available (net of shortages) at or below the reorder point.

    A part with no stocking policy (reorder point and quantity both zero) is not kept on the
    shelf: it is low only when a repair order is waiting for it.
    """
    stocked = stock.reorder_point > 0 or stock.reorder_quantity > 0
    if not stocked:
        return shortfall > 0
    return net_position(stock, shortfall) <= stock.reorder_point


def reorder_suggestion(stock: Stock, shortfall: Decimal, unit: str) -> ReorderSuggestion | None:
    """Order the reorder quantity, or enough to bring the net position back up to reorder
    point + reorder quantity when that is more (it is whenever stock is low)."""
    if not is_low(stock, shortfall):
        return None
    target = stock.reorder_point + stock.reorder_quantity
    suggested = max(stock.reorder_quantity, target - net_position(stock, shortfall))
    if unit in WHOLE_UNITS:
        suggested = suggested.to_integral_value(rounding=ROUND_CEILING)
    if suggested <= 0:  # reorder point reached exactly with no reorder quantity set
        suggested = Decimal(1)
    return ReorderSuggestion(stock.part_number, stock.available, shortfall,
                             stock.reorder_point, stock.reorder_quantity, suggested)


def low_stock_alert(before: tuple[Stock, Decimal], after: tuple[Stock, Decimal], unit: str
                    ) -> ReorderSuggestion | None:
    """Raise StockLow when a movement made the position worse and left the part low.

    A receipt that leaves it still low stays quiet (things are improving); the suggestion
    list shows the current state at any time.
    """
    if net_position(*after) >= net_position(*before):
        return None
    return reorder_suggestion(after[0], after[1], unit)


# -- vehicles ---------------------------------------------------------------------------------


def vin_prefixes(vin: str) -> list[str]:
    """Every prefix of a VIN a model may be registered under, longest first."""
    return [vin[:n] for n in range(min(VIN_PREFIX_MAX, len(vin)), VIN_PREFIX_MIN - 1, -1)]


def model_for_vin(vin: str, known: Mapping[str, str]) -> str | None:
    """The model of the longest registered prefix of `vin` (prefix → model code)."""
    for prefix in vin_prefixes(vin):
        if prefix in known:
            return known[prefix]
    return None


def check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise InvalidInput("unit", f"must be one of {', '.join(UNITS)}")
