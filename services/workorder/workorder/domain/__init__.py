"""Workorder rules, plain Python: no nameko, no database, no I/O.

stages      the repair order's STAR stages as a state machine
vin         VIN check digit (ISO 3779)
reception   opening a repair order: customer, vehicle, plate, odometer; who sees it
inspection  checklist results, photos, signatures, what the owner's report link shows
quote       quote lines and the owner's decision on each
workshop    jobs, technicians, clocking, quality checks
pricing     money: line amounts, invoice, VAT, payments
settlement  the invoice issued, paid and signed; what hand-over needs
published   the data of the events workorder publishes
campaigns   which recall and service campaigns cover a car at reception
privileged  what staff do for the owner or off the price, which the audit log records
"""

from workorder.domain.arrivals import expected_arrival

__all__ = ["expected_arrival"]
