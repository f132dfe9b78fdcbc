"""What the portal's pages share: the visitor's session, rendering a page or the error a
service answered, refusing forms posted from another origin, and the stack's services.

Every page entrypoint is PUBLIC to the chassis (a page is for anyone's browser); who may see
what is decided by the service each page calls, with the visitor's own token or link grant.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request, Response

from chassis.auth import verifier_for
from chassis.error_statuses import http_status
from chassis.errors import DomainError, InvalidInput, Unauthorized
from chassis.identity import Identity
from portal import use_cases
from portal.backends import Backend, Backends, ServiceRefused, Unreachable
from portal.domain.sessions import COOKIE, SignedIn
from portal.pages import Pages, redirect
from portal.settings import SERVICE_URLS, PortalSettings


def now() -> datetime:
    return datetime.now(UTC)


class Portal(DependencyProvider):
    """Built once per process: the page renderer, the stack's services, the token check."""

    def setup(self) -> None:
        settings = self.container.config["AFTERSALES"]
        self.options = PortalSettings.from_settings(settings)
        payment = urlsplit(self.options.payment_url)
        self.pages = Pages(zone=settings.time_zone,
                           payment_origin=f"{payment.scheme}://{payment.netloc}"
                           if payment.netloc else "",
                           secure_cookies=self.options.secure_cookies,
                           site=settings.dealer_code)
        self.backends = Backends({name.removesuffix("_url"): getattr(self.options, name)
                                  for name in SERVICE_URLS},
                                 timeout=self.options.backend_timeout_seconds)
        self.dealer_code = settings.dealer_code
        self.at_headquarters = settings.at_headquarters
        verifier = verifier_for(settings)
        self.verify: Callable[[str], Identity] = verifier.verify

    def issuer(self, url: str) -> Backend:
        """The identity service a session's tokens refresh at (one of the two configured)."""
        for candidate in (self.backends.identity, self.backends.owner_identity):
            if candidate.base_url == url:
                return candidate
        raise Unauthorized("this session's issuer is not one the portal knows")

    def get_dependency(self, worker_ctx: Any) -> Portal:
        return self


def refused_from_another_origin(request: Request, public_url: str) -> bool:
    """A form posted from a page of another origin (a forged request riding the visitor's
    cookie). Browsers name the origin of every POST; a client without one is no browser."""
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    ours = urlsplit(public_url)
    return origin != f"{ours.scheme}://{ours.netloc}"


def page(method: Callable[..., Response]) -> Callable[..., Response]:
    """A page entrypoint: a form from another origin is refused; a service's refusal or a
    rule's becomes the error page in the visitor's language (a missing or lapsed sign-in
    sends them to sign in and back)."""

    @functools.wraps(method)
    def handler(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        portal: Portal = self.portal
        if request.method == "POST" and refused_from_another_origin(
                request, portal.options.public_url):
            return portal.pages.render(request, "error.html", status=403,
                                       message_key="error.other_origin", detail="")
        try:
            return method(self, request, *args, **kwargs)
        except Unauthorized:
            return redirect(sign_in_url(request, staff=request.path.startswith("/board")))
        except ServiceRefused as exc:
            if exc.status == 401:
                return redirect(sign_in_url(request,
                                            staff=request.path.startswith("/board")))
            return portal.pages.render(request, "error.html", status=exc.status,
                                       message_key="error.refused", detail=exc.message,
                                       fields=exc.fields)
        except Unreachable:
            response = portal.pages.render(request, "error.html", status=503,
                                           message_key="error.unreachable", detail="")
            response.headers["Retry-After"] = "5"
            return response
        except DomainError as exc:
            return portal.pages.render(request, "error.html", status=http_status(exc),
                                       message_key="error.refused", detail=exc.message,
                                       fields=exc.detail.get("fields", {}))

    return handler


def sign_in_url(request: Request, *, staff: bool = False) -> str:
    target = request.full_path.rstrip("?") if request.method == "GET" else "/"
    return f"{'/staff/sign-in' if staff else '/sign-in'}?next={quote(target, safe='')}"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of the portal's own, never another host."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


class PageGroup:
    """A group of the portal's pages (sign-in, the owner's, the board, headquarters'): the
    portal service is made of them, so their entrypoints share its dependencies."""

    portal: Portal
    uow: Any

    def visitor(self, request: Request) -> SignedIn | None:
        """The signed-in person of the request (its session cookie), tokens kept fresh."""
        return use_cases.signed_in(self.uow, request.cookies.get(COOKIE),
                                   issuer_of=self.portal.issuer, now=now())

    def signed_in(self, request: Request, *, staff: bool = False,
                  owner: bool = False) -> SignedIn:
        """The visitor, or Unauthorized (the page sends them to sign in); with `staff`, an
        owner's session is not enough; with `owner`, a member of staff's is not (staff book,
        decide and pay with their own tools)."""
        found = use_cases.require(self.visitor(request))
        if staff and found.is_owner:
            raise Unauthorized("sign in as a member of staff")
        if owner and not found.is_owner:
            raise Unauthorized("sign in as the car's owner")
        return found

    def render(self, request: Request, template: str, *, status: int = 200,
               signed_in: SignedIn | None = None, **context: Any) -> Response:
        return self.portal.pages.render(request, template, status=status,
                                        signed_in=signed_in, **context)


def set_session_cookie(response: Response, value: str, options: PortalSettings) -> Response:
    response.set_cookie(COOKIE, value, max_age=options.session_seconds, httponly=True,
                        samesite="Lax", secure=options.secure_cookies, path="/")
    return response


def clear_session_cookie(response: Response, options: PortalSettings) -> Response:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax",
                           secure=options.secure_cookies)
    return response


def form(request: Request) -> dict[str, str]:
    """A posted form's fields, stripped; NUL refused like every body of the platform."""
    values = {key: value.strip() for key, value in request.form.items()}
    for key, value in values.items():
        if "\x00" in value:
            raise InvalidInput(key, "must not contain the NUL character")
    return values
