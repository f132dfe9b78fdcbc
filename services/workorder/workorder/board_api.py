"""Workorder's entrypoint of the workshop board (看板), on the service class through
`WorkshopBoardEntrypoints` (service.py, at its line limit, holds the rest).

As every entrypoint: authorise, one use case in the call's unit of work, render.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from chassis.http import http, json_response
from chassis.identity import Role
from workorder import schemas as s
from workorder import use_cases as uc
from workorder import web

# The whole site staff of the workshop: the board names plates, models and advisors, not
# owners, and every one of them already reads the repair orders themselves.
BOARD_READERS = {Role.ADVISOR, Role.DEALER_MANAGER, Role.TECHNICIAN, Role.QC_INSPECTOR,
                 Role.CASHIER}


class WorkshopBoardEntrypoints:
    uow: Any       # the service's unit of work and common settings (`WorkorderService`)
    settings: Any

    @http("GET", "/workshop-board", roles=BOARD_READERS, response=s.WorkshopBoardSchema,
          summary="The workshop board: every open repair order (and today's hand-overs) with "
                  "its stage and what it waits for, and the technicians' load (看板)")
    def workshop_board(self, request: Request) -> Response:
        return json_response(s.WorkshopBoardSchema().dump(uc.workshop_board(
            self.uow, time_zone=self.settings.time_zone, now=web.now())))
