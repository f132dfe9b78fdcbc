"""The traffic of a dealer's working day, over the sites' HTTP APIs and headquarters' crm.

Every step is one the people of a site take, with their own signed tokens: owners book in
the app, the call centre books by phone, advisors check cars in and open repair orders,
technicians inspect with photos, the owner approves or declines each quote line, the parts
desk issues parts (and meets a shortage), technicians clock their jobs, QC fails some work
back, the cashier takes payment, the advisor hands the car over, and a few days later the
owner answers the survey. Days are consecutive upcoming working days of each site's calendar,
so every booking is valid as the booking service sees the clock.

A 4xx on a step is counted by reason and ends that car's story; a 5xx or an unreachable
service aborts the run with the response body (`TrafficAborted`).
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import eventlet
import requests

from chassis.auth import CROSS_DEALER, Role
from contracts.customer import customer_id_for
from simulator import trade
from simulator.trade import CarPlan, Customer, Vehicle

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
EVENT_WAIT_SECONDS = 20.0    # an event crossing one site's broker
PAYMENT_METHODS = ["WECHAT_PAY", "ALIPAY", "CARD", "CASH"]
OWNER_APPROVAL_CHANNELS = ["APP", "WECHAT", "WEB"]
MAX_WINDOW_DAYS = 31         # the longest availability query booking answers


@dataclass
class SiteEndpoints:
    """Base URLs of one dealer site's services, e.g. "http://127.0.0.1:8101"."""

    dealer_code: str
    booking: str
    workorder: str
    parts: str
    portal: str = ""  # the site's pages for owners and staff, where it runs one


@dataclass
class HeadquartersEndpoints:
    crm: str
    notify: str
    bi: str


class TrafficAborted(RuntimeError):
    """A service failed (5xx) or could not be reached: the run cannot go on meaningfully."""


class StepRefused(Exception):
    """A service refused a simulated step (4xx)."""

    def __init__(self, step: str, status: int, body: Any) -> None:
        self.step, self.status, self.body = step, status, body
        super().__init__(f"{step}: {status} {body}")

    @property
    def reason(self) -> str:
        detail = ""
        if isinstance(self.body, dict):
            named = self.body.get("reason") or ",".join(sorted(self.body.get("fields") or {}))
            detail = f"{self.body.get('error', '')} {named}".strip()
        return f"{self.step}: {self.status} {detail}".strip()


# -- the report ---------------------------------------------------------------------------


@dataclass
class DealerTally:
    """What one dealer's simulated days came to (or the sum over all dealers)."""

    dealer_code: str
    bookings_by_channel: Counter = field(default_factory=Counter)
    cancellations: int = 0
    no_shows: int = 0             # customers who did not come
    no_shows_recorded: int = 0    # of them, already marked NO_SHOW by booking's sweep
    check_ins: int = 0
    repair_orders_opened: int = 0
    walk_ins: int = 0             # repair orders opened without an appointment
    inspections: int = 0
    inspections_with_photos: int = 0
    photos_uploaded: int = 0
    quote_lines_approved: int = 0
    quote_lines_declined: int = 0
    additional_work_rounds: int = 0
    parts_issued: int = 0         # requisitions filled
    parts_shortages: int = 0      # requisitions the shelf could not fill at first
    emergency_receipts: int = 0
    qc_failures: int = 0
    deliveries: int = 0
    revenue_invoiced: Decimal = Decimal("0.00")
    revenue_paid: Decimal = Decimal("0.00")
    surveys_sent: int = 0
    surveys_answered: int = 0
    low_scores: int = 0
    complaints_opened: int = 0
    refusals: Counter = field(default_factory=Counter)   # 4xx by step and reason

    @property
    def bookings(self) -> int:
        return sum(self.bookings_by_channel.values())

    def kpis(self) -> dict[str, float | str | None]:
        """The fixed-ops KPIs headquarters reads off such a day (None when undefined)."""

        def rate(part: float, whole: float) -> float | None:
            return round(part / whole, 3) if whole else None

        decided = self.quote_lines_approved + self.quote_lines_declined
        return {
            "appointment_show_rate": rate(self.check_ins, self.bookings - self.cancellations),
            "quote_approval_rate": rate(self.quote_lines_approved, decided),
            "parts_fill_rate": rate(self.parts_issued - self.parts_shortages,
                                    self.parts_issued),
            "qc_first_time_pass_rate": rate(self.deliveries - self.qc_failures,
                                            self.deliveries),
            "survey_response_rate": rate(self.surveys_answered, self.surveys_sent),
            "revenue_per_repair_order": (
                str((self.revenue_invoiced / self.deliveries).quantize(Decimal("0.01")))
                if self.deliveries else None),
        }

    def add(self, other: DealerTally) -> None:
        for f in fields(self):
            if f.name != "dealer_code":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dealer_code": self.dealer_code, "bookings": self.bookings}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Counter):
                value = dict(sorted(value.items()))
            elif isinstance(value, Decimal):
                value = str(value)
            out[f.name] = value
        out["kpis"] = self.kpis()
        return out


