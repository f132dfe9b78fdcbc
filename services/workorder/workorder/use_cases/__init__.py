"""Workorder's service layer: one use case per thing a person (or another service) does to a
repair order.

A use case takes the unit of work (`workorder.store.WorkorderUnitOfWork`, or a fake one in
tests), reads and writes only through its stores, applies the rules of `workorder.domain`
and announces what happened with `uow.emit`. It never commits (the framework does, once
the entrypoint returns) and knows nothing of HTTP, nameko or SQL; parts' prices come through
the `PartsPrices` port it is handed.

reception   opening, listing, cancelling a repair order; a car's open campaigns
inspection  the multi-point inspection, photos, the owner's report link
quote       quote lines, sending, the owner's approval (signed in or through the quote
            link), additional work
workshop    technicians, jobs, clocking, quality checks
settlement  invoice, payments (at the counter, or online through a payment provider),
            signature, hand-over, closing
board       the workshop board: every car in, what it waits for, technicians' load
arrivals    what booking, crm and parts tell workorder
views       what the use cases answer with
"""

from workorder.use_cases.arrivals import (
    expect_arrival,
    expected_arrivals,
    keep_campaign,
    keep_recall_completion,
    part_issues,
    record_part_issue,
)
from workorder.use_cases.board import workshop_board
from workorder.use_cases.inspection import (
    checklist_templates,
    get_inspection,
    inspection_report,
    inspection_report_link,
    photo,
    record_inspection_item,
    report_photo,
    start_inspection,
    submit_inspection,
    upload_photo,
)
from workorder.use_cases.ports import MediaFiles, OwnerLinks, PartsPrices
from workorder.use_cases.quote import (
    add_quote_lines,
    add_work,
    approve_quote,
    approve_quote_by_link,
    get_quote,
    quote_by_link,
    remove_quote_line,
    send_quote,
)
from workorder.use_cases.reception import (
    cancel_repair_order,
    get_repair_order,
    list_repair_orders,
    open_repair_order,
    vehicle_open_campaigns,
)
from workorder.use_cases.settlement import (
    close_repair_order,
    get_invoice,
    get_online_payment,
    hand_over,
    issue_invoice,
    record_online_payment,
    record_payment,
    sign_invoice,
    start_online_payment,
)
from workorder.use_cases.views import RepairOrderView
from workorder.use_cases.workshop import (
    add_technician,
    assign_job,
    clock_off,
    clock_on,
    inspector_check,
    list_jobs,
    list_technicians,
    self_check,
)

__all__ = [
    "MediaFiles", "OwnerLinks", "PartsPrices", "RepairOrderView", "add_quote_lines",
    "add_technician", "add_work", "approve_quote", "approve_quote_by_link", "assign_job",
    "cancel_repair_order",
    "checklist_templates", "clock_off", "clock_on", "close_repair_order", "expect_arrival",
    "expected_arrivals", "get_inspection", "get_invoice", "get_online_payment", "get_quote",
    "get_repair_order",
    "hand_over", "inspection_report", "inspection_report_link", "inspector_check",
    "issue_invoice", "keep_campaign", "keep_recall_completion", "list_jobs",
    "list_repair_orders", "list_technicians",
    "open_repair_order", "part_issues", "photo", "quote_by_link", "record_inspection_item",
    "record_online_payment", "record_part_issue",
    "record_payment", "remove_quote_line", "report_photo", "self_check", "send_quote",
    "sign_invoice", "start_inspection", "start_online_payment", "submit_inspection",
    "upload_photo", "vehicle_open_campaigns", "workshop_board",
]
