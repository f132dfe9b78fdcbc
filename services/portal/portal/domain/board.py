"""What the workshop board shows: a column per STAR stage of the workshop, a card per car,
which cards are late, and the words of each. Plain Python.

The data are workorder's (`GET /workshop-board`: each repair order's stage and what it waits
for, the technicians' load); this module only lays them out. A card is late when the time
promised to the owner has passed and the car is not handed over yet: the advisor should call
the owner before the owner calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

# The columns, left to right, and the STAR stages of workorder each one shows.
COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("received", ("VEHICLE_RECEIVED",)),
    ("inspection", ("EVALUATION",)),
    ("quote", ("PROPOSAL_BUILD",)),
    ("approval", ("AWAITING_CUSTOMER_AUTHORIZATION",)),
    ("work", ("WORK_IN_PROGRESS",)),
    ("quality", ("QUALITY_ASSURANCE",)),
    ("settlement", ("INVOICE",)),
    ("delivered", ("VEHICLE_DELIVERED", "CLOSED")),  # handed over today
)
COLUMN_KEYS = tuple(key for key, _ in COLUMNS)
DELIVERED = "delivered"
_COLUMN_OF = {stage: key for key, stages in COLUMNS for stage in stages}

# What a car waits for, as workorder names it, and how loud the card says it: the owner's
# decision and the parts are what holds a car up outside the workshop's own hands.
WAITS_TONE = {"APPROVAL": "warn", "PARTS": "warn", "PAYMENT": "warn", "SIGNATURE": "warn",
              "QC": "info", "SELF_CHECK": "info", "DISPATCH": "info", "INVOICE": "info",
              "HAND_OVER": "ok", "WORK": "muted", "INSPECTION": "muted", "QUOTE": "info"}


def column_of(stage: str) -> str | None:
    """The board's column of a workorder stage; None for a stage the board does not show
    (cancelled, or one a newer workorder added)."""
    return _COLUMN_OF.get(stage)


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def minutes_late(promised_at: datetime, now: datetime, column: str) -> int:
    """How many whole minutes past the promised time a car still in the workshop is (0: on
    time, or handed over already)."""
    if column == DELIVERED or now <= promised_at:
        return 0
    return max(1, int((now - promised_at).total_seconds() // 60))


@dataclass(frozen=True)
class Card:
    id: str
    column: str
    stage: str
    plate: str
    model: str
    advisor_id: str
    promised_at: datetime
    minutes_late: int
    waiting_for: str | None
    customer_waiting: bool = False
    jobs: int = 0
    jobs_done: int = 0
    technician_ids: tuple[str, ...] = ()
    delivered_at: datetime | None = None

    @property
    def late(self) -> bool:
        return self.minutes_late > 0

    @property
    def href(self) -> str:
        return f"/board/repair-orders/{self.id}"

    @property
    def waits_key(self) -> str | None:
        return f"board.waits.{self.waiting_for}" if self.waiting_for else None

    @property
    def waits_tone(self) -> str:
        return WAITS_TONE.get(self.waiting_for or "", "muted")


@dataclass(frozen=True)
class Column:
    key: str
    cards: list[Card] = field(default_factory=list)

    @property
    def title_key(self) -> str:
        return f"board.column.{self.key}"


@dataclass(frozen=True)
class TechnicianLoad:
    id: str
    name: str
    jobs_assigned: int
    load_hours: str
    clocked_on: str | None  # the repair order the technician's clock runs on


@dataclass(frozen=True)
class Board:
    columns: list[Column]
    technicians: list[TechnicianLoad]

    @property
    def cards(self) -> list[Card]:
        return [card for column in self.columns for card in column.cards]

    @property
    def late(self) -> int:
        return sum(1 for card in self.cards if card.late)


def card_of(item: Mapping[str, Any], now: datetime) -> Card | None:
    column = column_of(str(item.get("stage", "")))
    promised = _moment(item.get("promised_at"))
    if column is None or promised is None:
        return None
    return Card(id=str(item["id"]), column=column, stage=str(item["stage"]),
                plate=str(item.get("plate") or ""), model=str(item.get("model") or ""),
                advisor_id=str(item.get("advisor_id") or ""), promised_at=promised,
                minutes_late=minutes_late(promised, now, column),
                waiting_for=item.get("waiting_for"),
                customer_waiting=bool(item.get("customer_waiting")),
                jobs=int(item.get("jobs") or 0), jobs_done=int(item.get("jobs_done") or 0),
                technician_ids=tuple(item.get("technician_ids") or ()),
                delivered_at=_moment(item.get("delivered_at")))


def board_of(answer: Mapping[str, Any], now: datetime) -> Board:
    """workorder's board answer laid out in columns: in each, late cars first (most late
    first), then by the time promised, so what needs a call is at the top."""
    cards = [card for item in answer.get("repair_orders") or []
             if (card := card_of(item, now)) is not None]
    columns = []
    for key in COLUMN_KEYS:
        own = [card for card in cards if card.column == key]
        own.sort(key=lambda c: (-c.minutes_late, c.promised_at, c.id))
        columns.append(Column(key, own))
    plates = {card.id: card.plate for card in cards}
    technicians = [TechnicianLoad(
        id=str(t["id"]), name=str(t.get("name") or t["id"]),
        jobs_assigned=int(t.get("jobs_assigned") or 0), load_hours=str(t.get("load_hours", "0")),
        clocked_on=_clocked_on(t.get("clocked_on"), plates))
        for t in answer.get("technicians") or []]
    return Board(columns, technicians)


def _clocked_on(clock: Mapping[str, Any] | None, plates: Mapping[str, str]) -> str | None:
    if not clock:
        return None
    ro_id = str(clock.get("repair_order_id"))
    return plates.get(ro_id) or ro_id


def local_clock(moment: datetime, zone: str, now: datetime) -> str:
    """A time as the workshop reads it: 14:30 today, 12-08 14:30 another day."""
    here = ZoneInfo(zone)
    local = moment.astimezone(here)
    return local.strftime("%H:%M") if local.date() == now.astimezone(here).date() \
        else local.strftime("%m-%d %H:%M")


# -- the repair order's page -------------------------------------------------------------------

INSPECTION_STATUSES = ("RED", "YELLOW", "GREEN")


@dataclass(frozen=True)
class InspectionSummary:
    counts: dict[str, int]
    findings: list[Mapping[str, Any]]   # the red and yellow items, red first
    submitted: bool


def inspection_summary(inspection: Mapping[str, Any] | None) -> InspectionSummary | None:
    """The multi-point inspection in a few words: how many items of each colour, and the
    items found red or yellow with the technician's notes."""
    if not inspection:
        return None
    items = list(inspection.get("items") or [])
    counts = {status: sum(1 for item in items if item.get("status") == status)
              for status in INSPECTION_STATUSES}
    counts["OPEN"] = sum(1 for item in items if not item.get("status"))
    findings = sorted((item for item in items if item.get("status") in ("RED", "YELLOW")),
                      key=lambda item: (INSPECTION_STATUSES.index(item["status"]),
                                        item.get("position", 0)))
    return InspectionSummary(counts, findings, bool(inspection.get("submitted_at")))


def quote_lines(quote: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """Every line of every quote round, in round and line order."""
    if not quote:
        return []
    return [line for one in quote.get("rounds") or [] for line in one.get("lines") or []]


def timeline(history: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """The stages the repair order entered, when, with the board's column of each."""
    return [{"stage": h["stage"], "column": column_of(h["stage"]), "at": _moment(h["at"])}
            for h in history or [] if h.get("stage")]