@dataclass
class DayReport:
    days: list[str]
    dealers: dict[str, DealerTally]
    owner_link: str | None = None           # an owner's repair-order page, as workorder signs it
    example_repair_order: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> DealerTally:
        total = DealerTally("ALL")
        for tally in self.dealers.values():
            total.add(tally)
        return total

    def as_dict(self) -> dict[str, Any]:
        return {"days": self.days, "total": self.total.as_dict(),
                "dealers": {code: t.as_dict() for code, t in self.dealers.items()},
                "owner_link": self.owner_link, "example_repair_order": self.example_repair_order,
                "notes": self.notes, "seconds": round(self.seconds, 1)}


# -- HTTP as the people of a site ------------------------------------------------------------


class People(Protocol):
    """How the simulated people prove who they are (signing in at identity, or a test's
    issuer), and the survey links the owners receive."""

    def headers(self, role: Role, subject: str, dealer_code: str | None) -> dict[str, str]: ...

    def introduce_owner(self, phone: str) -> None:
        """An owner the story will act as: their customer id is that of this phone."""

    def survey_link_token(self, survey_id: str) -> str: ...


class Desk:
    """Calls one site's (or headquarters') services as a person with a role."""

    def __init__(self, dealer_code: str | None, people: People,
                 session: requests.Session) -> None:
        self.dealer_code, self.people, self.session = dealer_code, people, session

    def headers(self, role: Role | str, subject: str) -> dict[str, str]:
        role = Role(role)
        dealer = None if role in CROSS_DEALER else self.dealer_code
        return self.people.headers(role, subject, dealer)

    def call(self, step: str, method: str, url: str, *, role: Role | str | None,
             subject: str = "", **kwargs: Any) -> Any:
        """The JSON answer; StepRefused on 4xx, TrafficAborted on 5xx or no answer."""
        headers = dict(kwargs.pop("headers", {}))
        if role is not None:
            headers.update(self.headers(role, subject))
        try:
            response = self.session.request(method, url, headers=headers, timeout=30, **kwargs)
        except requests.RequestException as exc:
            raise TrafficAborted(f"{step}: {method} {url} did not answer ({exc})") from None
        if response.status_code >= 500:
            raise TrafficAborted(f"{step}: {method} {url} answered {response.status_code}: "
                                 f"{response.text}")
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise StepRefused(step, response.status_code, body)
        return body


