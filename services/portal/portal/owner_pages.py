"""The owner's own pages at a dealer site, signed in: book a service (reschedule, cancel), my
car now (the timeline of its stages), and the invoice and its payment."""

from __future__ import annotations

from portal.web import PageGroup


class OwnerPages(PageGroup):
    pass
