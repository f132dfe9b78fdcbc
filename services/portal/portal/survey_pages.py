"""Headquarters' pages for owners: the follow-up survey and the unsubscribe page."""

from __future__ import annotations

from portal.web import PageGroup


class SurveyPages(PageGroup):
    pass
