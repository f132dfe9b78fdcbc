"""Booking's entrypoints: parse and authorise → one use case (`booking.use_cases`) → render.

The dealer calendar (GET/PUT /calendar), free capacity (GET /availability), the appointment
book (POST/GET /appointments) and each appointment's next steps: confirm, reschedule,
cancel, check-in, no-show (one, or a sweep of every appointment past its grace period).
The framework commits each call's unit of work before the answer leaves.
"""

from __future__ import annotations

from datetime import UTC, datetime

from werkzeug.wrappers import Request, Response

from booking import models, use_cases
from booking.domain import Actor
from booking.schemas import (
    APPOINTMENT_LIST_QUERY,
    AVAILABILITY_QUERY,
    BOOKING_REQUEST,
    CALENDAR,
    CANCEL_REQUEST,
    CHECK_IN_REQUEST,
    CONFIRM_REQUEST,
    NO_SHOW_REQUEST,
    NO_SHOW_SWEEP,
    NO_SHOW_SWEEP_REQUEST,
    RESCHEDULE_REQUEST,
    AppointmentListQuerySchema,
    AppointmentListSchema,
    AppointmentSchema,
    AvailabilityQuerySchema,
    AvailabilitySchema,
    BookingRequestSchema,
    CalendarSchema,
    CalendarViewSchema,
    CancelRequestSchema,
    CheckInRequestSchema,
    ConfirmRequestSchema,
    NoShowRequestSchema,
    NoShowSweepRequestSchema,
    NoShowSweepSchema,
    RescheduleRequestSchema,
    appointment_view,
    availability_view,
    calendar_view,
)
from booking.store import BookingUnitOfWork, booking_resources
from chassis.db import Database
from chassis.http import http, identity_of, json_response, load_json, load_query
from chassis.identity import Role
from chassis.outbox import Outbox
from chassis.service import SITE, PlatformService
from chassis.unit_of_work import UnitOfWorkProvider

# Who books: customers for themselves, the dealer's staff and the invitation call centre
# for customers.
BOOKERS = {Role.OWNER, Role.ADVISOR, Role.INVITATION_AGENT, Role.DEALER_MANAGER}
RECEPTION = {Role.ADVISOR, Role.DEALER_MANAGER}


def _now() -> datetime:
    return datetime.now(UTC)


def _actor(request: Request) -> Actor:
    return Actor.of(identity_of(request))


