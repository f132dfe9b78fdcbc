"""What a simulated dealer site stocks and sells: its calendar, technicians, parts catalogue,
labour operations, and what an inspection finding turns into on the quote.

Plain data and small pure helpers (no I/O), shared by `simulator.traffic`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from contracts.vin import ALLOWED, CHECK_POSITION, check_digit

NAMES = ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊", "赵丽", "黄强", "周杰", "吴芳",
         "徐明", "孙悦", "马超", "朱琳", "胡军", "郭蕾"]
PLATE_PREFIX = ["京A", "沪B", "粤B", "浙A", "苏E", "川A"]
MODELS = ["帕萨特", "迈腾", "途观L", "朗逸", "速腾", "探岳"]
# World manufacturer identifiers and descriptors of cars built in China.
VIN_PREFIXES = ["LSVAU2", "LSVNV2", "LFV2A2", "LSVCH6", "LFV3B2"]

CALENDAR: dict[str, Any] = {
    "time_zone": "Asia/Shanghai",
    "slot_minutes": 30,
    "bays": 12,
    "advisors": 6,
    # Most 4S shops in China trade seven days a week.
    "opening_hours": [{"weekday": day, "opens": "08:30", "closes": "18:00"}
                      for day in ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")],
    "closed_dates": [],
    # In the order booking keeps them (by code), so seeding can tell nothing changed.
    "service_types": [{"code": "DIAGNOSIS", "duration_minutes": 60},
                      {"code": "INSPECTION", "duration_minutes": 30},
                      {"code": "MAINTENANCE", "duration_minutes": 60},
                      {"code": "RECALL", "duration_minutes": 60},
                      {"code": "REPAIR", "duration_minutes": 120},
                      {"code": "TYRES", "duration_minutes": 60}],
    "no_show_grace_minutes": 30,
    "booking_horizon_days": 90,
}
# Booked service types, weighted as a small 4S shop's day runs: mostly maintenance.
SERVICE_MIX = ["MAINTENANCE"] * 6 + ["REPAIR"] * 2 + ["DIAGNOSIS", "RECALL", "TYRES"]
# Channels, weighted: the app and WeChat take most bookings, the call centre the rest.
CHANNEL_MIX = ["APP"] * 4 + ["WECHAT"] * 4 + ["PHONE"] * 3 + ["WEB"]

TECHNICIANS = [
    ("T-01", "王师傅", ["BRAKES", "CHASSIS"]),
    ("T-02", "李师傅", ["ENGINE", "ELECTRICAL"]),
    ("T-03", "张师傅", ["BRAKES", "AC"]),
    ("T-04", "刘师傅", ["ELECTRICAL", "AC"]),
    ("T-05", "陈师傅", ["CHASSIS", "TYRES"]),
    ("T-06", "赵师傅", ["ENGINE", "BRAKES"]),
    ("T-07", "周师傅", ["TYRES"]),
    ("T-08", "吴师傅", []),
]

SHORT_PART = "5QD615301A"  # front brake discs: stocked at one, quoted in pairs


@dataclass(frozen=True)
class Part:
    part_number: str
    name: str
    unit: str
    unit_price: str
    stock: str       # what seeding tops the shelf up to
    reorder_point: str = "2"
    reorder_quantity: str = "10"


PARTS = [
    Part("G-052-195-M4", "机油 0W-20", "L", "98.00", "400"),
    Part("06L115562B", "机油滤清器", "EA", "68.00", "80"),
    Part("5QD698151B", "前刹车片", "SET", "680.00", "30"),
    Part(SHORT_PART, "前刹车盘", "EA", "520.00", "1", "2", "4"),
    Part("5Q0129620D", "空气滤清器", "EA", "150.00", "40"),
    Part("5G1955427", "雨刮片", "SET", "180.00", "40"),
    Part("000915105CD", "蓄电池 70Ah", "EA", "850.00", "12"),
    Part("G-013-A8J-M1", "冷却液", "L", "45.00", "120"),
    Part("B-000-750-M3", "刹车油 DOT4", "L", "88.00", "60"),
    Part("5Q0407366B", "前下摆臂 (召回件)", "EA", "360.00", "30"),
]


def labour(code: str, description: str, hours: str, skill: str | None = None,
           pay_type: str = "CUSTOMER_PAY") -> dict[str, Any]:
    line = {"kind": "LABOUR", "description": description, "operation_code": code,
            "flat_rate_hours": hours, "pay_type": pay_type}
    if skill:
        line["skill"] = skill
    return line


def part(part_number: str, quantity: str, pay_type: str = "CUSTOMER_PAY") -> dict[str, Any]:
    return {"kind": "PART", "part_number": part_number, "quantity": quantity,
            "pay_type": pay_type}


# What the owner came for, by booked service type: one job (labour and its parts) each.
BASE_JOBS: dict[str, list[list[dict[str, Any]]]] = {
    "MAINTENANCE": [[labour("MNT-OIL-01", "更换机油及机油滤清器 (oil and filter change)", "0.5"),
                     part("G-052-195-M4", "4.5"), part("06L115562B", "1")]],
    "REPAIR": [[labour("DIAG-01", "故障诊断 (diagnosis)", "1", "ELECTRICAL")]],
    "DIAGNOSIS": [[labour("DIAG-01", "故障诊断 (diagnosis)", "1", "ELECTRICAL")]],
    "RECALL": [[labour("RCL-ARM-01", "召回：更换前下摆臂 (recall: front lower arm)", "0.8",
                       "CHASSIS", "WARRANTY"),
                part("5Q0407366B", "1", "WARRANTY")]],
    "TYRES": [[labour("TYRE-ROT", "轮胎换位 (tyre rotation)", "0.5", "TYRES")]],
}
SHORT_PART_JOB = [labour("BRK-DISC-F", "更换前刹车盘 (replace front brake discs)", "1.5",
                         "BRAKES"), part(SHORT_PART, "2")]
# What a yellow or red checklist item makes the advisor recommend.
FINDINGS: dict[str, list[dict[str, Any]]] = {
    "BRAKE_PAD_FRONT": [labour("BRK-PAD-F", "更换前刹车片 (replace front brake pads)", "1.2",
                               "BRAKES"), part("5QD698151B", "1")],
    "TYRE_TREAD": [labour("ALIGN-4W", "四轮定位 (four-wheel alignment)", "1", "CHASSIS")],
    "WIPERS": [labour("WIPER-01", "更换雨刮片 (replace wiper blades)", "0.2"),
               part("5G1955427", "1")],
    "BATTERY": [labour("BATT-01", "更换蓄电池 (replace battery)", "0.3", "ELECTRICAL"),
                part("000915105CD", "1")],
    "AIR_FILTER": [labour("AIRF-01", "更换空气滤清器 (replace air filter)", "0.2"),
                   part("5Q0129620D", "1")],
    "COOLANT": [labour("COOL-01", "更换冷却液 (coolant change)", "0.5", "ENGINE"),
                part("G-013-A8J-M1", "6")],
}
# Found under the car once work has started (增修).
ADDITIONAL_JOB = [labour("BRK-FLUID", "更换刹车油 (brake fluid change)", "0.8", "BRAKES"),
                  part("B-000-750-M3", "1")]
FINDING_NOTES = {"YELLOW": "建议近期处理 (attend to soon)", "RED": "需立即处理 (urgent)"}
CONCERNS = {
    "MAINTENANCE": ("按时保养 (scheduled maintenance)", "MAINTENANCE"),
    "REPAIR": ("仪表故障灯亮 (warning light on)", "WARNING_LIGHT"),
    "DIAGNOSIS": ("起步时有异响 (noise when pulling away)", "NOISE"),
    "RECALL": ("召回通知 (recall notice)", "RECALL"),
    "TYRES": ("轮胎磨损不均 (uneven tyre wear)", "TYRE_WEAR"),
}


@dataclass
class Vehicle:
    vin: str
    plate: str
    model: str
    mileage_km: int


@dataclass
class Customer:
    name: str
    phone: str


def make_vin(rng: random.Random) -> str:
    """A VIN with a correct check digit (position 9), as on a real car."""
    chars = sorted(ALLOWED - set("IOQ"))
    body = rng.choice(VIN_PREFIXES) + "".join(rng.choice(chars) for _ in range(11))
    draft = body[:CHECK_POSITION - 1] + "0" + body[CHECK_POSITION:]
    digit = check_digit(draft)
    return draft[:CHECK_POSITION - 1] + digit + draft[CHECK_POSITION:]


def make_customer(rng: random.Random) -> Customer:
    return Customer(rng.choice(NAMES), f"1{rng.randint(3, 9)}{rng.randint(0, 999999999):09d}")


def make_vehicle(rng: random.Random) -> Vehicle:
    return Vehicle(make_vin(rng), f"{rng.choice(PLATE_PREFIX)}{rng.randint(10000, 99999)}",
                   rng.choice(MODELS), rng.randint(3000, 150000))


def photo_bytes(rng: random.Random) -> bytes:
    """A small PNG-signed picture, different for every shot (photos are kept by hash)."""
    return b"\x89PNG\r\n\x1a\n" + bytes(rng.getrandbits(8) for _ in range(512))


@dataclass
class CarPlan:
    """What will happen to one car on the day; the details come from its own `seed`."""

    seed: int
    service_type: str
    channel: str | None          # None: a walk-in (no appointment)
    fate: str = "ARRIVE"         # ARRIVE, CANCEL or NO_SHOW
    decline_something: bool = False
    decline_everything: bool = False
    short_part: bool = False
    additional_work: bool = False
    qc_failure: bool = False
    survey_score: int | None = None   # None: the owner does not answer the survey
    findings: dict[str, str] = field(default_factory=dict)


def plan_day(rng: random.Random, bookings: int) -> list[CarPlan]:
    """The shape of one dealer's day: bookings with their fates, then walk-ins.

    Shapes are drawn from `rng`; each rare event the report counts (a cancellation, a
    no-show, a declined line, a parts shortage, additional work, a QC failure, a low survey
    score) happens at least once whenever the day is big enough to hold it.
    """
    cars = [CarPlan(rng.randrange(2**31), rng.choice(SERVICE_MIX), rng.choice(CHANNEL_MIX))
            for _ in range(bookings)]
    cars += [CarPlan(rng.randrange(2**31), rng.choice(["MAINTENANCE", "REPAIR"]), None)
             for _ in range(max(1, round(bookings * 0.12)))]
    for car in cars:
        if car.channel is not None:
            draw = rng.random()
            car.fate = "CANCEL" if draw < 0.05 else "NO_SHOW" if draw < 0.15 else "ARRIVE"
        car.findings = {code: rng.choice(["YELLOW", "RED"]) for code in FINDINGS
                        if rng.random() < 0.12}
        car.decline_something = rng.random() < 0.45
        car.decline_everything = rng.random() < 0.03
        car.short_part = car.service_type == "REPAIR" and rng.random() < 0.5
        car.additional_work = rng.random() < 0.18
        car.qc_failure = rng.random() < 0.12
        if rng.random() < 0.85:
            car.survey_score = rng.randint(0, 6) if rng.random() < 0.15 else rng.randint(7, 10)
    booked = [c for c in cars if c.channel is not None]
    if len(booked) >= 8:
        _at_least_one(rng, booked, lambda c: c.fate == "CANCEL",
                      lambda c: setattr(c, "fate", "CANCEL"))
        _at_least_one(rng, booked, lambda c: c.fate == "NO_SHOW",
                      lambda c: setattr(c, "fate", "NO_SHOW"))
    coming = [c for c in cars if c.fate == "ARRIVE" and not c.decline_everything]
    if coming:
        _at_least_one(rng, coming, lambda c: c.short_part, _needs_short_part)
        _at_least_one(rng, coming, lambda c: c.additional_work,
                      lambda c: setattr(c, "additional_work", True))
        _at_least_one(rng, coming, lambda c: c.qc_failure,
                      lambda c: setattr(c, "qc_failure", True))
        _at_least_one(rng, coming, lambda c: c.decline_something and bool(c.findings),
                      _needs_declined_line)
        _at_least_one(rng, coming, lambda c: c.survey_score is not None
                      and c.survey_score <= 6, lambda c: setattr(c, "survey_score", 3))
    return cars


def _needs_short_part(car: CarPlan) -> None:
    car.short_part = True


def _needs_declined_line(car: CarPlan) -> None:
    car.decline_something = True
    car.findings.setdefault("BRAKE_PAD_FRONT", "YELLOW")


def _at_least_one(rng: random.Random, cars: list[CarPlan], has: Any, make: Any) -> None:
    if not any(has(car) for car in cars):
        make(rng.choice(cars))
