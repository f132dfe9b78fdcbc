"""Booking's entrypoints: validate → apply the rules → store and emit in one transaction.

The dealer calendar (GET/PUT /calendar), free capacity (GET /availability), the appointment
book (POST/GET /appointments) and each appointment's next steps: confirm, reschedule,
cancel, check-in, no-show (one, or a sweep of every appointment past its grace period).
"""

from __future__ import annotations

from datetime import UTC, datetime

from werkzeug.wrappers import Request, Response

from booking import domain, models
from booking.dealer_calendar import Bookings, Calendar, availability
from booking.domain import Actor, Appointment
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
from booking.store import AppointmentBook
from chassis.auth import Role
from chassis.db import Database
from chassis.errors import InvalidInput, NotFound
from chassis.http import http, identity_of, json_response, load_json, load_query
from chassis.outbox import Outbox
from chassis.service import PlatformService
from contracts import EventContract, events

# Who books: customers for themselves, the dealer's staff and the invitation call centre
# for customers.
BOOKERS = {Role.OWNER, Role.ADVISOR, Role.INVITATION_AGENT, Role.DEALER_MANAGER}
RECEPTION = {Role.ADVISOR, Role.DEALER_MANAGER}
NO_SHOW_BATCH = 500  # per sweep call; a site misses far fewer in a day


def _now() -> datetime:
    return datetime.now(UTC)


