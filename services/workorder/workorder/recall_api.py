"""Workorder's entrypoints of headquarters' recall and service campaigns, on the service class
through `RecallEntrypoints` (service.py, at its line limit, holds the rest): the campaigns
crm publishes, the completions it announces (done on a car at any dealer), and reception's
look-up of a car's open ones.

As every entrypoint: authorise, one use case in the call's unit of work, render.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from chassis.consumer import handle_event
from chassis.http import http, json_response, load_query
from chassis.identity import Role
from contracts import events
from workorder import schemas as s
from workorder import use_cases as uc
from workorder import web
from workorder.domain.vin import valid_vin


class RecallEntrypoints:
    uow: Any       # the service's unit of work and common settings (`WorkorderService`)
    settings: Any

    @http("GET", "/vehicles/<string:vin>/open-campaigns",
          roles={Role.ADVISOR, Role.DEALER_MANAGER, Role.TECHNICIAN},
          query=s.VehicleCampaignsQuerySchema, response=s.VehicleCampaignsSchema,
          summary="Open recall and service campaigns covering a car, by VIN list or by model "
                  "and model year, less those done on it at any dealer (召回查询)")
    def vehicle_open_campaigns(self, request: Request, vin: str) -> Response:
        vin = valid_vin(vin)  # the path's VIN is refused first, naming it
        query = load_query(request, s.VehicleCampaignsQuerySchema())
        return json_response(uc.vehicle_open_campaigns(
            self.uow, vin=vin, model=query.get("model"), time_zone=self.settings.time_zone,
            now=web.now()))

    @handle_event("crm", events.RecallCampaignPublished)
    def on_recall_campaign_published(self, event: dict) -> None:
        uc.keep_campaign(self.uow, data=event["data"], now=web.now())

    @handle_event("crm", events.RecallCompleted)
    def on_recall_completed(self, event: dict) -> None:
        uc.keep_recall_completion(self.uow, data=event["data"], now=web.now())
