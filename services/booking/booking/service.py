"""Booking's entrypoints: validate → apply the rules → store and emit in one transaction."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

import sqlalchemy as sa
from werkzeug.wrappers import Request, Response

from booking import domain, models
from booking.schemas import AppointmentSchema, BookingRequestSchema
from chassis.auth import Role
from chassis.db import Database
from chassis.errors import NotFound
from chassis.http import http, json_response, load_json
from chassis.outbox import Outbox
from chassis.service import PlatformService
from contracts import events


class BookingService(PlatformService):
    name = "booking"

    db = Database(models.metadata)
    outbox = Outbox()

    @http("POST", "/appointments", roles={Role.OWNER, Role.ADVISOR, Role.INVITATION_AGENT},
          request=BookingRequestSchema, response=AppointmentSchema, status=201,
          summary="Book a service appointment")
    def book(self, request: Request) -> Response:
        payload = load_json(request, BookingRequestSchema())
        appointment = domain.book(payload, dealer_code=self.settings.dealer_code,
                                  now=datetime.now(UTC))
        row = {k: v for k, v in asdict(appointment).items() if k != "extra"}
        self.db.execute(models.appointments.insert().values(**row))
        self.outbox.emit(events.AppointmentBooked, domain.booked_event(appointment),
                         subject=appointment.id, correlation_id=appointment.id)
        self.db.commit()
        return json_response(AppointmentSchema().dump(row), status=201,
                             headers={"Location": f"/appointments/{appointment.id}"})

    @http("GET", "/appointments/<string:appointment_id>",
          roles={Role.OWNER, Role.ADVISOR, Role.DEALER_MANAGER}, response=AppointmentSchema,
          summary="One appointment")
    def get_appointment(self, request: Request, appointment_id: str) -> Response:
        row = self.db.execute(sa.select(models.appointments)
                              .where(models.appointments.c.id == appointment_id)).mappings().first()
        if row is None:
            raise NotFound(f"appointment {appointment_id} not found")
        return json_response(AppointmentSchema().dump(row))
