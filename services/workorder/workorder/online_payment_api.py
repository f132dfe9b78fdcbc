"""Workorder's entrypoints of paying the invoice online (WeChat Pay H5), on the service class
through `OnlinePaymentEntrypoints` (service.py, at its line limit, holds the rest).

As every entrypoint: parse and authorise, one use case in the call's unit of work, render. The
provider is the adapter the settings built (`WorkorderSettings.payment_provider`), None where
the site takes no online payment (409: pay at the counter).
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from chassis.http import PUBLIC, http, identity_of, json_response, load_json
from chassis.identity import Role
from workorder import schemas as s
from workorder import use_cases as uc
from workorder import web

PAYERS = {Role.OWNER, Role.ADVISOR, Role.CASHIER}
PAYMENT_READERS = {Role.ADVISOR, Role.CASHIER, Role.DEALER_MANAGER, Role.OWNER}


class OnlinePaymentEntrypoints:
    uow: Any      # the service's unit of work and own settings (`WorkorderService`)
    options: Any

    @http("POST", "/repair-orders/<string:ro_id>/online-payments", roles=PAYERS,
          request=s.OnlinePaymentRequestSchema, response=s.OnlinePaymentSchema, status=201,
          statuses=(409, 503),
          summary="Pay the invoice's balance online (WeChat Pay H5): a pending payment and the "
                  "page for the phone; one already pending for the balance is answered (200)")
    def start_online_payment(self, request: Request, ro_id: str) -> Response:
        payload = load_json(request, s.OnlinePaymentRequestSchema())
        payment, created = uc.start_online_payment(
            self.uow, self.options.payment_provider, actor=identity_of(request), ro_id=ro_id,
            return_url=payload["return_url"], client_ip=request.remote_addr,
            owner_portal_url=self.options.owner_portal_url, now=web.now())
        return json_response(s.OnlinePaymentSchema().dump(payment),
                             status=201 if created else 200)

    @http("GET", "/repair-orders/<string:ro_id>/online-payments/<string:payment_id>",
          roles=PAYMENT_READERS, response=s.OnlinePaymentSchema,
          summary="An online payment: pending, paid or failed (one pending over a minute is "
                  "asked of the provider)")
    def get_online_payment(self, request: Request, ro_id: str, payment_id: str) -> Response:
        return json_response(s.OnlinePaymentSchema().dump(uc.get_online_payment(
            self.uow, self.options.payment_provider, viewer=identity_of(request), ro_id=ro_id,
            payment_id=payment_id, now=web.now())))

    @http("POST", "/payment-notifications/wechatpay", roles=PUBLIC,
          response=s.PaymentNotificationAnswerSchema, statuses=(400, 401, 404, 409),
          summary="WeChat Pay's payment notification: its signature is the permission")
    def wechatpay_notification(self, request: Request) -> Response:
        uc.record_online_payment(self.uow, self.options.payment_provider,
                                 headers=dict(request.headers), body=request.get_data(),
                                 now=web.now())
        return json_response({"code": "SUCCESS"})
