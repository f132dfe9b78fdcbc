"""The quote (报价) and the owner's decision on each line.

A line is DRAFT while the advisor builds the round, PROPOSED once the round is sent, then
APPROVED or DECLINED by the owner. Only APPROVED labour lines become jobs, and only APPROVED
part lines are reserved and issued by parts: no work starts on a line before it is approved.
Declined lines are kept for the declined-work follow-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chassis.errors import Conflict, InvalidInput
from chassis.identity import Identity
from workorder.domain.pricing import ZERO, LineKind, labour_amount, money, part_amount
from workorder.domain.stages import Action


class LineStatus(StrEnum):
    DRAFT = "DRAFT"
    PROPOSED = "PROPOSED"
    APPROVED = "APPROVED"
    DECLINED = "DECLINED"


class Decision(StrEnum):
    APPROVED = "APPROVED"
    DECLINED = "DECLINED"


class ApprovalChannel(StrEnum):
    APP = "APP"
    WECHAT = "WECHAT"
    WEB = "WEB"
    PHONE = "PHONE"          # the advisor records what the owner said on the phone
    IN_PERSON = "IN_PERSON"
    LINK = "LINK"            # the owner, through the signed quote link in their message


MAX_LINES_PER_ROUND = 200
GENERAL_SKILL = "GENERAL"


def line_id(number: int) -> str:
    return f"L{number}"


def quote_id(repair_order_id: str, round_: int) -> str:
    return f"Q-{repair_order_id}-{round_}"


@dataclass(frozen=True)
class PartPrice:
    """What parts answers for `price_of(part_number)`."""

    unit_price: Decimal
    name: str
    unit: str
    available: Decimal | None


def part_price(answer: Any, part_number: str, field: str) -> PartPrice:
    """Read parts' answer; an unknown part (no answer) is the request's fault (422)."""
    if not isinstance(answer, Mapping) or "unit_price" not in answer:
        raise InvalidInput(field, f"part {part_number} is not in this site's parts catalogue")
    try:
        unit_price = Decimal(str(answer["unit_price"]))
    except ArithmeticError:
        raise InvalidInput(field, f"parts gave no usable price for {part_number}") from None
    if not unit_price.is_finite() or unit_price < 0:
        raise InvalidInput(field, f"parts gave no usable price for {part_number}")
    available = answer.get("available")
    try:
        available = None if available is None else Decimal(str(available))
    except ArithmeticError:
        available = None
    return PartPrice(unit_price=money(unit_price), name=str(answer.get("name") or part_number),
                     unit=str(answer.get("unit") or "EA"), available=available)


def labour_line(request: Mapping[str, Any], *, number: int, round_: int,
                default_rate: Decimal) -> dict[str, Any]:
    hours: Decimal = request["flat_rate_hours"]
    rate = money(request.get("labour_rate") or default_rate)
    return {
        "line_id": line_id(number), "round": round_, "position": number,
        "kind": LineKind.LABOUR.value, "description": request["description"],
        "operation_code": request["operation_code"], "flat_rate_hours": hours,
        "skill": request.get("skill") or GENERAL_SKILL,
        "unit_price": rate, "amount": labour_amount(hours, rate),
        "pay_type": request["pay_type"], "status": LineStatus.DRAFT.value,
    }


def part_line(request: Mapping[str, Any], price: PartPrice, *, number: int, round_: int
              ) -> dict[str, Any]:
    quantity: Decimal = request["quantity"]
    return {
        "line_id": line_id(number), "round": round_, "position": number,
        "kind": LineKind.PART.value,
        "description": request.get("description") or price.name,
        "part_number": request["part_number"], "quantity": quantity, "unit": price.unit,
        "unit_price": price.unit_price, "amount": part_amount(quantity, price.unit_price),
        "available_at_quote": price.available,
        "pay_type": request["pay_type"], "status": LineStatus.DRAFT.value,
    }


def new_lines(requested: Iterable[Mapping[str, Any]], prices: Mapping[int, PartPrice], *,
              after: int, round_: int, default_rate: Decimal) -> list[dict[str, Any]]:
    """The draft lines a request adds, numbered on from the RO's highest line number `after`
    (a part line priced by parts: `prices` by the request line's index)."""
    rows = []
    for index, request in enumerate(requested):
        number = after + index + 1
        if request["kind"] == LineKind.LABOUR:
            rows.append(labour_line(request, number=number, round_=round_,
                                    default_rate=default_rate))
        else:
            rows.append(part_line(request, prices[index], number=number, round_=round_))
    return rows


def check_round_size(existing: int, adding: int) -> None:
    if existing + adding > MAX_LINES_PER_ROUND:
        raise InvalidInput("lines", f"a quote round holds at most {MAX_LINES_PER_ROUND} lines")


def check_sendable(draft_lines: int) -> None:
    if draft_lines == 0:
        raise Conflict("the quote round has no lines to send")


def check_removable(line: Mapping[str, Any] | None, line_id_: str) -> None:
    if line is None or line["status"] != LineStatus.DRAFT:
        raise Conflict(f"line {line_id_} is not a draft line of the quote being built; "
                       "sent lines are decided by the owner, not removed")


@dataclass(frozen=True)
class Decided:
    approved: list[Mapping[str, Any]]
    declined: list[Mapping[str, Any]]


def decide(proposed: Iterable[Mapping[str, Any]], decisions: Mapping[str, str]) -> Decided:
    """The owner decides each line of the round: every proposed line, nothing else."""
    proposed = sorted(proposed, key=lambda line: line["position"])
    ids = {line["line_id"] for line in proposed}
    unknown = sorted(set(decisions) - ids)
    if unknown:
        raise InvalidInput("decisions", f"not lines of this quote round: {', '.join(unknown)}")
    missing = [line["line_id"] for line in proposed if line["line_id"] not in decisions]
    if missing:
        raise InvalidInput("decisions", f"decide every line; missing: {', '.join(missing)}",
                           missing_lines=missing)
    approved = [line for line in proposed if decisions[line["line_id"]] == Decision.APPROVED]
    declined = [line for line in proposed if decisions[line["line_id"]] == Decision.DECLINED]
    return Decided(approved=approved, declined=declined)


OWNER_CHANNELS = frozenset({ApprovalChannel.APP, ApprovalChannel.WECHAT, ApprovalChannel.WEB})
STAFF_CHANNELS = frozenset({ApprovalChannel.PHONE, ApprovalChannel.IN_PERSON})


@dataclass(frozen=True)
class Approver:
    """Who approves a round and through which channel: the owner online, or the advisor
    recording what the owner said (on the phone, at the counter)."""

    via: str
    signed_by: str
    on_behalf: bool = False  # staff spoke for the owner: a privileged action, audited


def approver(identity: Identity, requested_via: str | None, customer_id: str, *,
             through_link: bool = False) -> Approver:
    """An owner approves through APP, WECHAT or WEB (and signs as the customer), or through
    the signed quote link (LINK, the only channel there); an advisor records a PHONE or
    IN_PERSON approval (and signs as themselves)."""
    if through_link:
        if requested_via not in (None, ApprovalChannel.LINK):
            raise InvalidInput("approved_via", "through the quote link it is LINK, or left out")
        return Approver(via=ApprovalChannel.LINK.value, signed_by=customer_id)
    if identity.is_owner:
        via = requested_via or ApprovalChannel.WEB.value
        if via not in OWNER_CHANNELS:
            raise InvalidInput("approved_via", "an owner approves through APP, WECHAT or WEB")
        return Approver(via=via, signed_by=customer_id)
    via = requested_via or ApprovalChannel.PHONE.value
    if via not in STAFF_CHANNELS:
        raise InvalidInput("approved_via", "an advisor records a PHONE or IN_PERSON approval")
    return Approver(via=via, signed_by=identity.subject, on_behalf=True)


def decisions_of(entries: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """The decision on each line, by line id; a line decided twice is refused."""
    decisions: dict[str, str] = {}
    for entry in entries:
        if entry["line_id"] in decisions:
            raise InvalidInput("decisions", f"line {entry['line_id']} is decided twice")
        decisions[entry["line_id"]] = entry["decision"]
    return decisions


def after_decision(work_approved: bool, decided: Decided) -> tuple[bool, Action]:
    """Whether work is approved once the round is decided, and the stage action that follows:
    work goes ahead if anything (in this round or an earlier one) is approved, else nothing
    at all was approved and the car goes straight to settlement."""
    approved = work_approved or bool(decided.approved)
    return approved, Action.AUTHORIZE_WORK if approved else Action.DECLINE_ALL_WORK


def labour_to_do(approved: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The approved lines that become jobs: labour only (parts are issued by parts)."""
    return [line for line in approved if line["kind"] == LineKind.LABOUR]


def counts_as_issued(line: Mapping[str, Any] | None) -> bool:
    """Whether a part issued against `line` counts on it: only an approved part line's. An
    issue against anything else is kept, flagged for the parts manager."""
    return (line is not None and line["status"] == LineStatus.APPROVED
            and line["kind"] == LineKind.PART)


def part_issue(data: Mapping[str, Any], *, against_approved_line: bool,
               recorded_at: datetime) -> dict[str, Any]:
    """The record of a part parts issued to the repair order (from its PartIssued event)."""
    return {
        "issue_id": data["issue_id"], "repair_order_id": data["repair_order_id"],
        "line_id": data["quote_line_id"], "part_number": data["part_number"],
        "quantity": Decimal(data["quantity"]), "unit": data["unit"],
        "batch_number": data.get("batch_number"), "serial_numbers": data.get("serial_numbers"),
        "from_stock": data["from_stock"], "issued_by": data["issued_by"],
        "issued_at": datetime.fromisoformat(data["issued_at"]),
        "against_approved_line": against_approved_line, "recorded_at": recorded_at,
    }


def round_total(lines: Iterable[Mapping[str, Any]]) -> Decimal:
    return sum((line["amount"] for line in lines), ZERO)


def contract_line(line: Mapping[str, Any]) -> dict[str, Any]:
    """A stored line as the event contract's QuoteLine."""
    out: dict[str, Any] = {
        "line_id": line["line_id"], "kind": line["kind"], "description": line["description"],
        "unit_price": line["unit_price"], "amount": line["amount"], "pay_type": line["pay_type"],
    }
    if line["kind"] == LineKind.LABOUR:
        out["operation_code"] = line["operation_code"]
        out["flat_rate_hours"] = _plain(line["flat_rate_hours"])
    else:
        out["part_number"] = line["part_number"]
        out["quantity"] = _plain(line["quantity"])
    return out


def _plain(number: Decimal) -> Decimal:
    """1.500 → 1.5 and 2.000 → 2: quantities and hours without trailing zeros."""
    number = Decimal(number)
    normalised = number.normalize()
    return normalised.quantize(Decimal(1)) if normalised == normalised.to_integral() \
        else normalised
