"""Multi-point inspection (环检): checklist items, photos, and the owner's report link."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt

from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound


class ItemStatus(StrEnum):
    GREEN = "GREEN"    # fine
    YELLOW = "YELLOW"  # soon
    RED = "RED"        # urgent


MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTOS_PER_ITEM = 20


def _is_heic(head: bytes) -> bool:
    # ISO base media file: a box size, then "ftyp" and a brand of the HEIF family.
    return head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"hevc", b"hevx",
                                                   b"mif1", b"msf1", b"heim", b"heis"}


# Each accepted type and how its first bytes look: the declared Content-Type must match the
# content, so nothing but pictures is ever stored and served back to owners.
PHOTO_SIGNATURES = {
    "image/jpeg": lambda head: head[:3] == b"\xff\xd8\xff",
    "image/png": lambda head: head[:8] == b"\x89PNG\r\n\x1a\n",
    "image/webp": lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP",
    "image/heic": _is_heic,
}
PHOTO_TYPES = tuple(PHOTO_SIGNATURES)


@dataclass(frozen=True)
class Photo:
    sha256: str
    content_type: str
    size_bytes: int


def accept_photo(content_type: str | None, body: bytes, *, max_bytes: int = MAX_PHOTO_BYTES
                 ) -> Photo:
    """Check an upload and name it by its content hash (the same photo twice is one photo)."""
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared not in PHOTO_SIGNATURES:
        raise InvalidInput("content_type",
                           f"{declared or 'none'} is not accepted; send one of "
                           f"{', '.join(PHOTO_TYPES)}", accepted=list(PHOTO_TYPES))
    check_photo_size(len(body), max_bytes)
    if not PHOTO_SIGNATURES[declared](body[:16]):
        raise InvalidInput("content_type", f"the body is not a {declared} picture")
    return Photo(sha256=hashlib.sha256(body).hexdigest(), content_type=declared,
                 size_bytes=len(body))


def check_photo_size(size: int | None, max_bytes: int = MAX_PHOTO_BYTES) -> None:
    if size is None:
        return
    if size == 0:
        raise InvalidInput("body", "the photo is empty")
    if size > max_bytes:
        raise InvalidInput("size_bytes", f"{size} bytes is over the limit of {max_bytes} bytes",
                           max_bytes=max_bytes)


@dataclass(frozen=True)
class ChecklistItem:
    code: str
    name: str
    position: int


def record_item(items: Mapping[str, ChecklistItem], code: str, name: str | None,
                photos: Iterable[str], known_photos: set[str]) -> ChecklistItem:
    """The checklist item a result is recorded for; a new item needs a name. Photos must be
    ones uploaded for this repair order."""
    unknown = [sha for sha in photos if sha not in known_photos]
    if unknown:
        raise InvalidInput("photos", f"not uploaded for this repair order: {', '.join(unknown)}")
    if code in items:
        return items[code]
    if not name:
        raise InvalidInput("name", f"{code} is not on the checklist: give its name to add it")
    return ChecklistItem(code=code, name=name, position=len(items) + 1)


def check_complete(statuses: Mapping[str, str | None]) -> None:
    """An inspection is submitted only when every item has a result."""
    missing = sorted(code for code, status in statuses.items() if not status)
    if missing:
        raise Conflict(f"{len(missing)} checklist item(s) have no result yet",
                       missing_items=missing)


# -- the owner's report link ---------------------------------------------------------------

REPORT_ISSUER = "aftersales/inspection-report"
REPORT_TTL_SECONDS = 7 * 24 * 3600
_ALGORITHM = "HS256"


def _report_key(secret: str) -> bytes:
    # A key of its own, derived from the site secret: a report link can never pass as a
    # sign-in token, nor the other way round.
    return hmac.new(secret.encode(), b"inspection-report-link", hashlib.sha256).digest()


def report_token(secret: str, *, repair_order_id: str, inspection_id: str,
                 ttl_seconds: int = REPORT_TTL_SECONDS, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims = {"iss": REPORT_ISSUER, "ro": repair_order_id, "ins": inspection_id,
              "iat": issued, "exp": issued + ttl_seconds}
    return jwt.encode(claims, _report_key(secret), algorithm=_ALGORITHM)


@dataclass(frozen=True)
class ReportGrant:
    repair_order_id: str
    inspection_id: str
    expires_at: int


def read_report_token(secret: str, token: str) -> ReportGrant:
    """What a report link grants. An expired link is refused (403) with a word on how to get a
    new one; a tampered or foreign one is NotFound (404), revealing nothing."""
    try:
        claims = jwt.decode(token, _report_key(secret), algorithms=[_ALGORITHM],
                            issuer=REPORT_ISSUER,
                            options={"require": ["exp", "iat", "iss", "ro", "ins"]})
    except jwt.ExpiredSignatureError:
        raise Forbidden("this inspection report link has expired; ask your advisor for a new "
                       "one (链接已过期)", reason="expired") from None
    except jwt.InvalidTokenError:
        raise NotFound("this inspection report link is not valid (链接无效)",
                       reason="invalid") from None
    return ReportGrant(repair_order_id=str(claims["ro"]), inspection_id=str(claims["ins"]),
                       expires_at=int(claims["exp"]))


def report_items(items: Iterable[Mapping[str, Any]], photos: Mapping[str, Mapping[str, Any]]
                 ) -> list[dict[str, Any]]:
    """Items in checklist order with their photos' details (for the event and the report)."""
    out = []
    for item in sorted(items, key=lambda i: i["position"]):
        entry: dict[str, Any] = {
            "code": item["code"], "name": item["name"], "status": item["status"],
            "photos": [{"sha256": sha, "content_type": photos[sha]["content_type"],
                        "size_bytes": photos[sha]["size_bytes"]} for sha in item["photos"]],
        }
        if item.get("notes"):
            entry["notes"] = item["notes"]
        out.append(entry)
    return out
