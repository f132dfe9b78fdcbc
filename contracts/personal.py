"""Which fields of each event's `data` hold personal data, and the partner view without them.

Personal, for everything that leaves the platform:

1. who the customer is, or how to reach them: name, phone, address; the licence plate
   (registered to its keeper and read by every camera); the customer ids (`customer_id` is
   derived from the phone number, `contracts.customer`, so whoever has a number computes it,
   and enumerating numbers reverses it: a pseudonym, which is still personal data), the site
   aliases of a customer and whoever signed; the invoice number (the tax office's check of a
   fapiao shows its buyer);
2. who the staff are: advisor, technician, inspector and clerk ids. Employees are data
   subjects too, and no partner needs another company's staff codes;
3. credentials that act as the customer: a survey's link token, a quote's decision link;
4. free text people write about a case: the customer's concerns, notes, comments, typed
   reasons. A description may say "must not contain personal data"; nothing enforces that,
   so the text is treated as if it did.

Not personal: the platform's record ids (appointment, repair order, quote, reminder, survey),
which mean nothing outside it; the VIN, model and mileage, which describe the vehicle and not
its keeper (a workshop needs the VIN for parts, recalls and warranty, and once names, phones,
plates and customer ids are gone nothing in the event ties it to a person); names of work and
goods (quote line descriptions, checklist items, part names, campaign titles), typed or not,
which say what was done and not to whom; amounts, quantities, codes, statuses and times.

Paths: ``a.b`` is member ``b`` of the object ``a``; ``a[].b`` is member ``b`` of each object
in the array ``a``; an array of strings is one field (``aliases``). A personal path may name a
whole object: everything under it is personal, fields added to it later included. The
not-personal table lists leaves only, so a new field is never taken for not personal.

:func:`redact` keeps what the not-personal table lists and nothing else: a field nobody has
classified (added to a schema after this version of the package) is dropped, never
forwarded. The result validates against the partner view (:func:`partner_view`,
`partner/<Name>.v<N>.json`): the schema with the personal fields removed, so they are
forbidden there, not merely optional, and every rule that mentions one is dropped.

Standard library only: the partners service and the partner wheel both use it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import ContractViolation

# Items of a quote line (QuoteIssued.lines, QuoteApproved.approved_lines / declined_lines).
_QUOTE_LINE = ("line_id", "kind", "description", "operation_code", "flat_rate_hours",
               "part_number", "quantity", "unit_price", "amount", "pay_type")


def _paths(*groups: str | Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for group in groups:
        out.update(group.split() if isinstance(group, str) else group)
    return frozenset(out)


def _under(prefix: str, names: Iterable[str]) -> list[str]:
    return [f"{prefix}.{name}" for name in names]


PERSONAL: dict[str, frozenset[str]] = {
    "aftersales.AppointmentBooked.v1": _paths("customer vehicle.plate pickup_address advisor_id"),
    "aftersales.AppointmentRescheduled.v1": _paths("customer_id advisor_id reason"),
    "aftersales.AppointmentCancelled.v1": _paths("customer_id note"),
    "aftersales.AppointmentNoShow.v1": _paths("customer_id"),
    "aftersales.AppointmentCheckedIn.v1": _paths("customer_id advisor_id"),
    "aftersales.AppointmentConfirmed.v1": _paths("customer_id advisor_id"),
    "aftersales.RepairOrderOpened.v1": _paths(
        "customer_id plate concerns[].description advisor_id"),
    "aftersales.InspectionUploaded.v1": _paths("items[].notes inspected_by"),
    "aftersales.QuoteIssued.v1": _paths("customer_id issued_by quote_url"),
    "aftersales.QuoteApproved.v1": _paths("customer_id signed_by"),
    "aftersales.QualityCheckCompleted.v1": _paths("reason checked_by"),
    "aftersales.VehicleDelivered.v1": _paths("customer_id invoice_number"),
    "aftersales.PartReserved.v1": _paths(),
    "aftersales.PartIssued.v1": _paths("issued_by"),
    "aftersales.StockLow.v1": _paths(),
    "aftersales.PartReleased.v1": _paths("released_by"),
    "aftersales.PartReturned.v1": _paths("note returned_by"),
    "aftersales.StockTransferred.v1": _paths("note transferred_by"),
    "aftersales.ReminderDue.v1": _paths("customer_id"),
    "aftersales.SurveyAnswered.v1": _paths("customer_id comment"),
    "aftersales.SurveyRequested.v1": _paths("customer_id link_token"),
    "aftersales.ConsentChanged.v1": _paths("customer_id aliases"),
    "aftersales.RecallCampaignPublished.v1": _paths(),
    "aftersales.ConsentExpressed.v1": _paths("customer_id"),
    # A partner is a company, its endpoint a company's system: nothing here is about a person.
    "aftersales.PartnerEndpointDisabled.v1": _paths(),
    # recall completion: the car, the campaign and the dealer; no person.
    "aftersales.RecallCompleted.v1": _paths(),
}

NOT_PERSONAL: dict[str, frozenset[str]] = {
    "aftersales.AppointmentBooked.v1": _paths(
        "appointment_id dealer_code status vehicle.vin vehicle.model service_type slot_start "
        "slot_end channel loaner_requested customer_waiting reminder_id lead_id booked_at"),
    "aftersales.AppointmentRescheduled.v1": _paths(
        "appointment_id status previous_slot_start previous_slot_end slot_start slot_end "
        "initiated_by channel rescheduled_at"),
    "aftersales.AppointmentCancelled.v1": _paths(
        "appointment_id reason cancelled_by slot_start cancelled_at"),
    "aftersales.AppointmentNoShow.v1": _paths("appointment_id slot_start slot_end recorded_at"),
    "aftersales.AppointmentCheckedIn.v1": _paths("appointment_id slot_start checked_in_at"),
    "aftersales.AppointmentConfirmed.v1": _paths(
        "appointment_id slot_start slot_end confirmed_by confirmed_at"),
    "aftersales.RepairOrderOpened.v1": _paths(
        "repair_order_id appointment_id vin model mileage_km fuel_level concerns[].code "
        "opened_at promised_at customer_waiting"),
    "aftersales.InspectionUploaded.v1": _paths(
        "repair_order_id inspection_id vin items[].code items[].name items[].status "
        "items[].photos[].sha256 items[].photos[].content_type items[].photos[].size_bytes "
        "inspected_at report_url"),
    "aftersales.QuoteIssued.v1": _paths(
        "repair_order_id quote_id round vin total currency issued_at",
        _under("lines[]", _QUOTE_LINE)),
    "aftersales.QuoteApproved.v1": _paths(
        "repair_order_id quote_id round vin approved_total declined_total currency approved_via "
        "signed_at", _under("approved_lines[]", _QUOTE_LINE),
        _under("declined_lines[]", _QUOTE_LINE)),
    "aftersales.QualityCheckCompleted.v1": _paths(
        "repair_order_id check_id stage passed rework_count line_ids checked_at"),
    "aftersales.VehicleDelivered.v1": _paths(
        "repair_order_id appointment_id vin mileage_km labour_total parts_total sundries_total "
        "discount_total tax_total grand_total totals_by_pay_type.CUSTOMER_PAY "
        "totals_by_pay_type.WARRANTY totals_by_pay_type.INTERNAL currency labour_hours_sold "
        "clocked_hours opened_at promised_at delivered_at delivery_mode "
        "labour_operation_codes"),
    "aftersales.PartReserved.v1": _paths(
        "reservation_id repair_order_id quote_line_id part_number quantity unit reserved_at "
        "expires_at"),
    "aftersales.PartIssued.v1": _paths(
        "issue_id repair_order_id quote_line_id vin part_number part_name quantity unit "
        "batch_number serial_numbers unit_price currency from_stock issued_at"),
    "aftersales.StockLow.v1": _paths(
        "part_number part_name unit available reorder_point on_order suggested_order_quantity "
        "detected_at"),
    "aftersales.PartReleased.v1": _paths(
        "reservation_id repair_order_id quote_line_id part_number quantity unit reason "
        "released_at"),
    "aftersales.PartReturned.v1": _paths(
        "return_id repair_order_id quote_line_id vin part_number part_name quantity unit "
        "batch_number serial_numbers reason returned_at"),
    "aftersales.StockTransferred.v1": _paths(
        "transfer_id part_number part_name quantity unit to_dealer_code lots[].batch_number "
        "lots[].serial_numbers lots[].quantity transferred_at"),
    "aftersales.ReminderDue.v1": _paths(
        "reminder_id reason vin dealer_code due_on due_mileage_km campaign_code "
        "source_repair_order_id raised_at"),
    "aftersales.SurveyAnswered.v1": _paths(
        "survey_id repair_order_id score channel answered_at"),
    "aftersales.SurveyRequested.v1": _paths(
        "survey_id repair_order_id dealer_code vin delivered_at requested_at"),
    "aftersales.ConsentChanged.v1": _paths("purpose channels granted via changed_at"),
    "aftersales.RecallCampaignPublished.v1": _paths(
        "campaign_code kind title starts_on operation_code part parts vins model year_from "
        "year_to published_at"),
    "aftersales.ConsentExpressed.v1": _paths("purpose channels granted via expressed_at"),
    "aftersales.PartnerEndpointDisabled.v1": _paths(
        "partner_id endpoint_id url reason disabled_at"),
    # recall completion
    "aftersales.RecallCompleted.v1": _paths(
        "campaign_code vin dealer_code repair_order_id operation_code delivered_at "
        "completed_at"),
}

# Types whose envelope `subject` (and `correlationid`) is a customer id: redacting `data` does
# not make them shareable, so they have no partner view and are never sent to a partner.
PERSONAL_SUBJECT: frozenset[str] = frozenset({
    "aftersales.ConsentChanged.v1",
    "aftersales.ConsentExpressed.v1",
})


def _known(event_type: str) -> None:
    if not isinstance(event_type, str) or event_type not in NOT_PERSONAL:
        raise ContractViolation({"type": [f"Unknown event type {event_type!r}."]})


def personal_fields(event_type: str) -> frozenset[str]:
    """The JSON paths of ``data`` that hold personal data in events of ``event_type``
    (``customer_id``, ``concerns[].description``...). Raises ContractViolation for an unknown
    type."""
    _known(event_type)
    return PERSONAL[event_type]


def subject_is_personal(event_type: str) -> bool:
    """True when the envelope's subject itself is a customer id: no partner gets the type."""
    _known(event_type)
    return event_type in PERSONAL_SUBJECT


