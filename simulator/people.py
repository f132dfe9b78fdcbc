"""Who the simulated people are: tokens for each role, and the links owners receive.

`IssuedPeople` takes its tokens from a given issuer (a test's, through `chassis.testing`);
the demo's people sign in at the identity services instead (`simulator.sign_in`).
"""

from __future__ import annotations

from collections.abc import Callable

from chassis.auth import Role
from crm.domain.surveys import link_token

Mint = Callable[[Role, str, "str | None"], str]


class IssuedPeople:
    """People whose tokens a given function mints; survey links signed with crm's secret."""

    def __init__(self, mint: Mint, survey_link_secret: str) -> None:
        self._mint, self._survey_secret = mint, survey_link_secret

    def headers(self, role: Role, subject: str, dealer_code: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._mint(role, subject, dealer_code)}"}

    def introduce_owner(self, phone: str) -> None:
        pass  # the issuer mints for any customer id

    def survey_link_token(self, survey_id: str) -> str:
        return link_token(self._survey_secret, survey_id)


def test_people() -> IssuedPeople:
    """People with tokens from the test issuers, and the development survey link secret."""
    from chassis.config import development_secret
    from chassis.testing import token

    return IssuedPeople(lambda role, subject, dealer: token(role, dealer, subject),
                        development_secret("crm", "survey_link_secret"))


test_people.__test__ = False  # type: ignore[attr-defined]  (a helper, not a test)
