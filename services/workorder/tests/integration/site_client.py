"""A client that walks a repair order through its stages the way the people at a site do, and
the stand-in parts service workorder's integration tests run beside it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from nameko.rpc import rpc

from chassis.errors import NotFound
from chassis.testing import auth
from contracts.customer import customer_id_for

VIN = "LSVAU2187N2183740"
OTHER_VIN = "1M8GDM9AXKP042788"
PHONE = "13812345678"
CUSTOMER = customer_id_for(PHONE)
ADVISOR_ID = "SA-017"
# The owner portal of a site that has one: QuoteIssued carries the owner's signed link under it.
OWNER_PORTAL = "https://owners.d001.example.cn"

# What the stand-in parts desk knows: price (VAT included), name, unit, stock available.
CATALOGUE = {
    "G-052-195-M4": {"unit_price": "98.00", "name": "机油 0W-20", "unit": "L", "available": "40"},
    "06L115562B": {"unit_price": "68.00", "name": "机油滤清器", "unit": "EA", "available": "12"},
    "5QD698151B": {"unit_price": "680.00", "name": "前刹车片", "unit": "SET",
                   "available": "3"},
}


class PartsStandIn:
    """A real nameko service named "parts" on the test's vhost, answering `price_of` the way
    the parts service does (the real one is built beside this one)."""

    name = "parts"

    @rpc(expected_exceptions=NotFound)
    def price_of(self, part_number: str) -> dict[str, Any]:
        if part_number not in CATALOGUE:
            raise NotFound(f"part {part_number} is not in the catalogue")
        return dict(CATALOGUE[part_number])


LABOUR_OIL = {"kind": "LABOUR", "description": "更换机油及机油滤清器 (oil and filter change)",
              "operation_code": "MNT-OIL-01", "flat_rate_hours": "0.5",
              "pay_type": "CUSTOMER_PAY"}
PART_OIL = {"kind": "PART", "part_number": "G-052-195-M4", "quantity": "4.5",
            "pay_type": "CUSTOMER_PAY"}
LABOUR_BRAKES = {"kind": "LABOUR", "description": "更换前刹车片 (replace front brake pads)",
                 "operation_code": "BRK-PAD-F", "flat_rate_hours": "1.2", "skill": "BRAKES",
                 "pay_type": "CUSTOMER_PAY"}
LABOUR_ALIGN = {"kind": "LABOUR", "description": "四轮定位 (four-wheel alignment)",
                "operation_code": "ALIGN-4W", "flat_rate_hours": "1", "pay_type": "CUSTOMER_PAY"}


class Site:
    """HTTP client of one workorder instance, with the site's people as roles."""

    def __init__(self, settings: Any) -> None:
        self.url = f"http://127.0.0.1:{settings.http_port}"
        self.database_url = settings.database_url
        self.media_dir = Path(settings.media_dir)

    # -- raw calls ---------------------------------------------------------------------

    def call(self, method: str, path: str, *, role: str | None = "advisor",
             subject: str = ADVISOR_ID, headers: dict[str, str] | None = None,
             **kwargs: Any) -> requests.Response:
        sent = dict(auth(role, subject=subject)) if role else {}
        sent.update(headers or {})
        return requests.request(method, f"{self.url}{path}", headers=sent, timeout=15, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.text}"
        return response.json()

    def as_owner(self, customer_id: str = CUSTOMER) -> dict[str, Any]:
        return {"role": "owner", "subject": customer_id}

    # -- what the database and the outbox hold -------------------------------------------

    def query(self, sql: str, **params: Any) -> list[Any]:
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.text(sql), params).mappings().all())
        finally:
            engine.dispose()

    def events(self, name: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT payload FROM outbox WHERE event_type = :t ORDER BY id",
                          t=f"aftersales.{name}.v1")
        return [json.loads(row["payload"]) for row in rows]

    def count(self, table: str) -> int:
        return self.query(f"SELECT count(*) AS n FROM {table}")[0]["n"]

    # -- the repair order, stage by stage -------------------------------------------------

    def reception(self, **changes: Any) -> dict[str, Any]:
        body = {"customer_phone": PHONE, "vin": VIN, "plate": "京A12345", "model": "帕萨特",
                "mileage_km": 29876, "fuel_level": 60,
                "concerns": [{"description": "刹车时前轮有异响", "code": "BRAKE_NOISE"}],
                "belongings": ["行车记录仪 (dash cam)"],
                "promised_at": (datetime.now(UTC) + timedelta(hours=4)).isoformat()}
        body.update(changes)
        return body

    def open_ro(self, **changes: Any) -> dict[str, Any]:
        return self.ok("POST", "/repair-orders", 201, json=self.reception(**changes))

    def inspect(self, ro_id: str, red: str = "BRAKE_PAD_FRONT",
                photos: list[str] | None = None) -> dict[str, Any]:
        started = self.ok("POST", f"/repair-orders/{ro_id}/inspection", 201, role="technician",
                          subject="T-wang")
        for item in started["items"]:
            result = {"status": "RED", "notes": "剩余 2 mm", "photos": photos or []} \
                if item["code"] == red else {"status": "GREEN"}
            self.ok("PUT", f"/repair-orders/{ro_id}/inspection/items/{item['code']}",
                    role="technician", subject="T-wang", json=result)
        return self.ok("POST", f"/repair-orders/{ro_id}/inspection/submit", role="technician",
                       subject="T-wang")

    def quote(self, ro_id: str, *lines: dict[str, Any], send: bool = True) -> dict[str, Any]:
        self.ok("POST", f"/repair-orders/{ro_id}/quote-lines", 201, json={"lines": list(lines)})
        if send:
            return self.ok("POST", f"/repair-orders/{ro_id}/quote/send")
        return self.ok("GET", f"/repair-orders/{ro_id}/quote")

    def decide(self, ro_id: str, decisions: dict[str, str], *,
               who: dict[str, Any] | None = None, **extra: Any) -> requests.Response:
        body = {"decisions": [{"line_id": k, "decision": v} for k, v in decisions.items()],
                "signature": {"name": "王伟"}, **extra}
        return self.call("POST", f"/repair-orders/{ro_id}/quote/approval", json=body,
                         **(who or self.as_owner()))

    def add_technician(self, technician_id: str, skills: list[str], name: str = "技师") -> None:
        self.ok("POST", "/technicians", 201, role="dealer_manager", subject="MGR-1",
                json={"id": technician_id, "name": name, "skills": skills})

    def ro_in_work(self) -> str:
        """A repair order whose owner approved oil labour (L1), oil (L2) and brakes (L3) and
        declined the alignment (L4)."""
        ro_id = self.open_ro()["id"]
        self.inspect(ro_id)
        self.quote(ro_id, LABOUR_OIL, PART_OIL, LABOUR_BRAKES, LABOUR_ALIGN)
        response = self.decide(ro_id, {"L1": "APPROVED", "L2": "APPROVED", "L3": "APPROVED",
                                       "L4": "DECLINED"})
        assert response.status_code == 200, response.text
        return ro_id

    def clock(self, ro_id: str, line_id: str, technician: str, *, completed: bool = True
              ) -> None:
        self.ok("POST", f"/repair-orders/{ro_id}/jobs/{line_id}/clock-on", role="technician",
                subject=technician)
        self.ok("POST", f"/repair-orders/{ro_id}/jobs/{line_id}/clock-off", role="technician",
                subject=technician, json={"completed": completed})

    def ro_at_invoice(self) -> str:
        self.add_technician("T-wang", ["BRAKES"])
        ro_id = self.ro_in_work()
        self.clock(ro_id, "L1", "T-wang")
        self.clock(ro_id, "L3", "T-wang")
        self.ok("POST", f"/repair-orders/{ro_id}/self-check", 201, role="technician",
                subject="T-wang", json={"passed": True})
        self.ok("POST", f"/repair-orders/{ro_id}/inspector-check", 201, role="qc_inspector",
                subject="QC-005", json={"passed": True})
        return ro_id