def _wait(what: str, check: Callable[[], Any], timeout: float = EVENT_WAIT_SECONDS) -> Any:
    """Poll until `check()` is truthy; StepRefused-like stop of the story on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise StepRefused(f"waiting for {what}", 408, {"error": "TIMEOUT"})
        time.sleep(0.1)


# -- seeding a site ---------------------------------------------------------------------------


def seed_site(site: SiteEndpoints, people: People) -> None:
    """Make the site ready to trade; running it again changes nothing that is already there.

    The calendar, the technicians with their skills, the parts catalogue and its stock (the
    front brake discs deliberately down to one, so approved pairs meet a shortage).
    """
    desk = Desk(site.dealer_code, people, requests.Session())
    manager = {"role": Role.DEALER_MANAGER, "subject": "MGR-1"}
    current = desk.call("read calendar", "GET", f"{site.booking}/calendar", **manager)
    if not current["configured"] or any(current.get(k) != v for k, v in trade.CALENDAR.items()):
        desk.call("set calendar", "PUT", f"{site.booking}/calendar", json=trade.CALENDAR,
                  **manager)
    for technician_id, name, skills in trade.TECHNICIANS:
        _unless_exists(desk, "add technician", "POST", f"{site.workorder}/technicians", **manager,
                       json={"id": technician_id, "name": name, "skills": skills})
    receipt = []
    for p in trade.PARTS:
        _unless_exists(desk, "add part", "POST", f"{site.parts}/parts", role=Role.PARTS_CLERK,
                       subject="PC-1", json={
                           "part_number": p.part_number, "name": p.name, "unit": p.unit,
                           "unit_price": p.unit_price, "reorder_point": p.reorder_point,
                           "reorder_quantity": p.reorder_quantity})
        on_hand = Decimal(desk.call("look up part", "GET", f"{site.parts}/parts/{p.part_number}",
                                    role=Role.PARTS_CLERK, subject="PC-1")["on_hand"])
        if on_hand < Decimal(p.stock):
            receipt.append({"part_number": p.part_number,
                            "quantity": str(Decimal(p.stock) - on_hand),
                            "batch_number": f"OPEN-{p.part_number}"})
    if receipt:
        desk.call("opening stock", "POST", f"{site.parts}/receipts", role=Role.PARTS_CLERK,
                  subject="PC-1", json={"reference": "OPENING-STOCK", "lines": receipt})


def _unless_exists(desk: Desk, step: str, method: str, url: str, **kwargs: Any) -> None:
    try:
        desk.call(step, method, url, **kwargs)
    except StepRefused as refused:
        if refused.status != 409:
            raise


# -- the days -----------------------------------------------------------------------------


@dataclass
class Delivered:
    dealer_code: str
    repair_order_id: str
    customer_id: str
    score: int | None


@dataclass
class _Run:
    people: People
    session: requests.Session
    progress: Progress | None
    total_steps: int
    report: DayReport
    example_dealer: str      # the dealer whose first repair order the report shows
    delivered: list[Delivered] = field(default_factory=list)
    done: int = 0

    def step(self, label: str, count: int = 1) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(min(self.done, self.total_steps), self.total_steps, label)


def working_days(site: SiteEndpoints, people: People, count: int, session: requests.Session
                 ) -> list[date]:
    """The site's next `count` open days from its own tomorrow, as its calendar says."""
    desk = Desk(site.dealer_code, people, session)
    zone = desk.call("read calendar", "GET", f"{site.booking}/calendar", role=Role.ADVISOR,
                     subject="SA-01")["time_zone"]
    today = datetime.now(ZoneInfo(zone)).date()
    found: list[date] = []
    first = today + timedelta(days=1)
    while len(found) < count:
        last = first + timedelta(days=MAX_WINDOW_DAYS - 1)
        answer = desk.call("find working days", "GET", f"{site.booking}/availability",
                           role=Role.ADVISOR, subject="SA-01",
                           params={"service_type": "MAINTENANCE", "from": first.isoformat(),
                                   "to": last.isoformat()})
        found += [date.fromisoformat(d["date"]) for d in answer["days"] if d["open"]]
        first = last + timedelta(days=1)
        if first > today + timedelta(days=365):
            raise TrafficAborted(f"{site.dealer_code} has fewer than {count} open days "
                                 "within a year")
    return found[:count]


def run_days(sites: list[SiteEndpoints], hq: HeadquartersEndpoints | None, people: People,
             days: int, seed: int = 7, progress: Progress | None = None, *,
             bookings_per_day: tuple[int, int] = (15, 25),
             crm_wait_seconds: float = 120.0) -> DayReport:
    """Simulate `days` working days at every site, then (with `hq`) the follow-up surveys."""
    started = time.monotonic()
    session = requests.Session()
    calendars = {s.dealer_code: working_days(s, people, days, session) for s in sites}
    plans: dict[tuple[str, int], list[CarPlan]] = {}
    for site in sites:
        for index in range(days):
            rng = random.Random(f"{seed}:{site.dealer_code}:{index}")
            plans[site.dealer_code, index] = trade.plan_day(rng, rng.randint(*bookings_per_day))
    steps = sum(len(cars) + sum(c.channel is not None for c in cars) for cars in plans.values())
    if hq is not None:
        steps += 1 + sum(c.fate == "ARRIVE" for cars in plans.values() for c in cars)
    report = DayReport(days=[d.isoformat() for d in calendars[sites[0].dealer_code]],
                       dealers={s.dealer_code: DealerTally(s.dealer_code) for s in sites})
    run = _Run(people, session, progress, steps, report, sites[0].dealer_code)
    # The sites trade side by side, as they do (each on its own green thread); a day ends at
    # every site before the next begins.
    pool = eventlet.GreenPool(len(sites))
    for index in range(days):
        trading = [_Day(run, site, calendars[site.dealer_code][index], index + 1,
                        plans[site.dealer_code, index]) for site in sites]
        list(pool.imap(_Day.trade, trading))
    if hq is not None:
        _follow_up(run, hq, crm_wait_seconds)
    if run.done < run.total_steps:  # stories that stopped early leave steps untaken
        run.step("done", run.total_steps - run.done)
    report.seconds = time.monotonic() - started
    return report


