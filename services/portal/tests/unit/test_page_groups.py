"""The portal's page groups are mixins of one service class: a private helper of one group
must not silently replace another group's of the same name (the survey page once rendered
the quote's "closed" page and answered 500)."""

from __future__ import annotations

from portal.board_pages import WorkshopBoard
from portal.owner_pages import OwnerPages
from portal.payment_pages import PaymentPages
from portal.quote_pages import QuotePages
from portal.survey_pages import SurveyPages
from portal.web import PageGroup

GROUPS = (OwnerPages, QuotePages, PaymentPages, WorkshopBoard, SurveyPages)


def test_no_two_page_groups_define_a_method_of_the_same_name() -> None:
    seen: dict[str, str] = {}
    clashes = []
    for group in GROUPS:
        for name in vars(group):
            if name.startswith("__") or name in vars(PageGroup):
                continue
            if name in seen:
                clashes.append(f"{name}: {seen[name]} and {group.__name__}")
            seen[name] = group.__name__
    assert clashes == []
