"""The owner's pages opened from the site's messages: the inspection report with its photos,
and the quote, decided line by line and signed (additional work included)."""

from __future__ import annotations

from portal.web import PageGroup


class QuotePages(PageGroup):
    pass