@dataclass
class _Car:
    plan: CarPlan
    rng: random.Random
    customer: Customer
    vehicle: Vehicle
    appointment_id: str | None = None
    slot_start: datetime | None = None
    pickup: bool = False

    @property
    def customer_id(self) -> str:
        return customer_id_for(self.customer.phone)


class _Day:
    """One working day at one dealer site."""

    def __init__(self, run: _Run, site: SiteEndpoints, day: date, number: int,
                 plans: list[CarPlan]) -> None:
        self.run, self.site, self.day = run, site, day
        self.label = f"{site.dealer_code} day {number}"
        self.desk = Desk(site.dealer_code, run.people, run.session)
        self.tally = run.report.dealers[site.dealer_code]
        self.cars = []
        for plan in plans:
            rng = random.Random(plan.seed)
            car = _Car(plan, rng, trade.make_customer(rng), trade.make_vehicle(rng))
            run.people.introduce_owner(car.customer.phone)
            self.cars.append(car)

    def trade(self) -> None:
        for car in self.cars:
            if car.plan.channel is not None:
                self._attempt(car, self._book)
                self.run.step(f"{self.label} bookings")
        for car in self.cars:
            self._attempt(car, self._visit)
            self.run.step(f"{self.label} workshop")
        # The end-of-day sweep marks the customers who did not come, once their grace period
        # is over (on a simulated day still ahead, that is later: see DealerTally.no_shows).
        try:
            swept = self.desk.call("no-show sweep", "POST",
                                   f"{self.site.booking}/no-show-sweeps", role=Role.ADVISOR,
                                   subject="SA-01", json={})
        except StepRefused as refused:
            self.tally.refusals[refused.reason] += 1
        else:
            self.tally.no_shows_recorded += swept["count"]

    def _attempt(self, car: _Car, story: Callable[[_Car], None]) -> None:
        try:
            story(car)
        except StepRefused as refused:
            self.tally.refusals[refused.reason] += 1
            log.info("%s: %s", self.label, refused)

    # -- booking -----------------------------------------------------------------------

    def _book(self, car: _Car) -> None:
        plan, rng = car.plan, car.rng
        staff = Role.ADVISOR if rng.random() < 0.3 else Role.INVITATION_AGENT
        role, subject = ((Role.OWNER, car.customer_id) if plan.channel != "PHONE"
                         else (staff, "SA-01" if staff is Role.ADVISOR else "AGENT-07"))
        free = self.desk.call("availability", "GET", f"{self.site.booking}/availability",
                              role=role, subject=subject,
                              params={"service_type": plan.service_type,
                                      "from": self.day.isoformat(), "to": self.day.isoformat()})
        starts = [slot["start"] for d in free["days"] for slot in d["slots"] if slot["bookable"]]
        if not starts:
            raise StepRefused("booking", 409, {"error": "CONFLICT", "reason": "DAY_FULL"})
        car.pickup = rng.random() < 0.1
        vehicle: dict[str, Any] = {"plate": car.vehicle.plate, "model": car.vehicle.model}
        if rng.random() < 0.7:
            vehicle["vin"] = car.vehicle.vin
        body: dict[str, Any] = {
            "customer": {"name": car.customer.name, "phone": car.customer.phone},
            "vehicle": vehicle, "service_type": plan.service_type,
            "slot_start": rng.choice(starts), "channel": plan.channel,
            "loaner_requested": rng.random() < 0.15}
        if car.pickup:
            body["pickup_address"] = "上海市浦东新区世纪大道 100 号"
        else:
            body["customer_waiting"] = rng.random() < 0.3
        booked = self.desk.call("booking", "POST", f"{self.site.booking}/appointments",
                                role=role, subject=subject, json=body)
        car.appointment_id = booked["id"]
        car.slot_start = datetime.fromisoformat(booked["slot_start"])
        self.tally.bookings_by_channel[plan.channel] += 1
        if rng.random() < 0.6:  # the dealer calls back, or the owner taps "confirm"
            who = (Role.OWNER, car.customer_id) if role is Role.OWNER else (Role.ADVISOR, "SA-01")
            self.desk.call("confirm", "POST",
                           f"{self.site.booking}/appointments/{car.appointment_id}/confirm",
                           role=who[0], subject=who[1], json={})

    # -- the visit -------------------------------------------------------------------------

    def _visit(self, car: _Car) -> None:
        plan = car.plan
        if plan.channel is not None and car.appointment_id is None:
            return  # the booking was refused: counted there
        if plan.fate == "CANCEL":
            self.desk.call("cancel", "POST",
                           f"{self.site.booking}/appointments/{car.appointment_id}/cancel",
                           role=Role.OWNER, subject=car.customer_id,
                           json={"reason": "CUSTOMER_REQUEST"})
            self.tally.cancellations += 1
            return
        if plan.fate == "NO_SHOW":
            self.tally.no_shows += 1
            return
        ro_id = self._receive(car)
        _RepairOrder(self, car, ro_id).go_round()

    def _receive(self, car: _Car) -> str:
        rng = car.rng
        if car.appointment_id is not None:
            self.desk.call("check-in", "POST",
                           f"{self.site.booking}/appointments/{car.appointment_id}/check-in",
                           role=Role.ADVISOR, subject="SA-01", json={})
            self.tally.check_ins += 1
        description, code = trade.CONCERNS[car.plan.service_type]
        # Promised back a few hours after the slot (walk-ins: after now).
        start = car.slot_start or datetime.now(UTC)
        body: dict[str, Any] = {
            "vin": car.vehicle.vin, "plate": car.vehicle.plate, "model": car.vehicle.model,
            "mileage_km": car.vehicle.mileage_km, "fuel_level": rng.randint(10, 100),
            "concerns": [{"description": description, "code": code}],
            "belongings": ["行车记录仪 (dash cam)"] if rng.random() < 0.3 else [],
            "promised_at": (start + timedelta(hours=rng.choice([3, 4, 6]))).isoformat(),
            "customer_waiting": rng.random() < 0.3 and not car.pickup}
        if car.appointment_id is not None:
            body["appointment_id"] = car.appointment_id
        else:
            body["customer_phone"] = car.customer.phone
        url = f"{self.site.workorder}/repair-orders"

        def open_order() -> dict[str, Any] | None:
            try:
                return self.desk.call("reception", "POST", url, role=Role.ADVISOR,
                                      subject="SA-01", json=body)
            except StepRefused as refused:
                # The appointment may not have reached the workshop yet: wait for the event.
                named = refused.body.get("fields") if isinstance(refused.body, dict) else None
                if refused.status == 422 and "appointment_id" in (named or {}):
                    return None
                raise

        opened = _wait("the appointment to reach the workshop", open_order)
        self.tally.repair_orders_opened += 1
        if car.appointment_id is None:
            self.tally.walk_ins += 1
        if self.run.report.example_repair_order is None and \
                self.site.dealer_code == self.run.example_dealer:
            self.run.report.example_repair_order = opened["id"]
        return opened["id"]


