"""What the owner's inspection report and quote pages show and send. Plain Python.

The quote and the report are workorder's (its quote link view, its inspection report): the
pages show exactly those, and the approval they send is workorder's `ApprovalSchema` — a
decision on every line of the round and a signature (the signer's name, with the drawn
signature as a base64 PNG when the owner drew one). Workorder checks it all again under its
own rules; the checks here only let the page point at what to fix before asking.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

APPROVED, DECLINED = "APPROVED", "DECLINED"
DECISIONS = (APPROVED, DECLINED)
# The form's field of one line's decision, and of the signature.
DECISION_FIELD = "decision-{line_id}"
SIGNER_FIELD = "signer_name"
IMAGE_FIELD = "signature_image"
# workorder's SignatureSchema: a name of 1-100 characters, the image base64 of at most
# 1,500,000 characters (1 MB of PNG).
MAX_SIGNER_NAME = 100
MAX_IMAGE_CHARS = 1_500_000
# What signature.js writes: the canvas as a PNG data URL.
PNG_DATA_URL = "data:image/png;base64,"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")

# Inspection results, worst first: the owner reads what is urgent before what is fine.
SEVERITY = ("RED", "YELLOW", "GREEN")
# The photo types workorder keeps (and so serves back); anything else is not passed on.
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic"})

# Why a quote link opens no quote any more (workorder's `reason`), as the page words it.
CLOSED_REASONS = {"decided": "quote.closed_decided", "superseded": "quote.closed_superseded",
                  "not_waiting": "quote.closed_not_waiting", "expired": "quote.closed_expired",
                  "invalid": "quote.closed_invalid"}


# -- money --------------------------------------------------------------------------------


def amount(value: Any) -> Decimal:
    """A line's amount as workorder writes it ("368.00"); anything else counts as nothing."""
    try:
        found = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal("0.00")
    return found if found.is_finite() else Decimal("0.00")


def cents(value: Any) -> int:
    """The amount in cents, what quote.js adds up (whole numbers: no float rounding)."""
    return int((amount(value) * 100).to_integral_value())


# -- the quote round -------------------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    """One quote round as the page shows it."""

    number: int
    quote_id: str
    lines: list[dict[str, Any]]
    total: Decimal
    sent: bool
    decided: bool
    approved_total: Decimal | None
    declined_total: Decimal | None
    signer_name: str | None

    @property
    def additional(self) -> bool:
        """Round 2 and up: work found during the repair (增修)."""
        return self.number > 1

    @property
    def waiting(self) -> bool:
        return self.sent and not self.decided

    def with_status(self, status: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("status") == status]


def round_of(row: Mapping[str, Any]) -> Round:
    lines = sorted(row.get("lines") or [], key=_line_order)
    return Round(number=int(row.get("round") or 0), quote_id=str(row.get("quote_id") or ""),
                 lines=lines, total=amount(row.get("total")),
                 sent=bool(row.get("sent_at")), decided=bool(row.get("decided_at")),
                 approved_total=_maybe(row.get("approved_total")),
                 declined_total=_maybe(row.get("declined_total")),
                 signer_name=row.get("signer_name"))


def _maybe(value: Any) -> Decimal | None:
    return None if value is None else amount(value)


def _line_order(line: Mapping[str, Any]) -> tuple[int, str]:
    """Lines in the order the advisor added them (L1, L2, ... L10: by number, not text)."""
    line_id = str(line.get("line_id", ""))
    digits = line_id.lstrip("L")
    return (int(digits) if digits.isdigit() else 0, line_id)


def the_round(quote: Mapping[str, Any], number: int | None = None) -> Round | None:
    """The round a page is about: `number`, else the quote's current one (a quote link's view
    holds its own round only)."""
    wanted = quote.get("current_round") if number is None else number
    rows = quote.get("rounds") or []
    row = next((r for r in rows if r.get("round") == wanted), None)
    if row is None and number is None and len(rows) == 1:
        row = rows[0]
    return round_of(row) if row is not None else None


def rounds_of(quote: Mapping[str, Any]) -> list[Round]:
    """Every round of the quote, newest first (the signed-in owner's history)."""
    return sorted((round_of(r) for r in quote.get("rounds") or []),
                  key=lambda r: r.number, reverse=True)


def totals(lines: Iterable[Mapping[str, Any]], decisions: Mapping[str, str]
           ) -> tuple[Decimal, Decimal]:
    """What the chosen decisions add up to: (approved, declined). The page's first total and
    what quote.js recomputes live; workorder's own totals are what the confirmation shows."""
    approved = declined = Decimal("0.00")
    for line in lines:
        chosen = decisions.get(str(line.get("line_id")))
        if chosen == APPROVED:
            approved += amount(line.get("amount"))
        elif chosen == DECLINED:
            declined += amount(line.get("amount"))
    return approved, declined


