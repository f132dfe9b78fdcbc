"""The owner's invoice and its payment at a dealer site: at the counter, or online through
the payment provider workorder speaks to.

The owner signs in (the code by SMS) and opens the invoice from their car's page; notify sends
no message of its own when the invoice is issued. Everything shown is workorder's: the invoice
(`GET /repair-orders/<ro>/invoice`) and the online payment
(`/repair-orders/<ro>/online-payments`). Paying online, the portal asks workorder for a
payment and sends the browser to the provider's page, which sends it back to the payment's
page here; that page says paid only when workorder does (the provider's signed notification,
or the provider asked). Paying at the counter changes nothing: the page says where to go and
the invoice stays unpaid until the cashier takes the money.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from chassis.http import PUBLIC, http
from portal.backends import ServiceRefused
from portal.domain.payment import (
    COUNTER,
    FAILED,
    ONLINE,
    PAID,
    PENDING,
    at_provider,
    inconsistencies,
    invoice_view,
    online_status,
    origin_of,
    path_segment,
    read_choice,
    refusal_key,
    result_path,
)
from portal.domain.sessions import SignedIn
from portal.pages import redirect
from portal.web import PageGroup, form, page

# While workorder has not heard from the provider, the result page asks again this often and
# this many times (workorder asks the provider itself once a payment is a minute old).
POLL_SECONDS = 3
POLL_TIMES = 40
# How many times the portal asks workorder for a pending payment's page with the way back to
# that very payment (another tab may start one meanwhile).
START_ATTEMPTS = 3


def _invoice_path(ro_id: str) -> str:
    return f"/repair-orders/{path_segment(ro_id)}/invoice"


class PaymentPages(PageGroup):

    @http("GET", "/repair-orders/<string:ro_id>/invoice", roles=PUBLIC, statuses=(404,),
          summary="The owner's invoice: the lines by who pays, what they owe, how to pay")
    @page
    def invoice_page(self, request: Request, ro_id: str) -> Response:
        visitor = self.signed_in(request)
        invoice = self._invoice(visitor, ro_id)
        if invoice is None:
            return self.render(request, "invoice_none.html", status=404, signed_in=visitor,
                               ro_id=ro_id)
        return self._invoice_page(request, visitor, ro_id, invoice)

    @http("POST", "/repair-orders/<string:ro_id>/invoice/payment", roles=PUBLIC,
          statuses=(404, 409, 422, 503),
          summary="The owner chooses how to pay: online (to the provider's page) or at the "
                  "counter")
    @page
    def choose_payment(self, request: Request, ro_id: str) -> Response:
        values = form(request)
        visitor = self.signed_in(request)
        choice = read_choice(values)
        if choice == COUNTER:
            return redirect(f"{_invoice_path(ro_id)}/counter")
        invoice = self._invoice(visitor, ro_id)
        if invoice is None:
            return self.render(request, "invoice_none.html", status=404, signed_in=visitor,
                               ro_id=ro_id)
        if choice != ONLINE:
            return self._invoice_page(request, visitor, ro_id, invoice, status=422,
                                      problem="payment.choose")
        try:
            started = self._start_online(visitor, ro_id)
        except ServiceRefused as exc:
            if exc.status not in (409, 422, 503):
                raise
            # Already paid (another tab, the cashier), not offered here, the provider down:
            # said on the invoice itself, which workorder is asked for again.
            return self._invoice_page(
                request, visitor, ro_id, self._invoice(visitor, ro_id) or invoice,
                status=exc.status,
                problem=refusal_key(exc.status, exc.detail.get("reason")), refused=exc)
        return redirect(started["payment_url"])

    @http("GET", "/repair-orders/<string:ro_id>/invoice/counter", roles=PUBLIC,
          statuses=(404,), summary="Paying at the counter: where, and how much")
    @page
    def pay_at_counter(self, request: Request, ro_id: str) -> Response:
        visitor = self.signed_in(request)
        invoice = self._invoice(visitor, ro_id)
        if invoice is None:
            return self.render(request, "invoice_none.html", status=404, signed_in=visitor,
                               ro_id=ro_id)
        return self.render(request, "payment_counter.html", signed_in=visitor,
                           invoice=invoice_view(invoice), invoice_path=_invoice_path(ro_id))

    @http("GET", "/repair-orders/<string:ro_id>/online-payments/<string:payment_id>",
          roles=PUBLIC, statuses=(404,),
          summary="An online payment's result, where the provider sends the browser back: "
                  "paid only once workorder says so")
    @page
    def payment_result(self, request: Request, ro_id: str, payment_id: str) -> Response:
        visitor = self.signed_in(request)
        try:
            payment = self.portal.backends.workorder.get(
                f"/repair-orders/{path_segment(ro_id)}/online-payments/"
                f"{path_segment(payment_id)}", token=visitor.token)
        except ServiceRefused as exc:
            if exc.status != 404:
                raise
            return self.render(request, "payment_unknown.html", status=404, signed_in=visitor,
                               invoice_path=_invoice_path(ro_id))
        status = online_status(payment)
        invoice = self._invoice(visitor, ro_id)
        # payment.js asks again while workorder has not heard from the provider.
        config = {"poll": status == PENDING, "seconds": POLL_SECONDS, "times": POLL_TIMES}
        return self.render(request, "payment_result.html", signed_in=visitor, payment=payment,
                           outcome=status, paid=status == PAID, failed=status == FAILED,
                           invoice=invoice_view(invoice) if invoice else None,
                           invoice_path=_invoice_path(ro_id),
                           action=f"{_invoice_path(ro_id)}/payment",
                           online_offered=self._online_offered(), config=config)

    # -- helpers ---------------------------------------------------------------------------

    def _invoice(self, visitor: SignedIn, ro_id: str) -> dict[str, Any] | None:
        """Workorder's invoice for the visitor, None when none is issued (yet)."""
        try:
            return self.portal.backends.workorder.get(
                f"/repair-orders/{path_segment(ro_id)}/invoice", token=visitor.token)
        except ServiceRefused as exc:
            if exc.status == 404:
                return None
            raise

    def _online_offered(self) -> bool:
        """The site has a payment provider (its origin is the one the CSP lets forms go to);
        workorder still has the last word (409 when it takes no online payment)."""
        return bool(origin_of(self.portal.options.payment_url))

    def _start_online(self, visitor: SignedIn, ro_id: str) -> dict[str, Any]:
        """Workorder's online payment of the balance, with the provider's page sending the
        browser back to that payment's page here.

        The payment's id is workorder's, known once it is started; asked again for the same
        balance, workorder answers the payment already pending with its page sending the
        browser wherever it is told (no second order at the provider). So the first ask
        names the invoice as the way back, and the next names the payment's own page."""
        public = self.portal.options.public_url
        back = f"{public}{_invoice_path(ro_id)}"
        path = f"/repair-orders/{path_segment(ro_id)}/online-payments"
        known: str | None = None
        for _ in range(START_ATTEMPTS):
            started = self.portal.backends.workorder.post(path, {"return_url": back},
                                                          token=visitor.token)
            if known is not None and started.get("payment_id") == known:
                break
            known = str(started.get("payment_id") or "")
            back = f"{public}{result_path(ro_id, known)}"
        else:
            raise ServiceRefused(409, "CONFLICT", "another payment of this invoice was started "
                                 "meanwhile; try again", {"reason": "started_meanwhile"})
        if not at_provider(started.get("payment_url"), origin_of(
                self.portal.options.payment_url)):
            # Never sent anywhere but the provider this site is set up with.
            raise ServiceRefused(503, "SERVICE_UNAVAILABLE", "the payment page is not the "
                                 "payment provider's this site is set up with", {})
        return started

    def _invoice_page(self, request: Request, visitor: SignedIn, ro_id: str,
                      invoice: dict[str, Any], *, status: int = 200, problem: str | None = None,
                      refused: ServiceRefused | None = None) -> Response:
        view = invoice_view(invoice)
        return self.render(request, "invoice.html", status=status, signed_in=visitor,
                           invoice=view, mismatch=inconsistencies(view),
                           action=f"{_invoice_path(ro_id)}/payment",
                           online_offered=self._online_offered(), problem=problem,
                           refused=refused)
