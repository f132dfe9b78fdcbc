"""The quote (报价) and the owner's decision on each line.

A line is DRAFT while the advisor builds the round, PROPOSED once the round is sent, then
APPROVED or DECLINED by the owner. Only APPROVED labour lines become jobs, and only APPROVED
part lines are reserved and issued by parts: no work starts on a line before it is approved.
Declined lines are kept for the declined-work follow-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chassis.errors import Conflict, InvalidInput
from workorder.domain.pricing import LineKind, labour_amount, money, part_amount


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