class _RepairOrder:
    """One repair order from inspection to hand-over, as the site's people walk it."""

    def __init__(self, day: _Day, car: _Car, ro_id: str) -> None:
        self.day, self.car, self.ro_id = day, car, ro_id
        self.desk, self.site, self.tally = day.desk, day.site, day.tally
        self.rng = car.rng
        self.url = f"{day.site.workorder}/repair-orders/{ro_id}"
        self.technician = trade.TECHNICIANS[self.rng.randrange(len(trade.TECHNICIANS))][0]
        self.approved_labour: list[dict[str, Any]] = []
        self.assigned: dict[str, str] = {}   # job (line id) → technician

    def wo(self, step: str, method: str, path: str, role: Role = Role.ADVISOR,
           subject: str = "SA-01", **kwargs: Any) -> Any:
        return self.desk.call(step, method, f"{self.url}{path}", role=role, subject=subject,
                              **kwargs)

    def as_owner(self) -> dict[str, Any]:
        return {"role": Role.OWNER, "subject": self.car.customer_id}

    def go_round(self) -> None:
        self.inspect()
        decided = self.quote(self.first_round_jobs())
        self.work(decided)
        if self.car.plan.additional_work and self.approved_labour:
            self.wo("additional work", "POST", "/additional-work", role=Role.TECHNICIAN,
                    subject=self.technician, json={})
            self.tally.additional_work_rounds += 1
            self.work(self.quote([list(trade.ADDITIONAL_JOB)], additional=True))
        if self.approved_labour:
            self.quality_check()
        self.settle_and_hand_over()

    # -- inspection (环检) with photos ---------------------------------------------------

    def inspect(self) -> None:
        tech = {"role": Role.TECHNICIAN, "subject": self.technician}
        started = self.wo("start inspection", "POST", "/inspection", json={}, **tech)
        photos = 0
        for item in started["items"]:
            status = self.car.plan.findings.get(item["code"], "GREEN")
            result: dict[str, Any] = {"status": status}
            if status != "GREEN":
                result["notes"] = trade.FINDING_NOTES[status]
                shot = self.desk.call(
                    "upload photo", "POST", f"{self.url}/photos", role=Role.TECHNICIAN,
                    subject=self.technician, data=trade.photo_bytes(self.rng),
                    headers={"Content-Type": "image/png"})
                result["photos"] = [shot["sha256"]]
                photos += 1
            self.wo("record inspection item", "PUT", f"/inspection/items/{item['code']}",
                    json=result, **tech)
        submitted = self.wo("submit inspection", "POST", "/inspection/submit", **tech)
        self.tally.inspections += 1
        self.tally.photos_uploaded += photos
        self.tally.inspections_with_photos += photos > 0
        report = self.day.run.report
        if report.owner_link is None and self.site.dealer_code == self.day.run.example_dealer:
            # The owner's page of the report: the site's portal (workorder's JSON without one).
            page = self.site.portal or self.site.workorder
            report.owner_link = f"{page}{submitted['report_link']['url']}"

    # -- quote and the owner's decision ------------------------------------------------------

    def first_round_jobs(self) -> list[list[dict[str, Any]]]:
        plan = self.car.plan
        jobs = [list(job) for job in trade.BASE_JOBS[plan.service_type]]
        if plan.short_part:
            jobs.append(list(trade.SHORT_PART_JOB))
        return jobs + [list(trade.FINDINGS[code]) for code in sorted(plan.findings)]

    def quote(self, jobs: list[list[dict[str, Any]]], additional: bool = False
              ) -> list[dict[str, Any]]:
        """Send the jobs' lines and have the owner decide them; the approved lines."""
        plan = self.car.plan
        lines = [line for job in jobs for line in job]
        self.wo("add quote lines", "POST", "/quote-lines", json={"lines": lines})
        sent = self.wo("send quote", "POST", "/quote/send")
        current = next(r for r in sent["rounds"] if r["round"] == sent["current_round"])
        stored = sorted(current["lines"], key=lambda line: int(line["line_id"].lstrip("L")))
        base = 0 if additional else len(trade.BASE_JOBS[plan.service_type]) + plan.short_part
        decisions: dict[str, str] = {}
        declined_one = False
        position = 0
        for index, job in enumerate(jobs):
            if plan.decline_everything:
                approve = False
            elif index < base:
                approve = True   # what the owner came for
            elif plan.decline_something and not declined_one:
                approve, declined_one = False, True  # the first recommendation is put off
            else:
                approve = self.rng.random() < 0.6
            for _ in job:
                decisions[stored[position]["line_id"]] = "APPROVED" if approve else "DECLINED"
                position += 1
        body: dict[str, Any] = {
            "decisions": [{"line_id": k, "decision": v} for k, v in decisions.items()],
            "signature": {"name": self.car.customer.name}}
        if self.rng.random() < 0.7:
            body["approved_via"] = self.rng.choice(OWNER_APPROVAL_CHANNELS)
            who = self.as_owner()
        else:  # the owner said so on the phone; the advisor records it
            body["approved_via"] = "PHONE"
            who = {"role": Role.ADVISOR, "subject": "SA-01"}
        self.wo("quote approval", "POST", "/quote/approval", json=body, **who)
        approved = [line for line in stored if decisions[line["line_id"]] == "APPROVED"]
        self.tally.quote_lines_approved += len(approved)
        self.tally.quote_lines_declined += len(stored) - len(approved)
        return approved

    # -- parts and labour ----------------------------------------------------------------

    def work(self, approved: list[dict[str, Any]]) -> None:
        for line in approved:
            if line["kind"] == "PART":
                self.requisition(line)
        for line in approved:
            if line["kind"] == "LABOUR":
                self.approved_labour.append(line)
                self.labour(line["line_id"], assign=True)

    def reservation(self, line_id: str) -> dict[str, Any] | None:
        answer = self.desk.call("look up reservation", "GET", f"{self.site.parts}/reservations",
                                role=Role.PARTS_CLERK, subject="PC-1",
                                params={"repair_order_id": self.ro_id})
        return next((r for r in answer["items"] if r["quote_line_id"] == line_id), None)

    def requisition(self, line: dict[str, Any]) -> None:
        line_id, quantity = line["line_id"], line["quantity"]
        reserved = _wait(f"parts to reserve line {line_id}", lambda: self.reservation(line_id))
        body = {"repair_order_id": self.ro_id, "quote_line_id": line_id, "quantity": quantity}
        url = f"{self.site.parts}/requisitions"
        tech = {"role": Role.TECHNICIAN, "subject": self.technician}
        try:
            self.desk.call("requisition", "POST", url, json=body, **tech)
        except StepRefused as refused:
            if refused.status != 409 or not isinstance(refused.body, dict) \
                    or refused.body.get("reason") != "NOT_ENOUGH_RESERVED":
                raise
            # A shortage: the parts desk orders it in urgently, the receipt fills the line.
            self.tally.parts_shortages += 1
            shortfall = refused.body.get("shortfall") or reserved["shortfall"]
            self.desk.call("emergency receipt", "POST", f"{self.site.parts}/receipts",
                           role=Role.PARTS_CLERK, subject="PC-1", json={
                               "reference": f"URGENT-{self.ro_id}"[:64],
                               "lines": [{"part_number": line["part_number"],
                                          "quantity": shortfall,
                                          "batch_number": f"URG-{self.ro_id}"[:64]}]})
            self.tally.emergency_receipts += 1
            _wait(f"the receipt to fill line {line_id}", lambda: Decimal(
                (self.reservation(line_id) or {}).get("reserved", "0")) >= Decimal(quantity))
            self.desk.call("requisition", "POST", url, json=body, **tech)
        self.tally.parts_issued += 1

    def labour(self, line_id: str, *, assign: bool) -> None:
        if assign:  # the least-loaded technician with the skill, as workorder suggests
            job = self.wo("assign job", "POST", f"/jobs/{line_id}/assign", json={})
            self.assigned[line_id] = job["technician_id"]
        tech = {"role": Role.TECHNICIAN, "subject": self.assigned[line_id]}
        self.wo("clock on", "POST", f"/jobs/{line_id}/clock-on", **tech)
        self.wo("clock off", "POST", f"/jobs/{line_id}/clock-off", json={"completed": True},
                **tech)

    # -- quality check (质检) --------------------------------------------------------------

    def quality_check(self) -> None:
        self.self_check()
        if self.car.plan.qc_failure:
            redo = self.rng.choice(self.approved_labour)["line_id"]
            self.wo("inspector check", "POST", "/inspector-check", role=Role.QC_INSPECTOR,
                    subject="QC-01", json={
                        "passed": False, "line_ids": [redo],
                        "reason": "路试仍有异响 (still a noise on the road test)"})
            self.tally.qc_failures += 1
            self.labour(redo, assign=False)
            self.self_check()
        self.wo("inspector check", "POST", "/inspector-check", role=Role.QC_INSPECTOR,
                subject="QC-01", json={"passed": True})

    def self_check(self) -> None:
        # The technician of the first job signs the self-check for the car.
        who = next(iter(self.assigned.values()), self.technician)
        self.wo("self-check", "POST", "/self-check", role=Role.TECHNICIAN, subject=who,
                json={"passed": True})

    # -- settlement and hand-over (结算 / 交车) -------------------------------------------------

    def settle_and_hand_over(self) -> None:
        body: dict[str, Any] = {}
        if self.car.plan.decline_everything:  # nothing done: the check itself is charged
            body["sundries"] = [{"description": "检测费 (inspection fee)", "amount": "100.00"}]
        invoice = self.wo("invoice", "POST", "/invoice", json=body)
        self.tally.revenue_invoiced += Decimal(invoice["grand_total"])
        balance = Decimal(invoice["balance"])
        payments = []
        if balance > 0 and self.rng.random() < 0.25:  # a deposit first, the rest at pick-up
            first = (balance * Decimal("0.3")).quantize(Decimal("0.01"))
            payments = [first, balance - first]
        elif balance > 0:
            payments = [balance]
        for amount in payments:
            self.wo("payment", "POST", "/payments", role=Role.CASHIER, subject="CASH-01",
                    json={"method": self.rng.choice(PAYMENT_METHODS), "amount": str(amount)})
            self.tally.revenue_paid += amount
        self.wo("owner signs invoice", "POST", "/invoice/signature",
                json={"name": self.car.customer.name}, **self.as_owner())
        mileage = self.car.vehicle.mileage_km + self.rng.randint(0, 12)
        self.wo("hand-over", "POST", "/hand-over", json={
            "mileage_km": mileage,
            "delivery_mode": "HOME_DELIVERY" if self.car.pickup else "COUNTER"})
        self.tally.deliveries += 1
        self.day.run.delivered.append(Delivered(self.site.dealer_code, self.ro_id,
                                                self.car.customer_id, self.car.plan.survey_score))


