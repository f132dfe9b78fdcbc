"""Rendering the portal's pages: Jinja2 templates (autoescaped), the words of each language,
and the headers every page carries.

The pages are mobile first (375 px wide, no horizontal scrolling) and in zh-CN unless the
visitor chose English (`?lang=en`, kept in a cookie). Every word is in the catalogues
`i18n/*.yaml`, one per area of the portal, the same keys in both languages. Nothing is loaded
from another host: scripts and styles are the portal's own (`/static/...`), and the
Content-Security-Policy says so; the only other origin a page may send the browser to is the
payment provider's, and only by a form the owner submits.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from werkzeug.wrappers import Request, Response

from chassis.static import StaticFiles

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LANGUAGE_COOKIE = "lang"
HTML = "text/html; charset=utf-8"

STATIC = StaticFiles("portal", {
    "portal.css": ("text/css; charset=utf-8", 300),
    # Each group of pages has its own style sheet and scripts beside the shared ones.
    "booking.css": ("text/css; charset=utf-8", 300),
    "quote.css": ("text/css; charset=utf-8", 300),
    "board.css": ("text/css; charset=utf-8", 300),
    "payment.css": ("text/css; charset=utf-8", 300),
    "survey.css": ("text/css; charset=utf-8", 300),
    "booking.js": ("text/javascript; charset=utf-8", 300),
    "survey.js": ("text/javascript; charset=utf-8", 300),
    "portal.js": ("text/javascript; charset=utf-8", 300),
    "signature.js": ("text/javascript; charset=utf-8", 300),
    "quote.js": ("text/javascript; charset=utf-8", 300),
    "timeline.js": ("text/javascript; charset=utf-8", 300),
    "board.js": ("text/javascript; charset=utf-8", 300),
    "payment.js": ("text/javascript; charset=utf-8", 300),
})


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """{language: {key: text}} from every `i18n/*.yaml` ({key: {zh-CN: ..., en: ...}})."""
    words: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    folder = resources.files("portal").joinpath("i18n")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        for key, texts in (yaml.safe_load(entry.read_text(encoding="utf-8")) or {}).items():
            if key in words[DEFAULT_LANGUAGE]:
                raise ValueError(f"i18n: {key!r} is defined twice ({entry.name})")
            for lang in LANGUAGES:
                words[lang][key] = str(texts[lang])
    return words


def translate(lang: str, key: str, **params: Any) -> str:
    text = catalogue()[lang][key]
    return text.format(**params) if params else text


def language_of(request: Request) -> str:
    """`?lang=` if given, else the visitor's cookie, else zh-CN."""
    for candidate in (request.args.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def content_security_policy(payment_origin: str = "") -> str:
    forms = "'self'" + (f" {payment_origin}" if payment_origin else "")
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self'; form-action {forms}; base-uri 'none'; "
            "frame-ancestors 'none'")


def money(value: Any) -> str:
    try:
        return f"¥{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


def _local(zone: str):  # type: ignore[no-untyped-def]
    def local_time(value: Any, pattern: str = "%Y-%m-%d %H:%M") -> str:
        if not value:
            return ""
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if moment.tzinfo is not None:
            moment = moment.astimezone(ZoneInfo(zone))
        return moment.strftime(pattern)
    return local_time


@cache
def environment(zone: str) -> Environment:
    env = Environment(loader=PackageLoader("portal", "templates"),
                      autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = money
    env.filters["local_time"] = _local(zone)
    return env


class Pages:
    """Renders one page in the visitor's language with the portal's headers."""

    def __init__(self, *, zone: str, payment_origin: str = "", secure_cookies: bool = False,
                 site: str = "") -> None:
        self.zone = zone
        self.policy = content_security_policy(payment_origin)
        self.secure_cookies = secure_cookies
        self.site = site

    def render(self, request: Request, template: str, *, status: int = 200,
               signed_in: Any = None, **context: Any) -> Response:
        lang = language_of(request)
        page = environment(self.zone).get_template(template)

        def t(key: str, **params: Any) -> Markup | str:
            return translate(lang, key, **params)

        other = LANGUAGES[1 - LANGUAGES.index(lang)]
        body = page.render(t=t, lang=lang, other_lang=other, path=request.path,
                           site=self.site, signed_in=signed_in, **context)
        response = Response(body, status=status, content_type=HTML)
        self.protect(response)
        if request.args.get("lang") in LANGUAGES:
            response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, samesite="Lax",
                                secure=self.secure_cookies, httponly=True)
        return response

    def protect(self, response: Response) -> Response:
        """The headers of every page: its CSP, and no caching, framing or sniffing. The
        referrer stays on the origin: a page's address may hold an owner's link grant, and
        with no referrer at all browsers would send `Origin: null` with the portal's forms."""
        response.headers["Content-Security-Policy"] = self.policy
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        return response


def redirect(location: str, *, status: int = 303) -> Response:
    """After a form: see the result page (303, so a reload does not post again)."""
    response = Response("", status=status, headers={"Location": location})
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