class BookingService(PlatformService):
    name = "booking"
    stack = SITE

    db = Database(models.metadata)
    outbox = Outbox()
    uow = UnitOfWorkProvider(BookingUnitOfWork, resources=booking_resources)

    # -- the calendar ----------------------------------------------------------------------

    @http("GET", "/calendar", roles=BOOKERS, response=CalendarViewSchema,
          summary="The dealer calendar: opening hours, closed dates, slots, service types")
    def get_calendar(self, request: Request) -> Response:
        return json_response(calendar_view(use_cases.calendar(self.uow)))

    @http("PUT", "/calendar", roles={Role.DEALER_MANAGER}, request=CalendarSchema,
          response=CalendarViewSchema, summary="Set the dealer calendar")
    def put_calendar(self, request: Request) -> Response:
        document = load_json(request, CALENDAR)
        stored, review = use_cases.put_calendar(self.uow, document,
                                                by=identity_of(request).subject, now=_now())
        return json_response(calendar_view(stored, review))

    @http("GET", "/availability", roles=BOOKERS, response=AvailabilitySchema,
          summary="Free capacity per slot for a service type over a date range",
          statuses=(422,), query=AvailabilityQuerySchema)
    def get_availability(self, request: Request) -> Response:
        query = load_query(request, AVAILABILITY_QUERY)
        days, calendar = use_cases.availability(self.uow, first=query["from_"],
                                                last=query["to"],
                                                service_type=query["service_type"], now=_now())
        return json_response(availability_view(days, calendar, query["service_type"]))

    # -- the appointment book ------------------------------------------------------------

    @http("POST", "/appointments", roles=BOOKERS, request=BookingRequestSchema,
          response=AppointmentSchema, status=201, summary="Book a service appointment",
          statuses=(409,))
    def book(self, request: Request) -> Response:
        payload = load_json(request, BOOKING_REQUEST)
        appointment, calendar = use_cases.book(self.uow, payload, actor=_actor(request),
                                               dealer_code=self.settings.dealer_code,
                                               now=_now())
        return json_response(appointment_view(appointment, calendar), status=201,
                             headers={"Location": f"/appointments/{appointment.id}"})

    @http("GET", "/appointments", roles=BOOKERS, response=AppointmentListSchema,
          summary="Appointments by date and status (an owner sees their own)",
          statuses=(422,), query=AppointmentListQuerySchema)
    def list_appointments(self, request: Request) -> Response:
        query = load_query(request, APPOINTMENT_LIST_QUERY)
        found, calendar = use_cases.appointments(
            self.uow, actor=_actor(request), first=query.get("from_"), last=query.get("to"),
            status=query.get("status"), limit=query["limit"])
        items = [appointment_view(a, calendar) for a in found]  # each already dumped
        return json_response({"items": items, "count": len(items)})

    @http("GET", "/appointments/<string:appointment_id>", roles=BOOKERS,
          response=AppointmentSchema, summary="One appointment")
    def get_appointment(self, request: Request, appointment_id: str) -> Response:
        appointment, calendar = use_cases.appointment(self.uow, appointment_id,
                                                      actor=_actor(request))
        return json_response(appointment_view(appointment, calendar))

    # -- what happens next ---------------------------------------------------------------

    @http("POST", "/appointments/<string:appointment_id>/confirm", roles=BOOKERS,
          request=ConfirmRequestSchema, response=AppointmentSchema,
          summary="Confirm an appointment (the customer, or the dealer after calling them)",
          body_optional=True, statuses=(409,))
    def confirm(self, request: Request, appointment_id: str) -> Response:
        load_json(request, CONFIRM_REQUEST, optional=True)
        appointment, calendar = use_cases.confirm(self.uow, appointment_id, actor=_actor(request),
                                    now=_now())
        return json_response(appointment_view(appointment, calendar))

    @http("POST", "/appointments/<string:appointment_id>/reschedule", roles=BOOKERS,
          request=RescheduleRequestSchema, response=AppointmentSchema,
          summary="Move an appointment to another slot (frees the old one)",
          statuses=(409,))
    def reschedule(self, request: Request, appointment_id: str) -> Response:
        payload = load_json(request, RESCHEDULE_REQUEST)
        appointment, calendar = use_cases.reschedule(self.uow, appointment_id, payload,
                                       actor=_actor(request), now=_now())
        return json_response(appointment_view(appointment, calendar))

    @http("POST", "/appointments/<string:appointment_id>/cancel", roles=BOOKERS,
          request=CancelRequestSchema, response=AppointmentSchema,
          summary="Cancel an appointment with a reason (frees its slots)",
          statuses=(409,))
    def cancel(self, request: Request, appointment_id: str) -> Response:
        payload = load_json(request, CANCEL_REQUEST)
        appointment, calendar = use_cases.cancel(self.uow, appointment_id, actor=_actor(request),
                                   reason=payload["reason"], note=payload.get("note"),
                                   now=_now())
        return json_response(appointment_view(appointment, calendar))

    @http("POST", "/appointments/<string:appointment_id>/check-in", roles=RECEPTION,
          request=CheckInRequestSchema, response=AppointmentSchema,
          summary="The customer arrived (到店): reception takes over",
          body_optional=True, statuses=(409,))
    def check_in(self, request: Request, appointment_id: str) -> Response:
        payload = load_json(request, CHECK_IN_REQUEST, optional=True)
        appointment, calendar = use_cases.check_in(self.uow, appointment_id, actor=_actor(request),
                                     advisor_id=payload.get("advisor_id"), now=_now())
        return json_response(appointment_view(appointment, calendar))

    @http("POST", "/appointments/<string:appointment_id>/no-show", roles=RECEPTION,
          request=NoShowRequestSchema, response=AppointmentSchema,
          summary="Record that the customer did not come (after the grace period)",
          body_optional=True, statuses=(409,))
    def no_show(self, request: Request, appointment_id: str) -> Response:
        load_json(request, NO_SHOW_REQUEST, optional=True)
        appointment, calendar = use_cases.no_show(self.uow, appointment_id, actor=_actor(request),
                                    now=_now())
        return json_response(appointment_view(appointment, calendar))

    @http("POST", "/no-show-sweeps", roles=RECEPTION, request=NoShowSweepRequestSchema,
          response=NoShowSweepSchema,
          summary="Mark every open appointment whose slot started more than the grace "
                  "period ago as NO_SHOW",
          body_optional=True)
    def sweep_no_shows(self, request: Request) -> Response:
        load_json(request, NO_SHOW_SWEEP_REQUEST, optional=True)
        marked = use_cases.sweep_no_shows(self.uow, now=_now())
        return json_response(NO_SHOW_SWEEP.dump({"marked": marked, "count": len(marked)}))
