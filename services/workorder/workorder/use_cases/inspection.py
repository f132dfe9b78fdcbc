"""The multi-point inspection (环检), its photos and the owner's report link."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chassis.errors import NotFound
from chassis.identity import Identity
from contracts import events
from workorder.domain import inspection as insp
from workorder.domain import published
from workorder.domain.quote import quote_id
from workorder.domain.stages import WORKING_STAGES, Action, Stage, advance, require_in
from workorder.use_cases.views import (
    Row,
    announce,
    inspection_view,
    photo_file,
    repair_order,
    staff_photo_url,
)

if TYPE_CHECKING:
    from workorder.store import WorkorderUnitOfWork

PHOTO_STAGES = frozenset({Stage.VEHICLE_RECEIVED, Stage.EVALUATION, *WORKING_STAGES})


def checklist_templates(uow: WorkorderUnitOfWork) -> dict[str, Any]:
    templates, items = uow.inspections.templates()
    return {"items": [{**t, "items": [{"code": i["item_code"], "name": i["name"],
                                       "position": i["position"]}
                                      for i in items if i["template_code"] == t["code"]]}
                      for t in templates]}


def start_inspection(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str,
                     template_code: str | None, now: datetime) -> dict[str, Any] | None:
    """Start the inspection from a checklist template (the site's default unless named)."""
    ro = repair_order(uow, actor, ro_id, for_update=True)
    to = advance(ro["stage"], Action.START_INSPECTION)
    code, template_items = uow.inspections.checklist(template_code)
    uow.inspections.start(inspection_id=insp.inspection_id(ro_id), ro_id=ro_id,
                          template_code=code, items=template_items, by=actor.subject, at=now)
    uow.repair_orders.set_stage(ro, to, action=Action.START_INSPECTION, actor=actor.subject,
                                at=now)
    return inspection_view(uow, ro, photo_url=staff_photo_url(ro_id))


def record_inspection_item(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str, code: str,
                           result: Mapping[str, Any], now: datetime) -> dict[str, Any] | None:
    """Record one checklist item (GREEN / YELLOW / RED, notes, photos of this repair order);
    an item off the checklist is added with its name."""
    ro = repair_order(uow, actor, ro_id, for_update=True)
    require_in(ro["stage"], {Stage.EVALUATION}, "recording inspection results")
    inspection = uow.inspections.of(ro_id)
    assert inspection is not None  # EVALUATION begins with starting it
    items = {row["code"]: insp.ChecklistItem(row["code"], row["name"], row["position"])
             for row in uow.inspections.items(inspection["id"])}
    photo_list = list(dict.fromkeys(result["photos"]))
    item = insp.record_item(items, code, result.get("name"), photo_list,
                            set(uow.photos.of(ro_id)))
    values = {"status": result["status"], "notes": result.get("notes"), "photos": photo_list,
              "recorded_by": actor.subject, "recorded_at": now}
    uow.inspections.record_item(inspection["id"], code, values,
                                new=None if code in items else (item.name, item.position))
    return inspection_view(uow, ro, photo_url=staff_photo_url(ro_id))


def submit_inspection(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str,
                      owner_portal_url: str, link_ttl_seconds: int, now: datetime
                      ) -> dict[str, Any]:
    """Submit the inspection (every item has a result): the owner may see it, the first quote
    round opens, and InspectionUploaded announces it. Answers with the owner's report link."""
    ro = repair_order(uow, actor, ro_id, for_update=True)
    to = advance(ro["stage"], Action.SUBMIT_INSPECTION)
    inspection = uow.inspections.of(ro_id)
    assert inspection is not None  # submitting follows starting it
    items = uow.inspections.items(inspection["id"])
    insp.check_complete({item["code"]: item["status"] for item in items})
    who = actor.subject
    uow.inspections.submit(inspection["id"], by=who, at=now)
    uow.repair_orders.set_stage(ro, to, action=Action.SUBMIT_INSPECTION, actor=who, at=now)
    uow.quotes.open_round(ro_id, 1, quote_id=quote_id(ro_id, 1), by=who, at=now)
    announce(uow, events.InspectionUploaded, published.inspection_uploaded(
        ro, inspection["id"], insp.report_items(items, uow.photos.of(ro_id)), inspected_by=who,
        inspected_at=now, report_url=insp.report_url(owner_portal_url, inspection["id"])),
        ro_id)
    view = inspection_view(uow, uow.repair_orders.get(ro_id), photo_url=staff_photo_url(ro_id))
    assert view is not None
    view["report_link"] = _report_link(uow, ro, inspection["id"], link_ttl_seconds, now)
    return view


def get_inspection(uow: WorkorderUnitOfWork, *, viewer: Identity, ro_id: str
                   ) -> dict[str, Any]:
    view = inspection_view(uow, repair_order(uow, viewer, ro_id),
                           photo_url=staff_photo_url(ro_id))
    if view is None:
        raise NotFound(f"repair order {ro_id} has no inspection yet")
    return view


def inspection_report_link(uow: WorkorderUnitOfWork, *, viewer: Identity, ro_id: str,
                           link_ttl_seconds: int, now: datetime) -> dict[str, Any]:
    """A new signed, expiring link to the submitted inspection's report."""
    ro = repair_order(uow, viewer, ro_id)
    inspection = insp.check_submitted(uow.inspections.of(ro_id))
    return _report_link(uow, ro, inspection["id"], link_ttl_seconds, now)


def inspection_report(uow: WorkorderUnitOfWork, *, token: str) -> dict[str, Any]:
    """The owner's inspection report: the link's token is the permission."""
    grant = uow.links.read_report(token)
    ro = uow.repair_orders.find(grant.repair_order_id)
    inspection = uow.inspections.of(grant.repair_order_id) if ro else None
    insp.check_report_shown(grant, inspection)
    assert ro is not None and inspection is not None
    view = inspection_view(uow, ro, photo_url=lambda sha: f"/photos/{sha}?token={token}")
    assert view is not None
    return {"repair_order_id": ro["id"], "dealer_code": ro["dealer_code"],
            "plate": ro["plate"], "model": ro["model"],
            "inspected_at": inspection["submitted_at"], "items": view["items"],
            "expires_at": datetime.fromtimestamp(grant.expires_at, UTC)}


def _report_link(uow: WorkorderUnitOfWork, ro: Row, inspection_id: str, ttl_seconds: int,
                 now: datetime) -> dict[str, Any]:
    token = uow.links.sign_report(repair_order_id=ro["id"], inspection_id=inspection_id,
                                  ttl_seconds=ttl_seconds, now=now.timestamp())
    return {"url": f"/inspection-reports/{token}",
            "expires_at": (now + timedelta(seconds=ttl_seconds)).isoformat(timespec="seconds")}


# -- photos --------------------------------------------------------------------------------


def upload_photo(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str,
                 content_type: str | None, body: bytes, max_bytes: int, now: datetime
                 ) -> tuple[dict[str, Any], bool]:
    """Keep a photo of the repair order by its content hash; True when it is new."""
    photo = insp.accept_photo(content_type, body, max_bytes=max_bytes)
    ro = repair_order(uow, actor, ro_id, for_update=True)
    require_in(ro["stage"], PHOTO_STAGES, "uploading photos", work_approved=ro["work_approved"])
    created = uow.media.put(photo.sha256, body)
    uow.photos.register(ro_id=ro_id, sha256=photo.sha256, content_type=photo.content_type,
                        size_bytes=photo.size_bytes, by=actor.subject, at=now)
    return {"sha256": photo.sha256, "content_type": photo.content_type,
            "size_bytes": photo.size_bytes, "url": staff_photo_url(ro_id)(photo.sha256)}, created


def photo(uow: WorkorderUnitOfWork, *, viewer: Identity, ro_id: str, sha256: str
          ) -> tuple[bytes, str]:
    repair_order(uow, viewer, ro_id)
    return photo_file(uow, ro_id, sha256)


def report_photo(uow: WorkorderUnitOfWork, *, token: str | None, sha256: str
                 ) -> tuple[bytes, str]:
    """A photo of an inspection report, opened with the report link's token."""
    if not token:
        raise NotFound("photo not found")
    grant = uow.links.read_report(token)
    return photo_file(uow, grant.repair_order_id, sha256)