# -- the owner's answer ------------------------------------------------------------------------


@dataclass(frozen=True)
class Approval:
    """workorder's approval body when the form was good, else the fields to fix (each an i18n
    key), and the decisions read so far (to show the form again as it was)."""

    body: dict[str, Any] | None
    problems: dict[str, str]
    decisions: dict[str, str]


def read_approval(values: Mapping[str, str], lines: Iterable[Mapping[str, Any]], *,
                  approved_via: str | None = None) -> Approval:
    """The posted form as workorder's ApprovalSchema: a decision on every line of the round
    (`decision-<line id>`: APPROVED or DECLINED), the signer's name, and the drawn signature
    (signature.js's PNG data URL) as base64 with its content type, when one was drawn.
    `approved_via` is left out through a quote link (workorder records LINK)."""
    problems: dict[str, str] = {}
    decisions: dict[str, str] = {}
    for line in lines:
        line_id = str(line.get("line_id"))
        chosen = (values.get(DECISION_FIELD.format(line_id=line_id)) or "").strip().upper()
        if chosen in DECISIONS:
            decisions[line_id] = chosen
        else:
            problems[DECISION_FIELD.format(line_id=line_id)] = "quote.problem_decision"
    name = " ".join((values.get(SIGNER_FIELD) or "").split())
    if not name:
        problems[SIGNER_FIELD] = "quote.problem_name"
    elif len(name) > MAX_SIGNER_NAME:
        problems[SIGNER_FIELD] = "quote.problem_name_long"
    image = signature_image(values.get(IMAGE_FIELD) or "")
    if image is False:
        problems[IMAGE_FIELD] = "quote.problem_image"
    if problems:
        return Approval(None, problems, decisions)
    signature: dict[str, Any] = {"name": name}
    if isinstance(image, str):
        signature.update(image=image, image_content_type="image/png")
    body: dict[str, Any] = {
        "decisions": [{"line_id": k, "decision": v} for k, v in decisions.items()],
        "signature": signature}
    if approved_via:
        body["approved_via"] = approved_via
    return Approval(body, {}, decisions)


def signature_image(data_url: str) -> str | None | bool:
    """The base64 of a drawn signature (a PNG data URL), None when none was drawn, False
    when it is not a PNG or too large to send."""
    text = data_url.strip()
    if not text:
        return None
    if not text.startswith(PNG_DATA_URL):
        return False
    encoded = text[len(PNG_DATA_URL):]
    if not encoded or len(encoded) > MAX_IMAGE_CHARS or not _BASE64.fullmatch(encoded):
        return False
    try:
        head = base64.b64decode(encoded[:16], validate=True)
    except (binascii.Error, ValueError):
        return False
    return encoded if head.startswith(PNG_SIGNATURE) else False


# -- the inspection ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    status: str          # GREEN, YELLOW, RED (or "" before a result)
    notes: str
    photos: list[str]    # the photos' addresses on the portal's own origin

    @property
    def colour(self) -> str:
        return self.status.lower() if self.status in SEVERITY else "none"


@dataclass(frozen=True)
class Findings:
    attention: list[Finding]  # red, then yellow: what the owner should read
    fine: list[Finding]       # green

    def count(self, status: str) -> int:
        return sum(1 for f in (*self.attention, *self.fine) if f.status == status)


def findings(items: Iterable[Mapping[str, Any]], photo_url: str) -> Findings:
    """The inspection's items worst first (red, yellow, then green, each in checklist order),
    their photos under the portal's `photo_url` prefix (`<prefix>/<sha256>`): a page shows
    nothing from another origin."""
    found = []
    for item in items:
        status = str(item.get("status") or "")
        shas = [str(p.get("sha256")) for p in item.get("photos") or []
                if p.get("sha256") and p.get("content_type", "image/png") in PHOTO_TYPES]
        found.append(Finding(code=str(item.get("code", "")), name=str(item.get("name", "")),
                             status=status, notes=str(item.get("notes") or ""),
                             photos=[f"{photo_url}/{sha}" for sha in shas]))
    order = {status: index for index, status in enumerate(SEVERITY)}
    ranked = sorted(enumerate(found), key=lambda pair: (order.get(pair[1].status, 0), pair[0]))
    attention = [f for _, f in ranked if f.status != "GREEN"]
    fine = [f for _, f in ranked if f.status == "GREEN"]
    return Findings(attention, fine)