class BookingService(PlatformService):
    name = "booking"

    db = Database(models.metadata)
    outbox = Outbox()
    store = AppointmentBook()

    # -- the calendar ----------------------------------------------------------------------

    @http("GET", "/calendar", roles=BOOKERS, response=CalendarViewSchema,
          summary="The dealer calendar: opening hours, closed dates, slots, service types")
    def get_calendar(self, request: Request) -> Response:
        return json_response(calendar_view(self.store.calendar()))

    @http("PUT", "/calendar", roles={Role.DEALER_MANAGER}, request=CalendarSchema,
          response=CalendarViewSchema, summary="Set the dealer calendar")
    def put_calendar(self, request: Request) -> Response:
        calendar = Calendar.from_document(load_json(request, CALENDAR))
        now = _now()
        self.store.calendar(lock="update")  # waits for bookings checking the old one
        stored = self.store.save_calendar(calendar, by=identity_of(request).subject, now=now)
        review = domain.appointments_to_review(calendar, self.store.open_from(now))
        self.db.commit()
        return json_response(calendar_view(stored, review))

    @http("GET", "/availability", roles=BOOKERS, response=AvailabilitySchema,
          summary="Free capacity per slot for a service type over a date range",
          statuses=(422,), query=AvailabilityQuerySchema)
    def get_availability(self, request: Request) -> Response:
        query = load_query(request, AVAILABILITY_QUERY)
        calendar = self.store.calendar().calendar
        first, last, service_type = query["from_"], query["to"], query["service_type"]
        calendar.check_range(first, last)
        calendar.duration_of(service_type)
        bookings = Bookings(self.store.intervals(*calendar.day_window(first, last)))
        days = availability(calendar, first, last, service_type, bookings, _now())
        return json_response(availability_view(days, calendar, service_type))

    # -- the appointment book ------------------------------------------------------------

    @http("POST", "/appointments", roles=BOOKERS, request=BookingRequestSchema,
          response=AppointmentSchema, status=201, summary="Book a service appointment",
          statuses=(409,))
    def book(self, request: Request) -> Response:
        payload = load_json(request, BOOKING_REQUEST)
        actor = Actor.of(identity_of(request))
        calendar = self.store.calendar(lock="share").calendar
        appointment, slots = domain.book(payload, calendar=calendar, actor=actor,
                                         dealer_code=self.settings.dealer_code, now=_now())
        self.store.hold_slots(slots)
        others = self.store.holding_capacity(slots[0].start, slots[-1].end)
        domain.check_not_double_booked(appointment, others, reveal_ids=not actor.is_customer)
        domain.check_capacity(calendar, slots, Bookings((o.slot_start, o.slot_end)
                                                        for o in others))
        self.store.add(appointment)
        self.outbox.emit(events.AppointmentBooked, domain.booked_event(appointment, calendar),
                         subject=appointment.id, correlation_id=appointment.id)
        self.db.commit()
        return json_response(appointment_view(appointment, calendar), status=201,
                             headers={"Location": f"/appointments/{appointment.id}"})

    @http("GET", "/appointments", roles=BOOKERS, response=AppointmentListSchema,
          summary="Appointments by date and status (an owner sees their own)",
          statuses=(422,), query=AppointmentListQuerySchema)
    def list_appointments(self, request: Request) -> Response:
        query = load_query(request, APPOINTMENT_LIST_QUERY)
        actor = Actor.of(identity_of(request))
        calendar = self.store.calendar().calendar
        first, last = query.get("from_"), query.get("to")
        if first and last and last < first:
            raise InvalidInput("to", "must not be before from")
        found = self.store.appointments(
            calendar, customer_id=actor.subject if actor.is_customer else None, first=first,
            last=last, status=query.get("status"), limit=query["limit"])
        items = [appointment_view(a, calendar) for a in found]  # each already dumped
        return json_response({"items": items, "count": len(items)})

    @http("GET", "/appointments/<string:appointment_id>", roles=BOOKERS,
          response=AppointmentSchema, summary="One appointment")
    def get_appointment(self, request: Request, appointment_id: str) -> Response:
        appointment = self._visible(request, appointment_id)
        return json_response(appointment_view(appointment, self.store.calendar().calendar))

    # -- what happens next ---------------------------------------------------------------

    @http("POST", "/appointments/<string:appointment_id>/confirm", roles=BOOKERS,
          request=ConfirmRequestSchema, response=AppointmentSchema,
          summary="Confirm an appointment (the customer, or the dealer after calling them)",
          body_optional=True, statuses=(409,))
    def confirm(self, request: Request, appointment_id: str) -> Response:
        load_json(request, CONFIRM_REQUEST, optional=True)
        before = self._visible(request, appointment_id, lock=True)
        calendar = self.store.calendar().calendar
        after = domain.confirm(before, actor=Actor.of(identity_of(request)), now=_now())
        return self._changed(after, calendar, events.AppointmentConfirmed,
                             domain.confirmed_event(after, calendar))

    @http("POST", "/appointments/<string:appointment_id>/reschedule", roles=BOOKERS,
          request=RescheduleRequestSchema, response=AppointmentSchema,
          summary="Move an appointment to another slot (frees the old one)",
          statuses=(409,))
    def reschedule(self, request: Request, appointment_id: str) -> Response:
        payload = load_json(request, RESCHEDULE_REQUEST)
        actor = Actor.of(identity_of(request))
        before = self._visible(request, appointment_id, lock=True)
        calendar = self.store.calendar(lock="share").calendar
        now = _now()
        after, slots = domain.reschedule(before, payload, calendar=calendar, actor=actor, now=now)
        self.store.hold_slots(slots)
        others = self.store.holding_capacity(slots[0].start, slots[-1].end, exclude=before.id)
        domain.check_not_double_booked(after, others, reveal_ids=not actor.is_customer)
        domain.check_capacity(calendar, slots, Bookings((o.slot_start, o.slot_end)
                                                        for o in others))
        data = domain.rescheduled_event(before, after, calendar, actor=actor, now=now,
                                        reason=payload.get("reason"),
                                        channel=payload.get("channel"))
        return self._changed(after, calendar, events.AppointmentRescheduled, data)

    @http("POST", "/appointments/<string:appointment_id>/cancel", roles=BOOKERS,
          request=CancelRequestSchema, response=AppointmentSchema,
          summary="Cancel an appointment with a reason (frees its slots)",
          statuses=(409,))
    def cancel(self, request: Request, appointment_id: str) -> Response:
        payload = load_json(request, CANCEL_REQUEST)
        before = self._visible(request, appointment_id, lock=True)
        calendar = self.store.calendar().calendar
        after = domain.cancel(before, actor=Actor.of(identity_of(request)),
                              reason=payload["reason"], note=payload.get("note"), now=_now())
        return self._changed(after, calendar, events.AppointmentCancelled,
                             domain.cancelled_event(after, calendar))

    @http("POST", "/appointments/<string:appointment_id>/check-in", roles=RECEPTION,
          request=CheckInRequestSchema, response=AppointmentSchema,
          summary="The customer arrived (到店): reception takes over",
          body_optional=True, statuses=(409,))
    def check_in(self, request: Request, appointment_id: str) -> Response:
        payload = load_json(request, CHECK_IN_REQUEST, optional=True)
        before = self._visible(request, appointment_id, lock=True)
        calendar = self.store.calendar().calendar
        after = domain.check_in(before, actor=Actor.of(identity_of(request)), now=_now(),
                                advisor_id=payload.get("advisor_id"))
        return self._changed(after, calendar, events.AppointmentCheckedIn,
                             domain.checked_in_event(after, calendar))

    @http("POST", "/appointments/<string:appointment_id>/no-show", roles=RECEPTION,
          request=NoShowRequestSchema, response=AppointmentSchema,
          summary="Record that the customer did not come (after the grace period)",
          body_optional=True, statuses=(409,))
    def no_show(self, request: Request, appointment_id: str) -> Response:
        load_json(request, NO_SHOW_REQUEST, optional=True)
        before = self._visible(request, appointment_id, lock=True)
        calendar = self.store.calendar().calendar
        after = domain.mark_no_show(before, calendar=calendar, now=_now())
        return self._changed(after, calendar, events.AppointmentNoShow,
                             domain.no_show_event(after, calendar))

    @http("POST", "/no-show-sweeps", roles=RECEPTION, request=NoShowSweepRequestSchema,
          response=NoShowSweepSchema,
          summary="Mark every open appointment whose slot started more than the grace "
                  "period ago as NO_SHOW",
          body_optional=True)
    def sweep_no_shows(self, request: Request) -> Response:
        load_json(request, NO_SHOW_SWEEP_REQUEST, optional=True)
        calendar = self.store.calendar().calendar
        now = _now()
        marked = []
        for before in self.store.due_no_shows(now - calendar.no_show_grace, NO_SHOW_BATCH):
            after = domain.mark_no_show(before, calendar=calendar, now=now)
            self.store.save(after)
            self.outbox.emit(events.AppointmentNoShow, domain.no_show_event(after, calendar),
                             subject=after.id, correlation_id=after.id)
            marked.append(after.id)
        self.db.commit()
        return json_response(NO_SHOW_SWEEP.dump({"marked": marked, "count": len(marked)}))

    # -- helpers -------------------------------------------------------------------------

    def _visible(self, request: Request, appointment_id: str, *,
                 lock: bool = False) -> Appointment:
        """The appointment, if the caller may see it: staff see their site's, an owner only
        their own (anyone else's is 'not found', so its existence is not revealed)."""
        appointment = self.store.appointment(appointment_id, lock=lock)
        if appointment is None or not appointment.belongs_to(Actor.of(identity_of(request))):
            raise NotFound(f"appointment {appointment_id} not found")
        return appointment

    def _changed(self, appointment: Appointment, calendar: Calendar, contract: EventContract,
                 data: dict) -> Response:
        """Store the appointment's new state with the event announcing it, in one commit."""
        self.store.save(appointment)
        self.outbox.emit(contract, data, subject=appointment.id, correlation_id=appointment.id)
        self.db.commit()
        return json_response(appointment_view(appointment, calendar))
