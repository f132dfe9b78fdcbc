"""Multi-point inspection (环检): checklist items, photos, and the owner's report link."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chassis.errors import Conflict, InvalidInput, NotFound
from contracts.vocabulary import is_owner_link


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


def inspection_id(repair_order_id: str) -> str:
    """A repair order has one multi-point inspection."""
    return f"INS-{repair_order_id}-1"


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

# How long a report link opens the report unless the site says otherwise (7 days). The link
# itself is a signed token: `workorder.links` signs and reads it, outside the rules.
REPORT_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class ReportGrant:
    """What a valid report link lets its holder see: one inspection, until it expires."""

    repair_order_id: str
    inspection_id: str
    expires_at: int


def check_report_shown(grant: ReportGrant, inspection: Mapping[str, Any] | None) -> None:
    """A link shows only the inspection it was made for, once submitted; anything else is
    "not valid" (404), revealing nothing."""
    if inspection is None or inspection["id"] != grant.inspection_id \
            or inspection["submitted_at"] is None:
        raise NotFound("this inspection report link is not valid (链接无效)")


def check_submitted(inspection: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A report link is made for a submitted inspection only (409 before)."""
    if inspection is None or inspection["submitted_at"] is None:
        raise Conflict("the inspection has not been submitted yet")
    return inspection


def report_url(portal: str, inspection_id: str) -> str | None:
    """The owner's report page named in the event (never its signed link, which goes to the
    owner alone); only when the site has an owner portal configured that the contract lets
    reach an owner (https, or plain http on loopback: a demo or test machine)."""
    if not portal:
        return None
    url = f"{portal.rstrip('/')}/inspections/{inspection_id}"
    return url if is_owner_link(url) else None


# -- signatures ------------------------------------------------------------------------------

MAX_SIGNATURE_BYTES = 1024 * 1024


def signature_image(signature: Mapping[str, Any], field: str) -> tuple[Photo, bytes] | None:
    """The signature's image (base64 in the request), checked like a photo; None without one."""
    image = signature.get("image")
    if not image:
        return None
    try:
        body = base64.b64decode(image, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(field, "not valid base64") from None
    photo = accept_photo(signature.get("image_content_type", "image/png"), body,
                         max_bytes=MAX_SIGNATURE_BYTES)
    return photo, body


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
