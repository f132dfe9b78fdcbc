"""A fake unit of work for workorder's use cases: in-memory stores with the methods of
`workorder.store`, photo files in a dict, and parts answering from a price list. No database,
no broker, no network, no files; events are validated against their contracts all the same.

Each store hands out copies, as the database hands out rows: a use case holding a repair
order it read does not see it change under its hands.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chassis.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable
from chassis.unit_of_work import FakeUnitOfWork
from workorder.domain.reception import repair_order_number
from workorder.domain.stages import OPEN_STAGES, Stage
from workorder.domain.workshop import JobStatus, Technician
from workorder.links import OwnerLinks

SECRET = "a-site-secret-of-at-least-32-characters!"
Row = dict[str, Any]


def _copy(row: Mapping[str, Any] | None) -> Row | None:
    return None if row is None else dict(row)


class RepairOrders:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.stage_history: list[Row] = []

    def get(self, repair_order_id: str, *, for_update: bool = False) -> Row:
        row = self.find(repair_order_id)
        if row is None:
            raise NotFound(f"repair order {repair_order_id} not found")
        return row

    def find(self, repair_order_id: str, *, for_update: bool = False) -> Row | None:
        return _copy(self.rows.get(repair_order_id))

    def received_as(self, appointment_id: str | None) -> str | None:
        return next((r["id"] for r in self.rows.values()
                     if appointment_id and r["appointment_id"] == appointment_id), None)

    def open_for(self, vin: str) -> str | None:
        return next((r["id"] for r in self.rows.values()
                     if r["vin"] == vin and Stage(r["stage"]) in OPEN_STAGES), None)

    def add(self, row: dict[str, Any], *, dealer_code: str, local_day: date) -> str:
        if row.get("appointment_id") and self.received_as(row["appointment_id"]):
            raise Conflict("this appointment has already been received")
        prefix = repair_order_number(dealer_code, local_day, 0)[:-4]
        taken = sum(1 for ro_id in self.rows if ro_id.startswith(prefix))
        ro_id = repair_order_number(dealer_code, local_day, taken + 1)
        self.rows[ro_id] = {"id": ro_id, "delivered_at": None, "delivery_mileage_km": None,
                            "closed_at": None, "cancel_reason": None, **row}
        return ro_id

    def entered(self, ro_id: str, to: Stage, *, action: str, actor: str, at: datetime,
                from_stage: str | None = None) -> None:
        self.stage_history.append({"repair_order_id": ro_id, "from_stage": from_stage,
                                   "to_stage": to.value, "action": str(action), "actor": actor,
                                   "at": at})

    def set_stage(self, ro: Mapping[str, Any], to: Stage, *, action: str, actor: str,
                  at: datetime, **changes: Any) -> None:
        self.rows[ro["id"]].update(stage=to.value, **changes)
        self.entered(ro["id"], to, action=action, actor=actor, at=at, from_stage=ro["stage"])

    def listed(self, *, customer_id: str | None, stage: str | None, vin: str | None,
               limit: int) -> list[Row]:
        found = [r for r in self.rows.values()
                 if (customer_id is None or r["customer_id"] == customer_id)
                 and (not stage or r["stage"] == stage) and (not vin or r["vin"] == vin)]
        return [dict(r) for r in sorted(found, key=lambda r: r["opened_at"], reverse=True)
                ][:limit]

    def history(self, ro_id: str) -> list[Row]:
        return [dict(h) for h in self.stage_history if h["repair_order_id"] == ro_id]


class Vehicles:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def lock(self, vin: str) -> None:
        pass

    def remember(self, *, vin: str, plate: str, model: str | None, mileage_km: int,
                 at: datetime) -> None:
        row = self.rows.setdefault(vin, {"vin": vin, "model": None})
        row.update(plate=plate, last_mileage_km=mileage_km, last_seen_at=at)
        if model:
            row["model"] = model

    def last_mileage(self, vin: str) -> int | None:
        return self.rows[vin]["last_mileage_km"] if vin in self.rows else None

    def model_of(self, vin: str) -> str | None:
        return self.rows[vin]["model"] if vin in self.rows else None


class ExpectedArrivals:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def for_appointment(self, appointment_id: str) -> Row | None:
        return _copy(self.rows.get(appointment_id))

    def add(self, row: dict[str, Any]) -> None:
        if row["appointment_id"] in self.rows:
            raise Conflict("duplicate key")  # the table's primary key
        self.rows[row["appointment_id"]] = dict(row)

    def all(self) -> list[Row]:
        return sorted((dict(r) for r in self.rows.values()), key=lambda r: r["expected_at"])


DEFAULT_CHECKLIST = [("BRAKE_PAD_FRONT", "前刹车片 (front brake pads)"),
                     ("BATTERY", "蓄电池 (battery)"), ("WIPERS", "雨刮 (wipers)")]


class Inspections:
    def __init__(self) -> None:
        self.templates_ = [{"code": "MPI_STANDARD", "name": "标准环检", "is_default": True}]
        self.template_items = [{"template_code": "MPI_STANDARD", "item_code": code,
                                "name": name, "position": n}
                               for n, (code, name) in enumerate(DEFAULT_CHECKLIST, 1)]
        self.rows: dict[str, Row] = {}
        self.item_rows: dict[tuple[str, str], Row] = {}

    def templates(self) -> tuple[list[Row], list[Row]]:
        return [dict(t) for t in self.templates_], [dict(i) for i in self.template_items]

    def checklist(self, template_code: str | None) -> tuple[str, list[Row]]:
        found = [t for t in self.templates_ if
                 (t["code"] == template_code if template_code else t["is_default"])]
        if not found:
            raise InvalidInput("template_code", f"no checklist template {template_code}")
        code = found[0]["code"]
        return code, [dict(i) for i in self.template_items if i["template_code"] == code]

    def start(self, *, inspection_id: str, ro_id: str, template_code: str,
              items: Iterable[Mapping[str, Any]], by: str, at: datetime) -> None:
        self.rows[inspection_id] = {"id": inspection_id, "repair_order_id": ro_id,
                                    "template_code": template_code, "started_by": by,
                                    "started_at": at, "submitted_by": None,
                                    "submitted_at": None}
        for item in items:
            self.item_rows[inspection_id, item["item_code"]] = {
                "inspection_id": inspection_id, "code": item["item_code"], "name": item["name"],
                "position": item["position"], "status": None, "notes": None, "photos": [],
                "recorded_by": None, "recorded_at": None}

    def of(self, ro_id: str) -> Row | None:
        return _copy(next((r for r in self.rows.values() if r["repair_order_id"] == ro_id),
                          None))

    def items(self, inspection_id: str) -> list[Row]:
        return sorted((dict(i) for i in self.item_rows.values()
                       if i["inspection_id"] == inspection_id), key=lambda i: i["position"])

    def record_item(self, inspection_id: str, code: str, values: dict[str, Any], *,
                    new: tuple[str, int] | None = None) -> None:
        if new is None:
            self.item_rows[inspection_id, code].update(values)
        else:
            self.item_rows[inspection_id, code] = {"inspection_id": inspection_id, "code": code,
                                                   "name": new[0], "position": new[1], **values}

    def submit(self, inspection_id: str, *, by: str, at: datetime) -> None:
        self.rows[inspection_id].update(submitted_by=by, submitted_at=at)


class Photos:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.links: set[tuple[str, str]] = set()

    def of(self, ro_id: str) -> dict[str, Row]:
        return {sha: dict(self.rows[sha]) for (ro, sha) in sorted(self.links) if ro == ro_id}

    def register(self, *, ro_id: str, sha256: str, content_type: str, size_bytes: int,
                 by: str, at: datetime) -> None:
        self.rows.setdefault(sha256, {"sha256": sha256, "content_type": content_type,
                                      "size_bytes": size_bytes, "stored_at": at})
        self.links.add((ro_id, sha256))


_LINE_COLUMNS = ("operation_code", "flat_rate_hours", "skill", "part_number", "quantity",
                 "unit", "available_at_quote", "decided_at")


class Quotes:
    def __init__(self) -> None:
        self.line_rows: dict[tuple[str, str], Row] = {}
        self.round_rows: dict[tuple[str, int], Row] = {}

    def lines(self, ro_id: str, *, round_: int | None = None,
              status: str | Iterable[str] | None = None) -> list[Row]:
        statuses = None if status is None else (
            {status} if isinstance(status, str) else set(status))
        found = [line for (ro, _), line in self.line_rows.items() if ro == ro_id
                 and (round_ is None or line["round"] == round_)
                 and (statuses is None or line["status"] in statuses)]
        return sorted((dict(line) for line in found), key=lambda line: line["position"])

    def line(self, ro_id: str, line_id: str) -> Row | None:
        return _copy(self.line_rows.get((ro_id, line_id)))

    def highest_line_number(self, ro_id: str) -> int:
        return max((line["position"] for (ro, _), line in self.line_rows.items() if ro == ro_id),
                   default=0)

    def rounds(self, ro_id: str) -> list[Row]:
        return [dict(r) for (ro, _), r in sorted(self.round_rows.items()) if ro == ro_id]

    def open_round(self, ro_id: str, round_: int, *, quote_id: str, by: str,
                   at: datetime) -> None:
        self.round_rows[ro_id, round_] = {
            "repair_order_id": ro_id, "round": round_, "quote_id": quote_id, "opened_at": at,
            "opened_by": by, "sent_at": None, "sent_by": None, "decided_at": None,
            "approved_via": None, "signed_by": None, "signer_name": None,
            "signature_sha256": None, "signed_from": None, "approved_total": None,
            "declined_total": None}

    def add_lines(self, ro_id: str, rows: list[dict[str, Any]], *, by: str,
                  at: datetime) -> None:
        for row in rows:
            self.line_rows[ro_id, row["line_id"]] = {
                **dict.fromkeys(_LINE_COLUMNS), "issued_quantity": Decimal("0.000"), **row,
                "repair_order_id": ro_id, "created_by": by, "created_at": at}

    def remove_line(self, ro_id: str, line_id: str) -> None:
        del self.line_rows[ro_id, line_id]

    def send_round(self, ro_id: str, round_: int, *, status: str, by: str,
                   at: datetime) -> None:
        for (ro, _), line in self.line_rows.items():
            if ro == ro_id and line["round"] == round_:
                line["status"] = status
        self.round_rows[ro_id, round_].update(sent_at=at, sent_by=by)

    def decide_lines(self, ro_id: str, line_ids: list[str], *, status: str,
                     at: datetime) -> None:
        for line_id in line_ids:
            self.line_rows[ro_id, line_id].update(status=status, decided_at=at)

    def record_decision(self, ro_id: str, round_: int, **values: Any) -> None:
        self.round_rows[ro_id, round_].update(values)

    def count_issued(self, ro_id: str, line_id: str, quantity: Decimal) -> None:
        self.line_rows[ro_id, line_id]["issued_quantity"] += quantity


class Workshop:
    def __init__(self, quotes: Quotes) -> None:
        self.quotes = quotes
        self.technician_rows: dict[str, Row] = {}
        self.job_rows: dict[tuple[str, str], Row] = {}
        self.clock_rows: list[Row] = []
        self.checks: list[Row] = []
        self._clock_ids = itertools.count(1)

    def technicians_with_load(self, *, active_only: bool = True) -> list[Technician]:
        load: dict[str, Decimal] = {}
        for (ro_id, line_id), job in self.job_rows.items():
            if job["status"] != JobStatus.DONE and job["technician_id"]:
                hours = self.quotes.line_rows[ro_id, line_id]["flat_rate_hours"] or 0
                load[job["technician_id"]] = load.get(job["technician_id"], Decimal(0)) + hours
        return [Technician(id=t["id"], name=t["name"], skills=frozenset(t["skills"]),
                           load_hours=Decimal(load.get(t["id"], 0)).quantize(Decimal("0.01")))
                for t in sorted(self.technician_rows.values(), key=lambda t: t["id"])
                if t["active"] or not active_only]

    def technician(self, technician_id: str) -> Row | None:
        return _copy(self.technician_rows.get(technician_id))

    def add_technician(self, *, technician_id: str, name: str, skills: list[str],
                       at: datetime) -> None:
        self.technician_rows[technician_id] = {"id": technician_id, "name": name,
                                               "skills": skills, "active": True,
                                               "created_at": at}

    def jobs(self, ro_id: str) -> list[Row]:
        found = []
        for (ro, line_id), job in self.job_rows.items():
            if ro == ro_id:
                line = self.quotes.line_rows[ro, line_id]
                found.append({**job, **{k: line[k] for k in (
                    "description", "operation_code", "skill", "flat_rate_hours", "position")}})
        return sorted(found, key=lambda j: j["position"])

    def job(self, ro_id: str, line_id: str) -> Row | None:
        return _copy(self.job_rows.get((ro_id, line_id)))

    def add_jobs(self, ro_id: str, line_ids: list[str]) -> None:
        for line_id in line_ids:
            self.job_rows[ro_id, line_id] = {
                "repair_order_id": ro_id, "line_id": line_id, "technician_id": None,
                "status": JobStatus.PENDING.value, "assigned_by": None, "assigned_at": None,
                "assignment_overridden": False, "rework_count": 0, "completed_at": None}

    def update_job(self, ro_id: str, line_id: str, **changes: Any) -> None:
        self.job_rows[ro_id, line_id].update(changes)

    def reopen_jobs(self, ro_id: str, line_ids: list[str], *, rework: bool) -> None:
        for line_id in line_ids:
            job = self.job_rows[ro_id, line_id]
            job.update(status=JobStatus.ASSIGNED.value, completed_at=None,
                       rework_count=job["rework_count"] + (1 if rework else 0))

    def open_clock(self, technician_id: str) -> Row | None:
        return _copy(next((c for c in self.clock_rows if c["technician_id"] == technician_id
                           and c["clocked_off_at"] is None), None))

    def clock_entries(self, ro_id: str) -> list[Row]:
        return [dict(c) for c in self.clock_rows if c["repair_order_id"] == ro_id]

    def clock_on(self, *, ro_id: str, line_id: str, technician_id: str, at: datetime) -> None:
        if self.open_clock(technician_id) is not None:  # the one-open-clock index
            raise Conflict(f"technician {technician_id} is already clocked on another job: "
                           "clock off first")
        self.clock_rows.append({"id": next(self._clock_ids), "repair_order_id": ro_id,
                                "line_id": line_id, "technician_id": technician_id,
                                "clocked_on_at": at, "clocked_off_at": None})

    def clock_off(self, entry_id: int, *, at: datetime) -> None:
        next(c for c in self.clock_rows if c["id"] == entry_id)["clocked_off_at"] = at

    def next_check_id(self, ro_id: str) -> str:
        done = sum(1 for c in self.checks if c["repair_order_id"] == ro_id)
        return f"QC-{ro_id}-{done + 1}"

    def add_check(self, check: dict[str, Any]) -> None:
        self.checks.append(dict(check))


class Invoices:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.payment_rows: list[Row] = []

    def invoice(self, ro_id: str) -> Row | None:
        return _copy(self.rows.get(ro_id))

    def payments(self, ro_id: str) -> list[Row]:
        return [dict(p) for p in self.payment_rows if p["repair_order_id"] == ro_id]

    def replace(self, record: dict[str, Any], *, by: str, at: datetime) -> None:
        self.rows[record["repair_order_id"]] = {
            **record, "issued_by": by, "issued_at": at, "signed_by_name": None,
            "signature_sha256": None, "signed_at": None, "signed_from": None,
            "signed_via": None}

    def add_payment(self, ro_id: str, *, method: str, amount: Decimal, reference: str | None,
                    by: str, at: datetime) -> None:
        self.payment_rows.append({"id": len(self.payment_rows) + 1, "repair_order_id": ro_id,
                                  "method": method, "amount": amount, "reference": reference,
                                  "received_by": by, "received_at": at})

    def sign(self, ro_id: str, **signature: Any) -> None:
        self.rows[ro_id].update(signature)


class Campaigns:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.vins: set[tuple[str, str]] = set()
        self.completions: dict[tuple[str, str], Row] = {}

    def record(self, data: Mapping[str, Any], *, recorded_at: datetime) -> int:
        self.rows.setdefault(data["campaign_code"], {
            "code": data["campaign_code"], "kind": data.get("kind"), "title": data["title"],
            "starts_on": date.fromisoformat(data["starts_on"]),
            "operation_code": data.get("operation_code"), "model": data.get("model"),
            "year_from": data.get("year_from"), "year_to": data.get("year_to")})
        new = {(data["campaign_code"], v) for v in data.get("vins") or []} - self.vins
        self.vins |= new
        return len(new)

    def covering(self, vin: str, model: str | None, on: date) -> tuple[list[Row], set[str]]:
        listed = {code for code, v in self.vins if v == vin}
        rows = [dict(c) for c in self.rows.values() if c["starts_on"] <= on
                and (c["code"] in listed or (model and c["model"] is not None))]
        return rows, listed

    def record_completion(self, data: Mapping[str, Any], *, recorded_at: datetime) -> bool:
        key = (data["campaign_code"], data["vin"])
        if key in self.completions:
            return False
        self.completions[key] = {**data, "recorded_at": recorded_at}
        return True

    def completed(self, vin: str) -> set[str]:
        return {code for code, v in self.completions if v == vin}


class PartIssues:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def known(self, issue_id: str) -> bool:
        return issue_id in self.rows

    def add(self, row: dict[str, Any]) -> None:
        self.rows[row["issue_id"]] = dict(row)

    def of(self, ro_id: str) -> list[Row]:
        return sorted((dict(r) for r in self.rows.values() if r["repair_order_id"] == ro_id),
                      key=lambda r: (r["issued_at"], r["recorded_at"]))


class Media:
    """Photo files by SHA-256, in a dict."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def put(self, sha256: str, body: bytes) -> bool:
        if sha256 in self.files:
            return False
        self.files[sha256] = body
        return True

    def read(self, sha256: str) -> bytes | None:
        return self.files.get(sha256)


