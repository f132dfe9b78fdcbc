"""The owner's own pages at a dealer site, signed in: book a service (reschedule, cancel), my
car now (the timeline of its stages), and the invoice and its payment.

Every page calls booking and workorder with the owner's own token, so what an owner may see
and do is theirs to decide: booking shows an owner only their own appointments and books
under its slot locks (the last place of a slot goes to one owner; the other is told in place
that it was just taken, with the free slots as they are now), workorder shows only the
owner's own repair orders. A GET never changes anything; the forms work without scripts
(booking.js and timeline.js only make them nicer: the slot summary, live updates).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from werkzeug.wrappers import Request, Response

from chassis.errors import Unauthorized
from chassis.http import PUBLIC, http, json_response
from portal.backends import ServiceRefused, Unreachable
from portal.domain import booking
from portal.domain.sessions import SignedIn
from portal.pages import language_of, redirect, translate
from portal.web import PageGroup, form, page


def _segment(value: str) -> str:
    """An id as a path segment of the service's URL (never a '/', '?' or '#' of its own)."""
    return quote(value, safe="")


class OwnerPages(PageGroup):

    # -- booking a service (预约) -------------------------------------------------------------

    @http("GET", "/book", roles=PUBLIC, statuses=(422,),
          summary="Book a service: the service type, a free slot of the coming days, how the "
                  "car comes; the owner's appointments above")
    @page
    def book_page(self, request: Request) -> Response:
        owner = self.signed_in(request, owner=True)
        mine = self._appointments(owner)
        last = booking.latest_booked(mine)
        values = booking.form_values_of(last)
        values["reminder_id"] = request.args.get("reminder", "")
        calendar = self._calendar(owner)
        chosen = request.args.get("service_type", "")
        if chosen not in booking.service_types_of(calendar):
            chosen = booking.default_service_type(booking.service_types_of(calendar), last)
        return self._book_form(request, owner, chosen, values, mine=mine, calendar=calendar)

    @http("POST", "/book", roles=PUBLIC, statuses=(409, 422),
          summary="The owner books: sent to booking, then the confirmation page")
    @page
    def book(self, request: Request) -> Response:
        values = form(request)
        owner = self.signed_in(request, owner=True)
        calendar = self._calendar(owner)
        read = booking.read_booking(values, service_types=booking.service_types_of(calendar))
        if read.body is None:
            return self._book_form(request, owner, values.get("service_type", ""), values,
                                   status=422, problems=read.problems, calendar=calendar)
        try:
            booked = self.portal.backends.booking.post("/appointments", read.body,
                                                       token=owner.token)
        except ServiceRefused as exc:
            if exc.status not in (409, 422):
                raise
            # Shown in place: the slot just taken (the free slots as they are now), another
            # conflict in booking's words, or the field booking named.
            return self._book_form(request, owner, values.get("service_type", ""), values,
                                   status=exc.status, refused=exc, calendar=calendar)
        return redirect(f"/book/{_segment(str(booked['id']))}?done=booked")

    @http("GET", "/book/<string:appointment_id>", roles=PUBLIC, statuses=(404,),
          summary="One of the owner's appointments (the confirmation after booking): when, "
                  "what, and reschedule or cancel")
    @page
    def appointment_page(self, request: Request, appointment_id: str) -> Response:
        owner = self.signed_in(request, owner=True)
        return self._appointment(request, owner, self._appointment_of(owner, appointment_id),
                                 done=request.args.get("done", ""))

    @http("GET", "/book/<string:appointment_id>/reschedule", roles=PUBLIC,
          statuses=(404, 409),
          summary="Move an appointment: the free slots of the coming days for its service")
    @page
    def reschedule_page(self, request: Request, appointment_id: str) -> Response:
        owner = self.signed_in(request, owner=True)
        return self._reschedule_form(request, owner,
                                     self._appointment_of(owner, appointment_id))

    @http("POST", "/book/<string:appointment_id>/reschedule", roles=PUBLIC,
          statuses=(404, 409, 422),
          summary="The owner moves the appointment to another free slot (booking frees the "
                  "old one)")
    @page
    def reschedule(self, request: Request, appointment_id: str) -> Response:
        values = form(request)
        owner = self.signed_in(request, owner=True)
        read = booking.read_reschedule(values)
        if read.body is None:
            return self._reschedule_form(request, owner,
                                         self._appointment_of(owner, appointment_id),
                                         status=422, problems=read.problems)
        try:
            self.portal.backends.booking.post(
                f"/appointments/{_segment(appointment_id)}/reschedule", read.body,
                token=owner.token)
        except ServiceRefused as exc:
            if exc.status not in (409, 422):
                raise
            return self._reschedule_form(request, owner,
                                         self._appointment_of(owner, appointment_id),
                                         status=exc.status, refused=exc,
                                         chosen=values.get("slot_start", ""))
        return redirect(f"/book/{_segment(appointment_id)}?done=rescheduled")

    @http("POST", "/book/<string:appointment_id>/cancel", roles=PUBLIC,
          statuses=(404, 409, 422),
          summary="The owner cancels the appointment with a reason (booking frees its slots)")
    @page
    def cancel(self, request: Request, appointment_id: str) -> Response:
        values = form(request)
        owner = self.signed_in(request, owner=True)
        read = booking.read_cancel(values)
        if read.body is None:
            return self._appointment(request, owner,
                                     self._appointment_of(owner, appointment_id), status=422,
                                     problems=read.problems)
        try:
            self.portal.backends.booking.post(
                f"/appointments/{_segment(appointment_id)}/cancel", read.body,
                token=owner.token)
        except ServiceRefused as exc:
            if exc.status not in (409, 422):
                raise
            # Checked in or cancelled meanwhile: the appointment as it is now, and why.
            return self._appointment(request, owner,
                                     self._appointment_of(owner, appointment_id),
                                     status=exc.status, refused=exc)
        return redirect(f"/book/{_segment(appointment_id)}?done=cancelled")

    # -- my car now (车辆进度) ------------------------------------------------------------------

    @http("GET", "/my-car", roles=PUBLIC,
          summary="My car now: the timeline of the car in the workshop, else of the next "
                  "appointment")
    @page
    def my_car(self, request: Request) -> Response:
        owner = self.signed_in(request, owner=True)
        mine = self._appointments(owner, everything=True)
        orders = self._repair_orders(owner)
        visit = booking.current_visit(mine, orders)
        if visit is None:
            return self.render(request, "car_none.html", signed_in=owner)
        if visit.repair_order_id:
            return self._car_page(request, owner, repair_order_id=visit.repair_order_id)
        return self._car_page(request, owner, appointment_id=visit.appointment_id)

    @http("GET", "/my-car/<string:ro_id>", roles=PUBLIC, statuses=(404,),
          summary="The timeline of one of the owner's repair orders")
    @page
    def my_car_order(self, request: Request, ro_id: str) -> Response:
        return self._car_page(request, self.signed_in(request, owner=True), repair_order_id=ro_id)

    @http("GET", "/my-car/appointments/<string:appointment_id>", roles=PUBLIC,
          statuses=(404,),
          summary="The timeline of an appointment, followed into the repair order opened "
                  "from it")
    @page
    def my_car_appointment(self, request: Request, appointment_id: str) -> Response:
        return self._car_page(request, self.signed_in(request, owner=True),
                              appointment_id=appointment_id)

    @http("GET", "/my-car/<string:ro_id>/timeline.json", roles=PUBLIC,
          statuses=(401, 404, 503),
          summary="The repair order's timeline as timeline.js redraws it (polled)")
    def my_car_order_json(self, request: Request, ro_id: str) -> Response:
        return self._timeline_json(request, repair_order_id=ro_id)

    @http("GET", "/my-car/appointments/<string:appointment_id>/timeline.json", roles=PUBLIC,
          statuses=(401, 404, 503),
          summary="The appointment's timeline as timeline.js redraws it (polled)")
    def my_car_appointment_json(self, request: Request, appointment_id: str) -> Response:
        return self._timeline_json(request, appointment_id=appointment_id)

    # -- what the owner's pages share ------------------------------------------------------

    def _today(self) -> date:
        return datetime.now(ZoneInfo(self.portal.pages.zone)).date()

    def _calendar(self, owner: SignedIn) -> dict[str, Any]:
        found: dict[str, Any] = self.portal.backends.booking.get("/calendar",
                                                                 token=owner.token)
        return found

    def _free(self, owner: SignedIn, service_type: str, *, keep: str | None = None
              ) -> list[booking.FreeDay]:
        first, last = booking.coming_days(self._today())
        found = self.portal.backends.booking.get(
            "/availability", token=owner.token,
            params={"service_type": service_type, "from": first.isoformat(),
                    "to": last.isoformat()})
        return booking.free_days(found, keep=keep)

    def _appointments(self, owner: SignedIn, *, everything: bool = False
                      ) -> list[dict[str, Any]]:
        """The owner's appointments from today on (booking shows an owner only theirs);
        `everything`: the past ones too (my car now follows a visit booked earlier)."""
        params: dict[str, Any] = {"limit": 100}
        if not everything:
            params["from"] = self._today().isoformat()
        found = self.portal.backends.booking.get("/appointments", token=owner.token,
                                                 params=params)
        return list(found.get("items") or [])

    def _appointment_of(self, owner: SignedIn, appointment_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.portal.backends.booking.get(
            f"/appointments/{_segment(appointment_id)}", token=owner.token)
        return found

    def _repair_orders(self, owner: SignedIn) -> list[dict[str, Any]]:
        found = self.portal.backends.workorder.get("/repair-orders", token=owner.token,
                                                   params={"limit": 100})
        return list(found.get("items") or [])

    def _book_form(self, request: Request, owner: SignedIn, service_type: str,
                   values: dict[str, str], *, status: int = 200,
                   problems: dict[str, str] | None = None,
                   refused: ServiceRefused | None = None,
                   calendar: dict[str, Any] | None = None,
                   mine: list[dict[str, Any]] | None = None) -> Response:
        calendar = calendar if calendar is not None else self._calendar(owner)
        types = booking.service_types_of(calendar)
        if service_type not in types:
            service_type = booking.default_service_type(types)
        days = self._free(owner, service_type) if service_type else []
        mine = mine if mine is not None else self._appointments(owner)
        slot_taken = refused is not None and refused.status == 409 and booking.taken(
            refused.detail)
        chosen = "" if slot_taken else values.get("slot_start", "")
        lang = language_of(request)
        # booking.js: the chosen slot's summary beside the button, and the button while
        # the booking is on its way (the form works without).
        config = {"chosen": translate(lang, "booking.chosen", slot="{slot}"),
                  "sending": translate(lang, "booking.sending")}
        return self.render(
            request, "book.html", status=status, signed_in=owner, service_types=types,
            service_type=service_type, days=days, chosen=chosen,
            open_day=booking.day_of(days, chosen), values=values,
            arrival=values.get("arrival") or booking.DROP_OFF,
            upcoming=booking.upcoming(mine), problems=problems or {},
            refused=refused, slot_taken=slot_taken,
            refused_fields=booking.refused_fields(refused.fields) if refused else {},
            config=config)

    def _appointment(self, request: Request, owner: SignedIn, appointment: dict[str, Any], *,
                     status: int = 200, done: str = "",
                     problems: dict[str, str] | None = None,
                     refused: ServiceRefused | None = None) -> Response:
        return self.render(request, "book_appointment.html", status=status, signed_in=owner,
                           appointment=appointment,
                           allowed=set(appointment.get("allowed_actions") or []),
                           done=done if done in ("booked", "rescheduled", "cancelled") else "",
                           reasons=booking.OWNER_CANCEL_REASONS, problems=problems or {},
                           refused=refused)

    def _reschedule_form(self, request: Request, owner: SignedIn,
                         appointment: dict[str, Any], *, status: int = 200,
                         problems: dict[str, str] | None = None,
                         refused: ServiceRefused | None = None,
                         chosen: str = "") -> Response:
        if "reschedule" not in (appointment.get("allowed_actions") or []):
            # Checked in, cancelled: nothing to move; the appointment says what it is now.
            return self._appointment(request, owner, appointment,
                                     status=409 if status == 200 else status, refused=refused)
        days = self._free(owner, str(appointment["service_type"]),
                          keep=str(appointment["slot_start"]))
        slot_taken = refused is not None and refused.status == 409 and booking.taken(
            refused.detail)
        chosen = "" if slot_taken else chosen
        lang = language_of(request)
        config = {"chosen": translate(lang, "booking.chosen", slot="{slot}"),
                  "sending": translate(lang, "booking.sending")}
        return self.render(request, "book_reschedule.html", status=status, signed_in=owner,
                           appointment=appointment, days=days, chosen=chosen,
                           open_day=booking.day_of(days, chosen), problems=problems or {},
                           refused=refused, slot_taken=slot_taken,
                           refused_fields=booking.refused_fields(refused.fields)
                           if refused else {}, config=config)

    def _visit(self, owner: SignedIn, *, repair_order_id: str | None = None,
               appointment_id: str | None = None
               ) -> tuple[booking.Timeline, dict[str, Any] | None, dict[str, Any] | None]:
        """The visit's timeline, its appointment and its repair order (each if any): an
        appointment is followed into the repair order workorder opened from it."""
        appointment: dict[str, Any] | None = None
        order: dict[str, Any] | None = None
        if appointment_id:
            appointment = self._appointment_of(owner, appointment_id)
            opened = booking.repair_order_of(appointment_id, self._repair_orders(owner))
            repair_order_id = str(opened["id"]) if opened else None
        if repair_order_id:
            order = self.portal.backends.workorder.get(
                f"/repair-orders/{_segment(repair_order_id)}", token=owner.token)
            if appointment is None and order and order.get("appointment_id"):
                try:  # when it was booked: the first step's time
                    appointment = self._appointment_of(owner, str(order["appointment_id"]))
                except ServiceRefused:
                    appointment = None
        return booking.timeline(appointment, order), appointment, order

    def _timeline_url(self, timeline: booking.Timeline, repair_order_id: str | None,
                      appointment_id: str | None) -> str:
        if appointment_id:
            return f"/my-car/appointments/{_segment(appointment_id)}/timeline.json"
        return f"/my-car/{_segment(repair_order_id or timeline.repair_order_id or '')}" \
               "/timeline.json"

    def _car_page(self, request: Request, owner: SignedIn, *,
                  repair_order_id: str | None = None,
                  appointment_id: str | None = None) -> Response:
        timeline, appointment, order = self._visit(owner, repair_order_id=repair_order_id,
                                                   appointment_id=appointment_id)
        lang = language_of(request)
        zone = self.portal.pages.zone
        # timeline.js: where to ask, how often, and the words it redraws the page with.
        config = {
            "url": self._timeline_url(timeline, repair_order_id, appointment_id),
            "seconds": self.portal.options.board_refresh_seconds,
            "final": timeline.final,
            "steps": {code: translate(lang, f"car.step_{code}") for code in booking.STEPS},
            "states": {state: translate(lang, f"car.state_{state}") for state in
                       (booking.DONE, booking.CURRENT, booking.TODO, booking.SKIPPED)},
            "now": translate(lang, "car.now", step="{step}"),
            "ended": {end: translate(lang, f"car.ended_{end}")
                      for end in (booking.CANCELLED, booking.NO_SHOW)},
            "attention": {key: translate(lang, f"car.attention_{key}")
                          for key in ("quote", "additional_quote", "invoice")},
            "link_texts": {"quote": translate(lang, "car.open_quote"),
                           "additional_quote": translate(lang, "car.open_quote"),
                           "invoice": translate(lang, "car.open_invoice")},
            "links": {"quote": "/repair-orders/{ro}/quote",
                      "additional_quote": "/repair-orders/{ro}/quote",
                      "invoice": "/repair-orders/{ro}/invoice"},
            "inspection": "/repair-orders/{ro}/inspection",
            "stale": translate(lang, "car.stale"),
        }
        return self.render(request, "car.html", signed_in=owner, timeline=timeline,
                           appointment=appointment, order=order,
                           at=lambda value: booking.clock(value, zone), config=config)

    def _timeline_json(self, request: Request, *, repair_order_id: str | None = None,
                       appointment_id: str | None = None) -> Response:
        """The timeline as JSON for the page's script; a refusal as JSON too (the script
        keeps the page as it is and says it is not up to date)."""
        try:
            owner = self.signed_in(request, owner=True)
            timeline, _, _ = self._visit(owner, repair_order_id=repair_order_id,
                                         appointment_id=appointment_id)
            zone = self.portal.pages.zone
            answer = json_response(timeline.as_json(
                clock=lambda value: booking.clock(value, zone)))
        except Unauthorized:
            answer = json_response({"error": "SIGN_IN", "message": "sign in again"},
                                   status=401)
        except ServiceRefused as exc:
            answer = json_response({"error": exc.error, "message": exc.message},
                                   status=exc.status)
        except Unreachable:
            answer = json_response({"error": "UNREACHABLE", "message": "try again"},
                                   status=503, headers={"Retry-After": "5"})
        return self.portal.pages.protect(answer)