# -- the tree of what is kept -------------------------------------------------------------

# name -> (is an array of objects, the tree below it or None for a leaf)
Tree = dict[str, tuple[bool, "Tree | None"]]


def _tree(paths: Iterable[str]) -> Tree:
    root: Tree = {}
    for path in sorted(paths):
        node = root
        parts = path.split(".")
        for i, part in enumerate(parts):
            many = part.endswith("[]")
            name = part.removesuffix("[]")
            last = i == len(parts) - 1
            if last:
                node[name] = (many, None)
            else:
                child = node.setdefault(name, (many, {}))[1]
                if child is None:
                    raise ValueError(f"{path}: {name} is classified as a leaf too")
                node = child
    return root


_KEPT: dict[str, Tree] = {event_type: _tree(paths) for event_type, paths in NOT_PERSONAL.items()}


def redact(event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``data`` with every personal field removed (never set to null): only
    the fields classified not personal are kept, so an unclassified one goes too. The result
    validates against the type's partner view. ``data`` is not changed."""
    _known(event_type)
    if not isinstance(data, Mapping):
        raise ContractViolation({"data": ["Must be an object."]})
    return _project(data, _KEPT[event_type])


def _project(value: Mapping[str, Any], tree: Tree) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, member in value.items():  # the data's own order, as the producer wrote it
        if name not in tree:
            continue
        many, below = tree[name]
        if below is None:
            out[name] = copy.deepcopy(member)
        elif many and isinstance(member, list):
            out[name] = [_project(item, below) for item in member if isinstance(item, Mapping)]
        elif not many and isinstance(member, Mapping):
            out[name] = _project(member, below)
        # Anything shaped otherwise is not what was classified: dropped, not copied.
    return out


# -- the partner view -----------------------------------------------------------------------


def partner_view(event_type: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """The partner view of an event type's envelope schema (``schemas/<Name>.v<N>.json``):
    its ``data`` without the personal fields (which it forbids), and without the rules that
    mention one (an either-or of plate and VIN, a reason required when a check failed).
    Raises ValueError for a type whose subject is personal: it has no partner view."""
    _known(event_type)
    if event_type in PERSONAL_SUBJECT:
        raise ValueError(f"{event_type}: its subject is a customer id; no partner view")
    view = copy.deepcopy(dict(schema))
    view["$id"] = f"{schema['$id']}:partner"
    view["title"] = f"{schema['title']} (partner view)"
    view["description"] = (
        f"{schema['description']} Partner view: what a partner's webhook receives, the "
        "personal fields of data removed (contracts.personal); they are not allowed here.")
    data = _object_view(schema["properties"]["data"], _KEPT[event_type])
    data["$id"] = f"{schema['properties']['data']['$id']}:partner"
    view["properties"]["data"] = data
    return view


def _object_view(node: Mapping[str, Any], tree: Tree) -> dict[str, Any]:
    out = copy.deepcopy(dict(node))
    properties: dict[str, Any] = {}
    for name, sub in node.get("properties", {}).items():
        if name not in tree:
            continue
        many, below = tree[name]
        if below is None:
            properties[name] = copy.deepcopy(sub)
        elif many:
            properties[name] = {**copy.deepcopy(sub), "items": _object_view(sub["items"], below)}
        else:
            properties[name] = _object_view(sub, below)
    out["properties"] = properties
    removed = set(node.get("properties", {})) - set(properties)
    required = [name for name in node.get("required", ()) if name in properties]
    if required:
        out["required"] = required
    else:
        out.pop("required", None)
    if not removed:
        return out
    # A rule naming a removed field could only be met through it (plate or VIN: a car known by
    # its plate alone) or asks for it (reason when a check failed): the view drops the rule.
    if "allOf" in out:
        kept = [rule for rule in out["allOf"] if not _mentions(rule, removed)]
        if kept:
            out["allOf"] = kept
        else:
            del out["allOf"]
    for key in ("anyOf", "oneOf", "not", "dependentRequired"):
        if key in out and _mentions(out[key], removed):
            del out[key]
    if any(_mentions(out[key], removed) for key in ("if", "then", "else") if key in out):
        for key in ("if", "then", "else"):  # one rule: its condition goes with its consequence
            out.pop(key, None)
    return out


def _mentions(rule: Any, names: set[str]) -> bool:
    if isinstance(rule, Mapping):
        for key, value in rule.items():
            if key == "required" and names & set(value):
                return True
            if key in ("properties", "dependentRequired") and isinstance(value, Mapping):
                if names & set(value):
                    return True
                if key == "dependentRequired" and any(names & set(v) for v in value.values()):
                    return True
            if _mentions(value, names):
                return True
    elif isinstance(rule, list):
        return any(_mentions(item, names) for item in rule)
    return False
