"""The portal's entrypoints: the pages people open in a browser, in every stack.

At a dealer site: the owner's pages (book, my car now, the inspection report, the quote to
approve line by line and sign, the invoice and payment) and the workshop board for advisors
and the service manager. At headquarters: the follow-up survey and the unsubscribe page.
Each page calls the stack's services' own APIs with the visitor's token or link grant
(`portal.backends`): the portal holds no business data and no privilege of its own. The
pages are grouped by who uses them (`owner_pages`, `quote_pages`, `payment_pages`,
`board_pages`, `survey_pages`); this module holds the service, its dependencies and the
sign-in pages.
"""

from __future__ import annotations

from nameko.timer import timer
from werkzeug.wrappers import Request, Response

from chassis.db import Database
from chassis.errors import InvalidInput
from chassis.http import PUBLIC, http
from chassis.service import EVERY, PlatformService
from chassis.unit_of_work import UnitOfWorkProvider
from portal import models, use_cases
from portal.backends import ServiceRefused
from portal.board_pages import WorkshopBoard
from portal.domain.sessions import COOKIE
from portal.owner_pages import OwnerPages
from portal.pages import STATIC, redirect
from portal.payment_pages import PaymentPages
from portal.quote_pages import QuotePages
from portal.store import PortalUnitOfWork, portal_resources
from portal.survey_pages import SurveyPages
from portal.web import (
    PageGroup,
    Portal,
    clear_session_cookie,
    form,
    now,
    page,
    safe_next,
    set_session_cookie,
)

HOUSEKEEPING_SECONDS = 300


class PortalService(OwnerPages, QuotePages, PaymentPages, WorkshopBoard, SurveyPages,
                    PageGroup, PlatformService):
    name = "portal"
    stack = EVERY

    db = Database(models.metadata)
    uow = UnitOfWorkProvider(PortalUnitOfWork, resources=portal_resources)
    portal = Portal()

    @http("GET", "/", roles=PUBLIC, summary="The portal's start page")
    @page
    def home(self, request: Request) -> Response:
        visitor = self.visitor(request)
        if visitor is not None and not visitor.is_owner:
            return redirect("/board")
        return self.render(request, "home.html", signed_in=visitor,
                           at_headquarters=self.portal.at_headquarters)

    # -- owners sign in with a code sent by SMS ------------------------------------------------

    @http("GET", "/sign-in", roles=PUBLIC, summary="The owner's sign-in page (phone, code)")
    @page
    def owner_sign_in_page(self, request: Request) -> Response:
        return self.render(request, "sign_in.html", phone=request.args.get("phone", ""),
                           code_sent=False, next=safe_next(request.args.get("next")))

    @http("POST", "/sign-in/code", roles=PUBLIC, summary="Send the owner a sign-in code")
    @page
    def owner_code(self, request: Request) -> Response:
        values = form(request)
        phone, target = values.get("phone", ""), safe_next(values.get("next"))
        use_cases.send_owner_code(self.portal.backends.owner_identity, phone=phone)
        return self.render(request, "sign_in.html", phone=phone, code_sent=True, next=target)

    @http("POST", "/sign-in", roles=PUBLIC, summary="The owner signs in with the code")
    @page
    def owner_sign_in(self, request: Request) -> Response:
        values = form(request)
        try:
            cookie = use_cases.sign_in_owner(
                self.uow, self.portal.backends.owner_identity, phone=values.get("phone", ""),
                code=values.get("code", ""), verify=self.portal.verify,
                session_seconds=self.portal.options.session_seconds, now=now())
        except ServiceRefused as exc:  # a wrong or spent code: try again on the same page
            return self.render(request, "sign_in.html", status=exc.status,
                               phone=values.get("phone", ""), code_sent=True, refused=exc,
                               next=safe_next(values.get("next")))
        return set_session_cookie(redirect(safe_next(values.get("next"))), cookie,
                                  self.portal.options)

    # -- staff sign in with the site's identity --------------------------------------------

    @http("GET", "/staff/sign-in", roles=PUBLIC, summary="Staff sign-in page")
    @page
    def staff_sign_in_page(self, request: Request) -> Response:
        return self.render(request, "staff_sign_in.html", username="",
                           next=safe_next(request.args.get("next") or "/board"))

    @http("POST", "/staff/sign-in", roles=PUBLIC, summary="A member of staff signs in")
    @page
    def staff_sign_in(self, request: Request) -> Response:
        values = form(request)
        if not values.get("username") or not values.get("password"):
            raise InvalidInput("username", "give your user name and password")
        try:
            cookie = use_cases.sign_in_staff(
                self.uow, self.portal.backends.identity, username=values["username"],
                password=values["password"], verify=self.portal.verify,
                session_seconds=self.portal.options.session_seconds, now=now())
        except ServiceRefused as exc:  # a wrong password, a locked account: say so here
            return self.render(request, "staff_sign_in.html", status=exc.status,
                               username=values["username"], refused=exc,
                               next=safe_next(values.get("next") or "/board"))
        return set_session_cookie(redirect(safe_next(values.get("next") or "/board")),
                                  cookie, self.portal.options)

    @http("POST", "/sign-out", roles=PUBLIC, summary="Sign out (here and at the issuer)")
    @page
    def sign_out(self, request: Request) -> Response:
        use_cases.sign_out(self.uow, request.cookies.get(COOKIE), issuer_of=self.portal.issuer)
        return clear_session_cookie(redirect("/"), self.portal.options)

    @http("GET", "/static/<path:path>", roles=PUBLIC, statuses=(404,),
          summary="The pages' own scripts and style sheet (a fixed list of files)")
    def static(self, request: Request, path: str) -> Response:
        return STATIC.response(request, path)

    @timer(interval=HOUSEKEEPING_SECONDS)
    def housekeeping(self) -> None:
        use_cases.housekeeping(self.uow, now=now())
