"""The workshop board for advisors and the service manager at a dealer site."""

from __future__ import annotations

from portal.web import PageGroup


class WorkshopBoard(PageGroup):
    pass
