"""BI's entrypoints: every site's events become facts and daily rollups; KPIs are read from
the rollups by dealer, region and period, ranked, charted and exported.

Each entrypoint parses and authorises, calls one use case (`bi.use_cases`) and renders; the
framework commits its unit of work. BI publishes no events, so it has no outbox.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from bi import dashboard, kpis, models, use_cases
from bi.domain import Scope
from bi.schemas import (
    DashboardQuerySchema,
    DealerListSchema,
    DealerRequestSchema,
    DealerSchema,
    KpiQuerySchema,
    KpiReportSchema,
    RankingQuerySchema,
    RankingSchema,
    RecallCompletionSchema,
    RecallQuerySchema,
    SeriesQuerySchema,
    SeriesSchema,
)
from bi.settings import BiSettings
from bi.store import BiUnitOfWork
from chassis.consumer import handle_event
from chassis.db import Database
from chassis.errors import InvalidInput
from chassis.http import PUBLIC, http, identity_of, json_response, load_json, load_query
from chassis.identity import Role, own_dealer_only
from chassis.service import HEADQUARTERS, OwnSettings, PlatformService
from chassis.unit_of_work import UnitOfWorkProvider
from contracts import events

READERS = {Role.OEM_ANALYST, Role.DEALER_MANAGER}
DEALER_CODE_PATTERN = r"^[A-Z0-9]{2,12}$"


class BiService(PlatformService):
    name = "bi"
    stack = HEADQUARTERS
    operator_commands = {"rebuild": "bi.rebuild:main"}

    db = Database(models.metadata)
    uow = UnitOfWorkProvider(BiUnitOfWork)
    options = OwnSettings(BiSettings)

    def _receive(self, event: dict[str, Any]) -> None:
        use_cases.receive(self.uow, event, self.options, now=datetime.now(UTC))

    # -- events of every dealer site (and crm's, about a dealer) ---------------------------

    @handle_event("booking", events.AppointmentBooked)
    def on_appointment_booked(self, event: dict) -> None:
        self._receive(event)

    @handle_event("booking", events.AppointmentRescheduled)
    def on_appointment_rescheduled(self, event: dict) -> None:
        self._receive(event)

    @handle_event("booking", events.AppointmentConfirmed)
    def on_appointment_confirmed(self, event: dict) -> None:
        self._receive(event)

    @handle_event("booking", events.AppointmentCancelled)
    def on_appointment_cancelled(self, event: dict) -> None:
        self._receive(event)

    @handle_event("booking", events.AppointmentNoShow)
    def on_appointment_no_show(self, event: dict) -> None:
        self._receive(event)

    @handle_event("booking", events.AppointmentCheckedIn)
    def on_appointment_checked_in(self, event: dict) -> None:
        self._receive(event)

    @handle_event("workorder", events.RepairOrderOpened)
    def on_repair_order_opened(self, event: dict) -> None:
        self._receive(event)

    @handle_event("workorder", events.InspectionUploaded)
    def on_inspection_uploaded(self, event: dict) -> None:
        self._receive(event)

    @handle_event("workorder", events.QuoteApproved)
    def on_quote_approved(self, event: dict) -> None:
        self._receive(event)

    @handle_event("workorder", events.QualityCheckCompleted)
    def on_quality_check_completed(self, event: dict) -> None:
        self._receive(event)

    @handle_event("workorder", events.VehicleDelivered)
    def on_vehicle_delivered(self, event: dict) -> None:
        self._receive(event)

    @handle_event("parts", events.PartIssued)
    def on_part_issued(self, event: dict) -> None:
        self._receive(event)

    @handle_event("crm", events.SurveyAnswered)
    def on_survey_answered(self, event: dict) -> None:
        self._receive(event)

    @handle_event("crm", events.ReminderDue)
    def on_reminder_due(self, event: dict) -> None:
        self._receive(event)

    @handle_event("crm", events.RecallCampaignPublished)
    def on_recall_campaign_published(self, event: dict) -> None:
        self._receive(event)

    @handle_event("crm", events.RecallCompleted)
    def on_recall_completed(self, event: dict) -> None:
        self._receive(event)

    # -- KPIs --------------------------------------------------------------------------------

    def _scope(self, request: Request, query: dict[str, Any]) -> Scope:
        own_dealer_only(identity_of(request), query.get("dealer"))
        return Scope(first=query["from_"], last=query["to"], dealer_code=query.get("dealer"),
                     region=query.get("region"))

    @http("GET", "/kpis", roles=READERS, query=KpiQuerySchema, response=KpiReportSchema,
             statuses=(422,),
             summary="Every KPI over a date range, for one dealer, one region or all dealers "
                     "(a dealer manager: own dealer only)")
    def get_kpis(self, request: Request) -> Response:
        query = load_query(request, KpiQuerySchema())
        scope = self._scope(request, query)
        return json_response(use_cases.kpi_report(self.uow, scope))

    @http("GET", "/kpis.csv", roles=READERS, query=KpiQuerySchema, statuses=(422,),
             summary="Every KPI per dealer as CSV (UTF-8 with BOM, opens in Excel)")
    def get_kpis_csv(self, request: Request) -> Response:
        query = load_query(request, KpiQuerySchema())
        scope = self._scope(request, query)
        out = io.StringIO()
        writer = csv.writer(out)
        names = list(kpis.KPIS)
        writer.writerow(["dealer_code", "name", "region", "from", "to", *names])
        for dealer in use_cases.kpis_by_dealer(self.uow, scope):
            values = dealer["kpis"]
            writer.writerow([dealer["dealer_code"], dealer["name"] or "", dealer["region"],
                             scope.first, scope.last,
                             *("" if values[n] is None else values[n] for n in names)])
        filename = f"kpis_{scope.first}_{scope.last}.csv"
        return Response("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @http("GET", "/rankings", roles={Role.OEM_ANALYST}, query=RankingQuerySchema,
             response=RankingSchema, statuses=(422,),
             summary="Dealers ranked by one KPI (highest first), optionally within a region")
    def get_rankings(self, request: Request) -> Response:
        query = load_query(request, RankingQuerySchema())
        scope = Scope(first=query["from_"], last=query["to"], region=query.get("region"))
        items = use_cases.ranking(self.uow, scope, query["kpi"])
        return json_response({"kpi": query["kpi"], "items": items})

    @http("GET", "/series", roles=READERS, query=SeriesQuerySchema, response=SeriesSchema,
             statuses=(422,), summary="One KPI per day, week or month")
    def get_series(self, request: Request) -> Response:
        query = load_query(request, SeriesQuerySchema())
        scope = self._scope(request, query)
        items = use_cases.series(self.uow, scope, query["kpi"], query["grain"])
        return json_response({"kpi": query["kpi"], "grain": query["grain"], "items": items})

    @http("GET", "/recall-completion", roles={Role.OEM_ANALYST}, query=RecallQuerySchema,
             response=RecallCompletionSchema, statuses=(422,),
             summary="Recall completion rates per campaign, and per dealer and region within "
                     "each (cars done / cars named; a dealer: of the cars it delivered)")
    def get_recall_completion(self, request: Request) -> Response:
        query = load_query(request, RecallQuerySchema())
        items = use_cases.recall_completion(self.uow, query.get("campaign"))
        return json_response({"items": RecallCompletionSchema().dump({"items": items})["items"]})

    @http("GET", "/dashboard", roles=PUBLIC, query=DashboardQuerySchema, statuses=(422,),
             summary="The KPI dashboard page with charts (zh-CN, or en with lang=en; "
                     "dealer= opens one dealer's view); its data needs a token")
    def get_dashboard(self, request: Request) -> Response:
        query = load_query(request, DashboardQuerySchema())
        return Response(dashboard.page(query["lang"]), content_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": dashboard.CONTENT_SECURITY_POLICY,
                                 "Cache-Control": "no-cache"})

    @http("GET", "/static/<path:path>", roles=PUBLIC, statuses=(404,),
             summary="The dashboard's script and style sheet and the vendored Apache ECharts "
                     "(a fixed list of files)")
    def get_static(self, request: Request, path: str) -> Response:
        return dashboard.STATIC.response(request, path)

    # -- dealers and regions -------------------------------------------------------------------

    @http("GET", "/dealers", roles={Role.OEM_ANALYST, Role.OPERATOR},
             response=DealerListSchema, summary="Dealers and their regions")
    def list_dealers(self, request: Request) -> Response:
        return json_response({"items": use_cases.dealers(self.uow)})

    @http("PUT", "/dealers/<string:dealer_code>", roles={Role.OPERATOR},
             request=DealerRequestSchema, response=DealerSchema, statuses=(422,),
             summary="Name a dealer and put it in a region (dealers not listed count as "
                     "UNASSIGNED)")
    def put_dealer(self, request: Request, dealer_code: str) -> Response:
        if not re.match(DEALER_CODE_PATTERN, dealer_code):
            raise InvalidInput("dealer_code", "must be 2-12 upper-case letters or digits")
        payload = load_json(request, DealerRequestSchema())
        return json_response(use_cases.name_dealer(self.uow, dealer_code, name=payload["name"],
                                                   region=payload["region"],
                                                   now=datetime.now(UTC)))
