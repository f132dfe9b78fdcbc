"""The owner's pages opened from the site's messages: the inspection report with its photos,
and the quote, decided line by line and signed (additional work included).

Two ways in, as workorder's messages give them:

* the links in the owner's messages, each its own permission (no sign-in): QuoteIssued's
  `quote_url` is `/quote-links/<grant>`, one round to decide while it waits; the quote's
  report link is `/inspection-reports/<token>`. The portal answers at workorder's own paths
  and passes the grant on; workorder's rules decide what it opens.
* InspectionUploaded's `report_url` is `/inspections/<inspection id>`, which carries no grant:
  the owner signs in, and the pages call workorder with their token
  (`/repair-orders/<ro>/inspection`, `/repair-orders/<ro>/quote`), which also shows every
  round of the quote; a signed-in owner sees the earlier rounds beside a link's round too.

Additional work (增修) opens a new round; sending it texts a new quote link (the first one
stops opening once its round is decided), decided the same way.

A GET never changes anything (link previews open links): only the form the owner submits
decides. Photos are passed on from workorder through the portal (nothing on the page comes
from another origin), and only as the picture types workorder keeps.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote as quoted
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from chassis.errors import Unauthorized
from chassis.http import PUBLIC, http
from portal.backends import ServiceRefused, Unreachable
from portal.domain import quote
from portal.domain.sessions import SignedIn
from portal.pages import language_of, redirect, translate
from portal.web import PageGroup, form, page

# The photo proxy's answer: the address names the photo by its hash, so it never changes.
PHOTO_CACHE = "private, max-age=3600"


def _token(token: str) -> str:
    """A link's token (or an id) as a path segment of the service's URL (never a '/', '?' or
    '#' of its own)."""
    return quoted(token, safe="")


class QuotePages(PageGroup):

    # -- the quote through the owner's link (报价确认) ----------------------------------------

    @http("GET", "/quote-links/<string:grant>", roles=PUBLIC, statuses=(404, 410),
          summary="The quote round the owner's message links to: approve or decline each "
                  "line, and sign")
    @page
    def quote_page(self, request: Request, grant: str) -> Response:
        view, closed = self._quote_by_link(request, grant, posting=False)
        if closed is not None:
            return closed
        return self._quote_form(request, view, action=f"/quote-links/{_token(grant)}",
                                quote_link=f"/quote-links/{_token(grant)}")

    @http("POST", "/quote-links/<string:grant>", roles=PUBLIC,
          statuses=(404, 409, 410, 422),
          summary="The owner's decisions and signature, sent to workorder through the link; "
                  "answers with what was approved and declined")
    @page
    def decide_quote(self, request: Request, grant: str) -> Response:
        values = form(request)
        view, closed = self._quote_by_link(request, grant, posting=True)
        if closed is not None:
            return closed
        action = f"/quote-links/{_token(grant)}"
        waiting = quote.the_round(view)
        assert waiting is not None  # workorder opens a link only on its waiting round
        approval = quote.read_approval(values, quote.to_decide(waiting))
        if approval.body is None:
            return self._quote_form(request, view, action=action, quote_link=action,
                                    status=422, values=values, problems=approval.problems)
        try:
            decided = self.portal.backends.workorder.post(
                f"/quote-links/{_token(grant)}/approval", approval.body)
        except ServiceRefused as exc:
            if exc.status == 422:  # workorder's own check: shown on the form, as it named it
                return self._quote_form(request, view, action=action, quote_link=action,
                                        status=422, values=values, refused=exc)
            if exc.status in (404, 409):  # decided meanwhile (another tab), expired, replaced
                return self._closed(request, exc.detail, exc.message, posting=True)
            raise
        # The confirmation is this answer: once decided the link opens nothing any more, so
        # there is no page to redirect to that could show it again.
        # workorder's answer names the round; the car is the link's, read before.
        car = {"plate": view.get("plate"), "model": view.get("model")}
        return self._approved(request, {**decided, **car}, report=self._report_path(view))

    def _quote_by_link(self, request: Request, grant: str, *, posting: bool
                       ) -> tuple[dict[str, Any], Response | None]:
        try:
            return self.portal.backends.workorder.get(f"/quote-links/{_token(grant)}"), None
        except ServiceRefused as exc:
            if exc.status != 404:
                raise
            return {}, self._closed(request, exc.detail, exc.message, posting=posting)

    def _closed(self, request: Request, detail: dict[str, Any], message: str, *,
                posting: bool) -> Response:
        reason = str(detail.get("reason") or "")
        return self.render(request, "quote_closed.html",
                           status=quote.closed_status(reason, posting=posting),
                           reason=quote.closed_reason(detail), detail=message,
                           decided=reason == "decided")

    # -- the quote for the signed-in owner ---------------------------------------------------

    @http("GET", "/repair-orders/<string:ro_id>/quote", roles=PUBLIC, statuses=(404,),
          summary="The signed-in owner's quote: every round, the waiting one to decide")
    @page
    def my_quote(self, request: Request, ro_id: str) -> Response:
        owner = self.signed_in(request, owner=True)
        found = self._quote_of(owner, ro_id)
        return self._quote_form(request, found, action=self._my_quote_path(ro_id),
                                signed_in=owner, history=found)

    @http("POST", "/repair-orders/<string:ro_id>/quote", roles=PUBLIC,
          statuses=(404, 409, 422),
          summary="The signed-in owner decides the waiting round and signs")
    @page
    def decide_my_quote(self, request: Request, ro_id: str) -> Response:
        values = form(request)
        owner = self.signed_in(request, owner=True)
        found = self._quote_of(owner, ro_id)
        action = self._my_quote_path(ro_id)
        waiting = quote.waiting_round(found)
        if waiting is None:  # decided meanwhile, or nothing sent: the page as it is now
            return self._quote_form(request, found, action=action, signed_in=owner,
                                    history=found, status=409)
        approval = quote.read_approval(values, quote.to_decide(waiting))
        if approval.body is None:
            return self._quote_form(request, found, action=action, signed_in=owner,
                                    history=found, status=422, values=values,
                                    problems=approval.problems)
        try:
            self.portal.backends.workorder.post(f"/repair-orders/{_token(ro_id)}/quote/approval",
                                                approval.body, token=owner.token)
        except ServiceRefused as exc:
            if exc.status not in (409, 422):
                raise
            now = self._quote_of(owner, ro_id)  # as it stands after the refusal
            return self._quote_form(request, now, action=action, signed_in=owner,
                                    history=now, status=exc.status, values=values,
                                    refused=exc)
        return redirect(f"{action}/done?round={waiting.number}")

    @http("GET", "/repair-orders/<string:ro_id>/quote/done", roles=PUBLIC, statuses=(404,),
          summary="What the signed-in owner approved and declined in a round")
    @page
    def my_quote_done(self, request: Request, ro_id: str) -> Response:
        owner = self.signed_in(request, owner=True)
        found = self._quote_of(owner, ro_id)
        number = request.args.get("round", "")
        decided = quote.the_round(found, int(number)) if number.isdigit() else None
        if decided is None or not decided.decided:
            return redirect(self._my_quote_path(ro_id))
        return self._approved(request, found, number=decided.number, signed_in=owner,
                              report=f"/repair-orders/{_token(ro_id)}/inspection")

    def _quote_of(self, owner: SignedIn, ro_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.portal.backends.workorder.get(
            f"/repair-orders/{_token(ro_id)}/quote", token=owner.token)
        return found

    @staticmethod
    def _my_quote_path(ro_id: str) -> str:
        return f"/repair-orders/{_token(ro_id)}/quote"

    # -- what the quote pages share ------------------------------------------------------------

    def _quote_form(self, request: Request, view: dict[str, Any], *, action: str,
                    quote_link: str | None = None, signed_in: SignedIn | None = None,
                    history: dict[str, Any] | None = None, status: int = 200,
                    values: dict[str, str] | None = None,
                    problems: dict[str, str] | None = None,
                    refused: ServiceRefused | None = None) -> Response:
        values = values or {}
        waiting = quote.waiting_round(view)
        lines = quote.to_decide(waiting) if waiting is not None else []
        chosen = quote.read_approval(values, lines).decisions
        approved, declined = quote.totals(lines, chosen)
        if history is None and waiting is not None:
            signed_in, history = self._history(request, view)
        earlier = quote.decided_rounds(history, before=waiting.number if waiting else None) \
            if history else []
        token = quote.report_token(view.get("report_link"))
        findings, report_path = None, self._report_path(view, quote_link)
        if token:
            report = self._report(token)
            if report:
                findings = quote.findings(report.get("items") or [],
                                          f"/inspection-reports/{_token(token)}/photos")
        elif signed_in is not None and view.get("repair_order_id"):
            # The signed-in owner's quote names no report link: their own inspection.
            ro_id = str(view["repair_order_id"])
            inspection = self._own_inspection(signed_in, ro_id)
            if inspection:
                report_path = f"/repair-orders/{_token(ro_id)}/inspection"
                findings = quote.findings(inspection.get("items") or [],
                                          f"{report_path}/photos")
        lang = language_of(request)
        # quote.js: the lines' amounts in cents, and how it words the live total.
        config = {"cents": quote.line_cents(lines),
                  "counted": translate(lang, "quote.total_counted", approved="{approved}",
                                       declined="{declined}", open="{open}")}
        return self.render(
            request, "quote.html", status=status, signed_in=signed_in, view=view,
            waiting=waiting, lines=lines, earlier=earlier, action=action, chosen=chosen,
            approved_total=approved, declined_total=declined,
            undecided=len(lines) - len(chosen),
            signer_name=values.get(quote.SIGNER_FIELD, ""),
            signature_image=values.get(quote.IMAGE_FIELD, "")
            if quote.signature_image(values.get(quote.IMAGE_FIELD, "")) else "",
            problems=problems or {}, refused=refused,
            refused_fields=refused.fields if refused else {},
            findings=findings, report_path=report_path,
            sign_in_path="/sign-in?next="
            + _token(self._my_quote_path(str(view.get("repair_order_id") or ""))),
            decision_field=quote.DECISION_FIELD, qty=quote.quantity_text, config=config)

    def _history(self, request: Request, view: dict[str, Any]
                 ) -> tuple[SignedIn | None, dict[str, Any] | None]:
        """The signed-in owner, and every round of the quote (a link shows its own round
        only): the earlier rounds are shown decided above it. Nothing when not signed in, or
        when workorder does not show the quote to this session."""
        try:
            visitor = self.visitor(request)
        except (ServiceRefused, Unreachable, Unauthorized):
            return None, None
        if visitor is None or not visitor.is_owner or not view.get("repair_order_id"):
            return None, None
        try:
            return visitor, self._quote_of(visitor, str(view["repair_order_id"]))
        except (ServiceRefused, Unreachable):
            return visitor, None

    def _own_inspection(self, owner: SignedIn, ro_id: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.portal.backends.workorder.get(
                f"/repair-orders/{_token(ro_id)}/inspection", token=owner.token)
        except (ServiceRefused, Unreachable):
            return None  # none yet: the quote alone
        return found if found.get("submitted_at") else None

    def _report(self, token: str) -> dict[str, Any] | None:
        """The inspection behind the quote, its findings shown beside the lines; a quote page
        still opens when the report does not (expired, or workorder slow to answer)."""
        try:
            found: dict[str, Any] = self.portal.backends.workorder.get(
                f"/inspection-reports/{_token(token)}")
            return found
        except (ServiceRefused, Unreachable):
            return None

    @staticmethod
    def _report_path(view: dict[str, Any], quote_link: str | None = None) -> str | None:
        token = quote.report_token(view.get("report_link"))
        if token is None:
            return None
        path = f"/inspection-reports/{_token(token)}"
        return f"{path}?{urlencode({'quote': quote_link})}" if quote_link else path

    def _approved(self, request: Request, decided: dict[str, Any], *,
                  number: int | None = None, signed_in: SignedIn | None = None,
                  report: str | None = None) -> Response:
        round_ = quote.the_round(decided, number)
        if round_ is None:  # workorder answered without the round: the quote as it stands
            raise ServiceRefused(502, "BAD_GATEWAY", "workorder did not answer with the round")
        return self.render(request, "quote_done.html", signed_in=signed_in, view=decided,
                           round=round_, outcome=quote.outcome(round_), report_path=report,
                           qty=quote.quantity_text)

    # -- the inspection report (环检报告) ------------------------------------------------------

    @http("GET", "/inspection-reports/<string:token>", roles=PUBLIC, statuses=(404, 410),
          summary="The owner's inspection report from its link: every item worst first, "
                  "with notes and photos")
    @page
    def inspection_report(self, request: Request, token: str) -> Response:
        try:
            report = self.portal.backends.workorder.get(f"/inspection-reports/{_token(token)}")
        except ServiceRefused as exc:
            if exc.status not in (403, 404):
                raise
            status, reason = quote.report_closed(exc.status, exc.detail)
            return self.render(request, "inspection_closed.html", status=status,
                               reason=reason, detail=exc.message)
        # Back to the quote the owner came from (a path of the portal's own only).
        back = request.args.get("quote", "")
        quote_path = back if back.startswith("/quote-links/") and "//" not in back else None
        return self._report_page(request, report,
                                 photos=f"/inspection-reports/{_token(token)}/photos",
                                 quote_path=quote_path)

    @http("GET", "/inspection-reports/<string:token>/photos/<string:content_hash>",
          roles=PUBLIC, statuses=(404,), summary="A photo of the report, from workorder")
    def inspection_report_photo(self, request: Request, token: str, content_hash: str
                                ) -> Response:
        query = urlencode({"token": token})
        return self._photo(f"/photos/{_token(content_hash)}?{query}", None)

    @http("GET", "/inspections/<string:inspection_id>", roles=PUBLIC, statuses=(404,),
          summary="The inspection report InspectionUploaded names, for the signed-in owner")
    @page
    def inspection_page(self, request: Request, inspection_id: str) -> Response:
        visitor = self.signed_in(request)
        ro_id = self._inspected(inspection_id)
        inspection = self.portal.backends.workorder.get(
            f"/repair-orders/{_token(ro_id)}/inspection", token=visitor.token)
        if inspection.get("id") != inspection_id or not inspection.get("submitted_at"):
            return self._unknown_inspection(request)
        return self._my_report(request, visitor, ro_id, inspection,
                               photos=f"/inspections/{_token(inspection_id)}/photos")

    @http("GET", "/repair-orders/<string:ro_id>/inspection", roles=PUBLIC, statuses=(404,),
          summary="The signed-in owner's inspection report of a repair order")
    @page
    def my_inspection(self, request: Request, ro_id: str) -> Response:
        visitor = self.signed_in(request)
        inspection = self.portal.backends.workorder.get(
            f"/repair-orders/{_token(ro_id)}/inspection", token=visitor.token)
        if not inspection.get("submitted_at"):
            return self._unknown_inspection(request)
        return self._my_report(request, visitor, ro_id, inspection,
                               photos=f"/repair-orders/{_token(ro_id)}/inspection/photos")

    @http("GET", "/inspections/<string:inspection_id>/photos/<string:content_hash>",
          roles=PUBLIC, statuses=(404,), summary="A photo of the signed-in owner's report")
    def inspection_photo(self, request: Request, inspection_id: str, content_hash: str
                         ) -> Response:
        try:
            ro_id = self._inspected(inspection_id)
        except ServiceRefused:
            return self._no_photo(404)
        return self._my_photo(request, ro_id, content_hash)

    @http("GET", "/repair-orders/<string:ro_id>/inspection/photos/<string:content_hash>",
          roles=PUBLIC, statuses=(404,), summary="A photo of the signed-in owner's report")
    def my_inspection_photo(self, request: Request, ro_id: str, content_hash: str
                            ) -> Response:
        return self._my_photo(request, ro_id, content_hash)

    def _my_photo(self, request: Request, ro_id: str, content_hash: str) -> Response:
        try:
            visitor = self.signed_in(request)
        except Unauthorized:
            return self._no_photo(401)
        return self._photo(f"/repair-orders/{_token(ro_id)}/photos/{_token(content_hash)}",
                           visitor.token)

    @staticmethod
    def _inspected(inspection_id: str) -> str:
        ro_id = quote.repair_order_of_inspection(inspection_id)
        if ro_id is None:
            raise ServiceRefused(404, "NOT_FOUND", "no such inspection")
        return ro_id

    def _unknown_inspection(self, request: Request) -> Response:
        return self.render(request, "inspection_closed.html", status=404,
                           reason="inspection.closed_invalid", detail="")

    def _my_report(self, request: Request, visitor: SignedIn, ro_id: str,
                   inspection: dict[str, Any], *, photos: str) -> Response:
        """The report from the repair order (the owner's token), with its car, and the quote
        when a round waits for the owner."""
        order = self.portal.backends.workorder.get(f"/repair-orders/{_token(ro_id)}",
                                                   token=visitor.token)
        report = {"plate": order.get("plate", ""), "model": order.get("model"),
                  "inspected_at": inspection.get("submitted_at"),
                  "items": inspection.get("items") or [], "expires_at": None}
        quote_path = None
        try:
            if quote.waiting_round(self._quote_of(visitor, ro_id)) is not None:
                quote_path = self._my_quote_path(ro_id)
        except ServiceRefused:
            pass  # a staff session, or no quote yet: the report alone
        return self._report_page(request, report, photos=photos, quote_path=quote_path,
                                 signed_in=visitor)

    def _report_page(self, request: Request, report: dict[str, Any], *, photos: str,
                     quote_path: str | None, signed_in: SignedIn | None = None) -> Response:
        found = quote.findings(report.get("items") or [], photos)
        return self.render(request, "inspection.html", signed_in=signed_in, report=report,
                           findings=found, quote_path=quote_path)

    def _photo(self, path: str, token: str | None) -> Response:
        try:
            photo = self.portal.backends.workorder.photo(path, token=token)
        except ServiceRefused as exc:
            return self._no_photo(404 if exc.status in (403, 404) else exc.status)
        except Unreachable:
            return self._no_photo(503)
        if not quote.passes_photo(photo.content_type):  # only a picture leaves the portal
            return self._no_photo(404)
        response = self.portal.pages.protect(
            Response(photo.body, content_type=photo.content_type.split(";")[0]))
        # Unlike a page, a photo may be kept a while: its address names it by its hash.
        response.headers["Cache-Control"] = PHOTO_CACHE
        if photo.etag:
            response.headers["ETag"] = photo.etag
        return response

    def _no_photo(self, status: int) -> Response:
        return self.portal.pages.protect(Response("", status=status))
