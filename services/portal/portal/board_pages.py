"""The workshop board for advisors and the service manager at a dealer site.

Staff signed in at the site's identity see every car in the workshop in a column per STAR
stage (workorder's `GET /workshop-board`, with the visitor's own token, so workorder decides
who may), the technicians' load, and a car's page (its lines, jobs, inspection and stage
times). board.js asks `/board.json` every `board_refresh_seconds` and moves the cards; the
page itself works without it (a reload shows the same).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from chassis.http import PUBLIC, http
from portal.backends import ServiceRefused
from portal.domain.board import (
    Board,
    Card,
    board_of,
    inspection_summary,
    local_clock,
    quote_lines,
    timeline,
)
from portal.domain.sessions import SignedIn
from portal.pages import language_of, redirect, translate
from portal.web import PageGroup, now, page, sign_in_url

BOARD_API = "/workshop-board"


class WorkshopBoard(PageGroup):

    @http("GET", "/board", roles=PUBLIC, statuses=(403,),
          summary="The workshop board: a column per stage, a card per car (staff signed in)")
    @page
    def board_page(self, request: Request) -> Response:
        visitor, refused = self._staff(request)
        if refused is not None:
            return refused
        shown = self._board(visitor)
        lang = language_of(request)
        # board.js: where to ask, how often, and where a lapsed sign-in goes.
        config = {"url": "/board.json",
                  "refreshSeconds": self.portal.options.board_refresh_seconds,
                  "signIn": sign_in_url(request, staff=True)}
        return self.render(request, "board.html", signed_in=visitor, config=config,
                           board=shown, cards=self._cards(shown, lang),
                           technicians=self._technicians(shown, lang),
                           updated=local_clock(now(), self.portal.pages.zone, now()))

    @http("GET", "/board.json", roles=PUBLIC, statuses=(401, 403),
          summary="What the open board polls: every card with its column and words")
    @page
    def board_json(self, request: Request) -> Response:
        visitor = self.visitor(request)
        if visitor is None or visitor.is_owner:  # a script is answered, not redirected
            return self._json({"error": "SIGN_IN" if visitor is None else "STAFF_ONLY"},
                              status=401 if visitor is None else 403)
        shown = self._board(visitor)
        lang = language_of(request)
        return self._json({
            "updated_text": translate(lang, "board.updated",
                                      time=local_clock(now(), self.portal.pages.zone, now())),
            "summary": translate(lang, "board.summary", cars=len(shown.cards),
                                 late=shown.late),
            "counts": {column.key: len(column.cards) for column in shown.columns},
            "cards": self._cards(shown, lang), "technicians": self._technicians(shown, lang)})

    @http("GET", "/board/repair-orders/<string:ro_id>", roles=PUBLIC, statuses=(403, 404),
          summary="A car's page from the board: lines, jobs, inspection, stage times")
    @page
    def board_repair_order(self, request: Request, ro_id: str) -> Response:
        visitor, refused = self._staff(request)
        if refused is not None:
            return refused
        workorder, token = self.portal.backends.workorder, visitor.token
        path = f"/repair-orders/{quote(ro_id, safe='')}"
        ro = workorder.get(path, token=token)
        jobs = _optional(lambda: workorder.get(f"{path}/jobs", token=token)["items"])
        inspection = _optional(lambda: workorder.get(f"{path}/inspection", token=token))
        quoted = _optional(lambda: workorder.get(f"{path}/quote", token=token))
        zone = self.portal.pages.zone
        card = next((c for c in self._board(visitor).cards if c.id == ro["id"]), None)
        return self.render(request, "board_detail.html", signed_in=visitor, ro=ro, card=card,
                           jobs=jobs, lines=quote_lines(quoted),
                           inspection=inspection_summary(inspection),
                           timeline=timeline(ro.get("history")),
                           promised=local_clock(datetime.fromisoformat(ro["promised_at"]), zone,
                                                    now()))

    # -- shared ------------------------------------------------------------------------------

    def _staff(self, request: Request) -> tuple[SignedIn, None] | tuple[None, Response]:
        """The signed-in member of staff; else the answer: sign in first (and come back), or
        403 for an owner's session (the board is the workshop's, not the owner's)."""
        visitor = self.visitor(request)
        if visitor is None:
            return None, redirect(sign_in_url(request, staff=True))
        if visitor.is_owner:
            return None, self.render(request, "error.html", status=403, signed_in=visitor,
                                     message_key="board.staff_only", detail="")
        return visitor, None

    def _board(self, visitor: SignedIn) -> Board:
        return board_of(self.portal.backends.workorder.get(BOARD_API, token=visitor.token),
                        now())

    def _cards(self, board: Board, lang: str) -> list[dict[str, Any]]:
        """Each card with its words in the visitor's language: the page renders these, and
        board.js puts the same into the cards it moves."""
        zone, moment = self.portal.pages.zone, now()
        return [_card_words(card, lang, local_clock(card.promised_at, zone, moment),
                            local_clock(card.delivered_at, zone, moment)
                            if card.delivered_at else None)
                for card in board.cards]

    def _technicians(self, board: Board, lang: str) -> list[dict[str, Any]]:
        return [{"id": t.id, "name": t.name, "jobs": str(t.jobs_assigned),
                 "load": translate(lang, "board.tech.hours", hours=t.load_hours),
                 "clock": (translate(lang, "board.tech.on", plate=t.clocked_on)
                           if t.clocked_on else translate(lang, "board.tech.idle")),
                 "busy": t.clocked_on is not None}
                for t in board.technicians]

    def _json(self, payload: dict[str, Any], *, status: int = 200) -> Response:
        response = Response(json.dumps(payload, ensure_ascii=False), status=status,
                            content_type="application/json; charset=utf-8")
        return self.portal.pages.protect(response)


def _card_words(card: Card, lang: str, promised: str, delivered: str | None
                ) -> dict[str, Any]:
    if delivered is not None:
        when = translate(lang, "board.delivered_at", time=delivered)
    elif card.late:
        when = translate(lang, "board.late", minutes=card.minutes_late, time=promised)
    else:
        when = translate(lang, "board.promised", time=promised)
    progress = (translate(lang, "board.jobs", done=card.jobs_done, total=card.jobs)
                if card.jobs else "")
    return {"id": card.id, "column": card.column, "href": card.href, "plate": card.plate,
            "model": card.model, "late": card.late, "when": when,
            "waits": translate(lang, card.waits_key) if card.waits_key else "",
            "tone": card.waits_tone,
            "advisor": translate(lang, "board.advisor", advisor=card.advisor_id),
            "waiting_customer": translate(lang, "board.customer_waiting")
            if card.customer_waiting else "",
            "progress": progress}


def _optional(read: Any) -> Any:
    """A part of the car's page a service has not (yet) got, or does not show this member of
    staff (the cashier sees no jobs): the page shows the rest."""
    try:
        return read()
    except ServiceRefused as exc:
        if exc.status in (403, 404):
            return None
        raise
