"""The owner's invoice and its payment at a dealer site: at the counter, or online through
the payment provider workorder speaks to."""

from __future__ import annotations

from portal.web import PageGroup


class PaymentPages(PageGroup):
    pass