class Parts:
    """parts' price list over the RPC, as `workorder.use_cases.PartsPrices`."""

    def __init__(self, catalogue: Mapping[str, Mapping[str, str]]) -> None:
        self.catalogue = dict(catalogue)
        self.asked: list[str] = []
        self.down = False

    def price_of(self, part_number: str) -> Mapping[str, Any] | None:
        self.asked.append(part_number)
        if self.down:
            raise ServiceUnavailable("parts prices are unavailable right now", service="parts")
        found = self.catalogue.get(part_number)
        return None if found is None else dict(found)


class FakeWorkorderUnitOfWork(FakeUnitOfWork):
    """`WorkorderUnitOfWork` with every store in memory."""

    def __init__(self) -> None:
        super().__init__(source="dealer/D001/workorder", dealer_code="D001")
        self.repair_orders = RepairOrders()
        self.vehicles = Vehicles()
        self.arrivals = ExpectedArrivals()
        self.inspections = Inspections()
        self.photos = Photos()
        self.quotes = Quotes()
        self.workshop = Workshop(self.quotes)
        self.invoices = Invoices()
        self.campaigns = Campaigns()
        self.part_issues = PartIssues()
        self.media = Media()
        self.links = OwnerLinks(SECRET)

    def events_of(self, event_type: str) -> list[dict[str, Any]]:
        """The `data` of every event of one type, in the order emitted."""
        return [e["data"] for e in self.emitted if e["type"] == f"aftersales.{event_type}.v1"]
