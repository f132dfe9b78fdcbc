"""Workorder's entrypoints."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from marshmallow import Schema, fields
from werkzeug.wrappers import Request, Response

from chassis.auth import Role
from chassis.consumer import handle_event
from chassis.db import Database
from chassis.http import http, json_response
from chassis.outbox import Outbox
from chassis.service import PlatformService
from contracts import events
from workorder import domain, models


class ExpectedArrivalSchema(Schema):
    appointment_id = fields.String()
    plate = fields.String(allow_none=True)
    vin = fields.String(allow_none=True)
    service_type = fields.String()
    expected_at = fields.DateTime()
    loaner_requested = fields.Boolean()
    pickup_requested = fields.Boolean()


class WorkorderService(PlatformService):
    name = "workorder"

    db = Database(models.metadata)
    outbox = Outbox()

    @handle_event("booking", events.AppointmentBooked)
    def on_appointment_booked(self, event: dict) -> None:
        row = domain.expected_arrival(event, recorded_at=datetime.now(UTC))
        self.db.execute(models.expected_arrivals.insert().values(**row))

    @http("GET", "/expected-arrivals", roles={Role.ADVISOR, Role.DEALER_MANAGER},
          summary="Cars expected at this site")
    def expected_arrivals(self, request: Request) -> Response:
        table = models.expected_arrivals
        rows = self.db.execute(sa.select(table).order_by(table.c.expected_at)).mappings().all()
        return json_response({"items": ExpectedArrivalSchema(many=True).dump(rows)})