# -- follow-up at headquarters (回访) -------------------------------------------------------


def _follow_up(run: _Run, hq: HeadquartersEndpoints, wait_seconds: float) -> None:
    """Wait for crm to know every delivery, run the surveys as of their due time (so the
    delay after delivery is simulated, not waited for), and answer them through their links."""
    desk = Desk(None, run.people, run.session)
    operator = {"role": Role.OPERATOR, "subject": "ops-sim"}
    surveys: dict[str, dict[str, Any]] = {}
    pending = list(run.delivered)
    deadline = time.monotonic() + wait_seconds
    while pending:
        still = []
        for delivered in pending:
            try:
                survey = _survey_in_crm(desk, hq, delivered, operator)
            except StepRefused as refused:  # counted; this owner gets no survey
                run.report.dealers[delivered.dealer_code].refusals[refused.reason] += 1
                continue
            if survey is None:
                still.append(delivered)
            else:
                surveys[delivered.repair_order_id] = survey
        pending = still
        if pending and time.monotonic() > deadline:
            message = (f"crm knows {len(surveys)} of {len(run.delivered)} delivered repair "
                       f"orders after {wait_seconds:.0f} s: is the sites' link to headquarters "
                       "up? Surveys go out for those it knows.")
            run.report.notes.append(message)
            log.warning(message)
            break
        if pending:
            time.sleep(0.5)
    run.step("crm follow-up")
    if not surveys:
        return
    due = max(datetime.fromisoformat(s["due_at"]) for s in surveys.values())
    if due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    try:
        desk.call("survey run", "POST", f"{hq.crm}/survey-runs", json={
            "at": (due + timedelta(minutes=1)).isoformat()}, **operator)
    except StepRefused as refused:
        run.report.notes.append(f"crm refused the survey run: {refused}")
        return
    for delivered in run.delivered:
        survey = surveys.get(delivered.repair_order_id)
        tally = run.report.dealers[delivered.dealer_code]
        if survey is not None:
            tally.surveys_sent += 1
            if delivered.score is not None:
                _answer_survey(desk, hq, survey["id"], delivered.score, tally)
        run.step("follow-up surveys")