def passes_photo(content_type: str) -> bool:
    """Whether the portal passes on what workorder answered for a photo: a picture only."""
    return content_type.split(";")[0].strip().lower() in PHOTO_TYPES


_INSPECTION_ID = re.compile(r"INS-(?P<ro>[A-Za-z0-9][A-Za-z0-9._:-]{0,60})-[0-9]{1,3}")


def repair_order_of_inspection(inspection_id: str) -> str | None:
    """The repair order an inspection id names. InspectionUploaded's report_url is
    `<portal>/inspections/<inspection id>` (no grant: the owner signs in), and workorder names
    a repair order's inspection `INS-<repair order id>-<n>`; the page checks the inspection it
    then reads is that one."""
    match = _INSPECTION_ID.fullmatch(inspection_id)
    return match.group("ro") if match else None


def closed_reason(detail: Mapping[str, Any]) -> str:
    """The i18n key of why a quote link opens or decides nothing (workorder's `reason`)."""
    return CLOSED_REASONS.get(str(detail.get("reason") or ""), "quote.closed_other")


# -- which page a link opens ------------------------------------------------------------------

# What the page answers for a link that opens no quote, by workorder's reason: a link it never
# signed is unknown (404); one that expired, was replaced by a newer round's or no longer
# waits is gone for good (410); a round already decided is the state of things when the link
# is opened (200, like an answered survey) and a conflict when a form is posted to it (409).
GONE = frozenset({"expired", "superseded", "not_waiting"})


def closed_status(reason: str, *, posting: bool) -> int:
    if reason == "decided":
        return 409 if posting else 200
    return 410 if reason in GONE else 404


def report_closed(status: int, detail: Mapping[str, Any]) -> tuple[int, str]:
    """The status and i18n key of a report link that opens nothing: workorder refuses an
    expired one (403, `expired`) and one it never signed (404)."""
    if status == 403 and detail.get("reason") == "expired":
        return 410, "inspection.closed_expired"
    return 404, "inspection.closed_invalid"


_REPORT_PATH = re.compile(r"/inspection-reports/(?P<token>[^/?#]+)")


def report_token(report_link: Mapping[str, Any] | None) -> str | None:
    """The token of the report link workorder gives with a quote (`/inspection-reports/<token>`,
    a path of its own API, which the portal answers at the same path)."""
    if not report_link:
        return None
    match = _REPORT_PATH.fullmatch(str(report_link.get("url") or ""))
    return match.group("token") if match else None


def waiting_round(quote: Mapping[str, Any]) -> Round | None:
    """The round the owner decides now: the quote's current one, sent and not yet decided."""
    found = the_round(quote)
    return found if found is not None and found.waiting else None


def decided_rounds(quote: Mapping[str, Any], before: int | None = None) -> list[Round]:
    """The rounds already decided (before round `before`, if given), oldest first: shown
    read-only above the round being decided (the first quote, then each additional work)."""
    return [r for r in reversed(rounds_of(quote))
            if r.decided and (before is None or r.number < before)]


def to_decide(round_: Round) -> list[dict[str, Any]]:
    """The lines the owner decides: every proposed line of the round (workorder refuses an
    approval that leaves one out or names another)."""
    proposed = round_.with_status("PROPOSED")
    return proposed if proposed else list(round_.lines)


def line_cents(lines: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """{line id: amount in cents}: what quote.js adds up as the owner decides."""
    return {str(line.get("line_id")): cents(line.get("amount")) for line in lines}


@dataclass(frozen=True)
class Outcome:
    """What a decided round came to, as the confirmation shows it: workorder's own totals
    when it gave them, else the sum of the lines."""

    approved: list[dict[str, Any]]
    declined: list[dict[str, Any]]
    approved_total: Decimal
    declined_total: Decimal
    signer_name: str | None


def outcome(round_: Round) -> Outcome:
    approved, declined = round_.with_status(APPROVED), round_.with_status(DECLINED)
    summed = totals(round_.lines, {str(line.get("line_id")): str(line.get("status"))
                                   for line in round_.lines})
    return Outcome(approved=approved, declined=declined,
                   approved_total=summed[0] if round_.approved_total is None
                   else round_.approved_total,
                   declined_total=summed[1] if round_.declined_total is None
                   else round_.declined_total,
                   signer_name=round_.signer_name)


def quantity_text(value: Any) -> str:
    """A quantity or hours as the owner reads it: "4.5", "1", not workorder's "4.500"."""
    found = amount(value)
    text = f"{found.normalize():f}"
    return text if text not in ("-0",) else "0"