def _survey_in_crm(desk: Desk, hq: HeadquartersEndpoints, delivered: Delivered,
                   operator: dict[str, Any]) -> dict[str, Any] | None:
    try:
        customer = desk.call("crm customer", "GET",
                             f"{hq.crm}/customers/{delivered.customer_id}", **operator)
    except StepRefused as refused:
        if refused.status == 404:
            return None
        raise
    return next((s for s in customer.get("surveys", [])
                 if s.get("repair_order_id") == delivered.repair_order_id
                 and s.get("dealer_code") == delivered.dealer_code), None)


def _answer_survey(desk: Desk, hq: HeadquartersEndpoints, survey_id: str,
                   score: int, tally: DealerTally) -> None:
    # The link the owner received carries this token, signed by headquarters' crm.
    token = desk.people.survey_link_token(survey_id)
    body: dict[str, Any] = {"score": score, "channel": "WECHAT"}
    if score <= 6:
        body["comment"] = "等待时间太长，交车也没说明做了什么 (long wait, nothing explained)"
    try:
        answer = desk.call("answer survey", "POST", f"{hq.crm}/surveys/{token}", role=None,
                           json=body)
    except StepRefused as refused:
        tally.refusals[refused.reason] += 1
        return
    tally.surveys_answered += 1
    tally.low_scores += score <= 6
    tally.complaints_opened += answer.get("complaint_id") is not None
