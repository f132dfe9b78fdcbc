"""identity's rules with no I/O: who may create whom where, the back-off after failures, the
owners' codes and their rate limits, refresh-token verdicts, signing keys' lifetimes, partner
secrets and whom the car maker's provider may sign in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chassis.errors import Conflict, Forbidden, InvalidInput
from chassis.identity import Identity, Role
from identity import domain
from identity.domain import (
    Backoff,
    CodePolicy,
    CodeVerdict,
    KeyRecord,
    OneTimeCode,
    PartnerClient,
    Place,
    RefreshToken,
    RefreshVerdict,
    SignInSession,
    Throttle,
)

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
SITE = Place(at_headquarters=False, dealer_code="D001")
HQ = Place(at_headquarters=True, dealer_code="HQ")
MANAGER = Identity("m-1", Role.DEALER_MANAGER, "D001")
OTHER_MANAGER = Identity("m-2", Role.DEALER_MANAGER, "D002")
OPERATOR = Identity("ops-1", Role.OPERATOR, None)
ADVISOR = Identity("sa-1", Role.ADVISOR, "D001")


# -- who may create whom -----------------------------------------------------------------------

@pytest.mark.parametrize(("place", "role", "dealer", "kept"), [
    (SITE, Role.ADVISOR, "D001", True),
    (SITE, Role.DEALER_MANAGER, "D001", True),
    (SITE, Role.ADVISOR, "D002", False),          # another dealer's staff
    (SITE, Role.OPERATOR, None, False),           # a headquarters role
    (SITE, Role.OEM_ANALYST, None, False),
    (SITE, Role.OWNER, None, False),              # owners sign in with a code
    (HQ, Role.OEM_ANALYST, None, True),
    (HQ, Role.OPERATOR, None, True),
    (HQ, Role.INVITATION_AGENT, None, True),
    (HQ, Role.DEALER_MANAGER, "D002", True),      # headquarters grants dealer staff its view
    (HQ, Role.ADVISOR, None, False),              # dealer staff name their dealer
    (HQ, Role.OEM_ANALYST, "D001", False),        # headquarters roles name none
    (HQ, Role.PARTNER, None, False),              # partners are clients, not accounts
    (HQ, Role.OWNER, None, False),
    (HQ, Role.ADVISOR, "d001", False),            # not a dealer code
])
def test_which_accounts_a_stack_keeps(place, role, dealer, kept):
    assert (domain.account_refusal(place, role, dealer) is None) is kept


def test_a_sites_manager_manages_their_own_dealers_staff():
    domain.check_may_manage(MANAGER, SITE, Role.TECHNICIAN, "D001")
    domain.check_may_manage(MANAGER, SITE, Role.DEALER_MANAGER, "D001")
    for actor in (OTHER_MANAGER, ADVISOR, OPERATOR):  # headquarters' operator: not at a site
        with pytest.raises(Forbidden):
            domain.check_may_manage(actor, SITE, Role.TECHNICIAN, "D001")


def test_a_site_refuses_headquarters_roles_and_another_dealers_staff_whoever_asks():
    with pytest.raises(Forbidden, match="headquarters'"):
        domain.check_may_manage(MANAGER, SITE, Role.OPERATOR, None)
    with pytest.raises(Forbidden, match="D002"):
        domain.check_may_manage(MANAGER, SITE, Role.ADVISOR, "D002")


def test_headquarters_operators_manage_headquarters_accounts():
    domain.check_may_manage(OPERATOR, HQ, Role.OEM_ANALYST, None)
    domain.check_may_manage(OPERATOR, HQ, Role.DEALER_MANAGER, "D001")
    with pytest.raises(Forbidden):
        domain.check_may_manage(MANAGER, HQ, Role.ADVISOR, "D001")
    with pytest.raises(Forbidden):
        domain.check_may_manage(OPERATOR, HQ, Role.PARTNER, None)


def test_who_reads_the_accounts_and_the_audit_log():
    domain.check_may_read(MANAGER, SITE)
    domain.check_may_read(OPERATOR, SITE)
    domain.check_may_read(OPERATOR, HQ)
    for actor, place in ((OTHER_MANAGER, SITE), (ADVISOR, SITE), (MANAGER, HQ)):
        with pytest.raises(Forbidden):
            domain.check_may_read(actor, place)


def test_a_new_accounts_name_and_password():
    domain.check_new_account("wang.li", "a long enough password")
    for name, password, field in (("WL", "a long enough password", "username"),
                                  ("wang li", "a long enough password", "username"),
                                  ("wang.li", "short", "password"),
                                  ("wang.li.1234", "Wang.Li.1234", "password"),
                                  ("wang.li", "x" * 257, "password")):
        with pytest.raises(InvalidInput) as refused:
            domain.check_new_account(name, password)
        assert field in refused.value.detail["fields"]
    assert domain.normal_username("  Wang.Li ") == "wang.li"


def test_nobody_deactivates_themselves_or_twice():
    with pytest.raises(Conflict):
        domain.check_may_deactivate(MANAGER, "m-1", True)
    with pytest.raises(Conflict):
        domain.check_may_deactivate(MANAGER, "sa-1", False)
    domain.check_may_deactivate(MANAGER, "sa-1", True)


# -- back-off ----------------------------------------------------------------------------------

POLICY = Backoff(threshold=5, first_lock=timedelta(seconds=30), multiplier=2,
                 longest_lock=timedelta(minutes=4), forget_after=timedelta(minutes=15))


NEVER_FAILED = Throttle()


def fail(times: int, throttle: Throttle = NEVER_FAILED, *, step: timedelta = timedelta(0),
         start: datetime = NOW) -> tuple[Throttle, datetime]:
    at = start
    for _ in range(times):
        throttle = throttle.failed(POLICY, at)
        at += step
    return throttle, at - step


def test_five_failures_lock_for_thirty_seconds():
    four, at = fail(4)
    assert four.retry_after(at) is None
    five, at = fail(1, four, start=at)
    assert five.retry_after(at) == 30
    assert five.retry_after(at + timedelta(seconds=30)) is None


def test_each_failure_after_the_lock_doubles_it_up_to_the_longest():
    throttle, at = fail(5)
    locks = []
    for _ in range(5):
        at = throttle.locked_until + timedelta(seconds=1)  # tries again once it opens
        throttle = throttle.failed(POLICY, at)
        locks.append(throttle.retry_after(at))
    assert locks == [60, 120, 240, 240, 240]


def test_failures_are_forgotten_after_a_quiet_spell():
    four, at = fail(4)
    later = at + timedelta(minutes=16)
    assert four.failed(POLICY, later).failures == 1
    assert four.failed(POLICY, later).retry_after(later) is None


def test_a_long_lock_is_not_forgotten_while_it_lasts():
    throttle, at = fail(5)
    throttle = Throttle(throttle.failures, at + timedelta(hours=1), at)
    again = throttle.failed(POLICY, at + timedelta(minutes=30))
    assert again.failures == 6


# -- owners' codes -----------------------------------------------------------------------------

CODES = CodePolicy()


def code(**changes) -> OneTimeCode:
    values = {"id": "c-1", "phone_key": "k", "code_hash": "h", "created_at": NOW,
              "expires_at": NOW + timedelta(minutes=5)}
    return OneTimeCode(**{**values, **changes})


def test_a_right_code_is_accepted_once():
    verdict, after = domain.try_code(code(), matches=True, policy=CODES, now=NOW)
    assert verdict is CodeVerdict.ACCEPTED and after.consumed_at == NOW
    assert domain.try_code(after, matches=True, policy=CODES, now=NOW)[0] is CodeVerdict.NO_CODE


def test_five_wrong_codes_burn_it():
    current = code()
    verdicts = []
    for _ in range(5):
        verdict, current = domain.try_code(current, matches=False, policy=CODES, now=NOW)
        verdicts.append(verdict)
    assert verdicts == [CodeVerdict.WRONG] * 4 + [CodeVerdict.EXHAUSTED]
    assert domain.try_code(current, matches=True, policy=CODES, now=NOW)[0] is \
        CodeVerdict.NO_CODE  # even the right one, now


def test_a_code_expires_after_five_minutes():
    assert domain.try_code(code(), matches=True, policy=CODES,
                           now=NOW + timedelta(minutes=5))[0] is CodeVerdict.EXPIRED
    assert domain.try_code(None, matches=False, policy=CODES, now=NOW)[0] is CodeVerdict.NO_CODE


def test_codes_to_one_phone_wait_a_minute_and_five_an_hour():
    assert domain.send_wait(CODES, [], [], NOW) is None
    assert domain.send_wait(CODES, [NOW - timedelta(seconds=20)], [], NOW) == 40
    five = [NOW - timedelta(minutes=m) for m in (50, 40, 30, 20, 10)]
    assert domain.send_wait(CODES, five, [], NOW) == 10 * 60  # the oldest leaves the hour
    assert domain.send_wait(CODES, five[1:], [], NOW) is None
    assert domain.send_wait(CODES, [NOW - timedelta(minutes=61)] * 9, [], NOW) is None


def test_one_address_gets_twenty_codes_an_hour_whatever_the_phones():
    twenty = [NOW - timedelta(minutes=59, seconds=30)] + [NOW - timedelta(minutes=1)] * 19
    assert domain.send_wait(CODES, [], twenty, NOW) == 30
    assert domain.send_wait(CODES, [], twenty[1:], NOW) is None


def test_the_audit_log_keeps_a_masked_phone():
    assert domain.masked_phone("13812345678") == "138****5678"
    assert domain.masked_phone("+8613812345678") == "861****5678"


# -- refresh tokens ----------------------------------------------------------------------------

def session(**changes) -> SignInSession:
    values = {"id": "s-1", "subject": "u-1", "role": Role.ADVISOR, "dealer_code": "D001",
              "method": "password", "created_at": NOW, "expires_at": NOW + timedelta(hours=12)}
    return SignInSession(**{**values, **changes})


def test_refresh_verdicts():
    fresh = RefreshToken("h", "s-1", NOW)
    assert domain.refresh_verdict(fresh, session(), NOW) is RefreshVerdict.ROTATE
    assert domain.refresh_verdict(RefreshToken("h", "s-1", NOW, used_at=NOW), session(),
                                  NOW) is RefreshVerdict.REUSED
    assert domain.refresh_verdict(fresh, session(revoked_at=NOW), NOW) is RefreshVerdict.REVOKED
    assert domain.refresh_verdict(fresh, session(), NOW + timedelta(hours=12)) is \
        RefreshVerdict.EXPIRED
    assert domain.refresh_verdict(None, None, NOW) is RefreshVerdict.UNKNOWN


def test_reuse_wins_over_every_other_verdict():
    # A spent token coming back means someone copied it: the family goes, even if revoked.
    used = RefreshToken("h", "s-1", NOW, used_at=NOW)
    assert domain.refresh_verdict(used, session(revoked_at=NOW), NOW) is RefreshVerdict.REUSED


# -- signing keys ------------------------------------------------------------------------------

LONGEST = timedelta(minutes=10)


def test_the_current_key_the_next_and_the_previous_are_published():
    previous = KeyRecord("a", NOW - timedelta(days=30), NOW - timedelta(days=30),
                         rotated_out_at=NOW - timedelta(minutes=1))
    current = KeyRecord("b", NOW - timedelta(days=29), NOW - timedelta(minutes=1))
    upcoming = KeyRecord("c", NOW - timedelta(minutes=1))
    keys = [previous, current, upcoming]
    assert domain.current_key(keys) == current
    assert domain.next_key(keys) == upcoming
    assert [k.kid for k in domain.published_keys(keys, LONGEST, NOW)] == ["b", "c", "a"]


def test_a_previous_key_leaves_once_its_tokens_have_expired():
    previous = KeyRecord("a", NOW, NOW, rotated_out_at=NOW)
    current = KeyRecord("b", NOW, NOW)
    keys = [previous, current]
    just_before = NOW + LONGEST + domain.CLOCK_SKEW - timedelta(seconds=1)
    assert [k.kid for k in domain.published_keys(keys, LONGEST, just_before)] == ["b", "a"]
    after = NOW + LONGEST + domain.CLOCK_SKEW
    assert domain.due_for_retirement(keys, LONGEST, after) == [previous]
    assert [k.kid for k in domain.published_keys(keys, LONGEST, after)] == ["b"]
    retired = KeyRecord("a", NOW, NOW, rotated_out_at=NOW, retired_at=after)
    assert domain.due_for_retirement([retired, current], LONGEST, after) == []


# -- partner secrets ---------------------------------------------------------------------------

def test_a_rotated_partner_secret_overlaps_with_the_old_one():
    client = PartnerClient("ptn_1", "Shop", "old", NOW)
    rotated = domain.rotate_secret(client, "new", timedelta(hours=24), NOW)
    assert domain.accepted_secret_hashes(rotated, NOW) == ["new", "old"]
    assert domain.accepted_secret_hashes(rotated, NOW + timedelta(hours=24)) == ["new"]
    at_once = domain.rotate_secret(client, "new", timedelta(0), NOW)
    assert domain.accepted_secret_hashes(at_once, NOW) == ["new"]


def test_a_deactivated_partner_has_no_secret():
    client = PartnerClient("ptn_1", "Shop", "old", NOW, active=False)
    assert domain.accepted_secret_hashes(client, NOW) == []
    with pytest.raises(Conflict):
        domain.rotate_secret(client, "new", timedelta(hours=1), NOW)


# -- the car maker's provider ------------------------------------------------------------------

@pytest.mark.parametrize(("role", "dealer", "expected"), [
    ("oem_analyst", None, (Role.OEM_ANALYST, None)),
    ("oem_analyst", "D001", (Role.OEM_ANALYST, None)),  # the dealer claim means nothing
    ("dealer_manager", "D001", (Role.DEALER_MANAGER, "D001")),
    ("advisor", None, None),           # dealer staff must name their dealer
    ("owner", None, None),
    ("partner", None, None),
    ("root", None, None),
    (None, None, None),
])
def test_whom_the_provider_may_sign_in(role, dealer, expected):
    who, refusal = domain.delegated_identity(HQ, subject="abc", role=role, dealer_code=dealer)
    if expected is None:
        assert who is None and refusal
    else:
        assert (who.role, who.dealer_code, who.subject) == (*expected, "oidc:abc")


def test_a_site_delegates_nobody():
    who, refusal = domain.delegated_identity(SITE, subject="abc", role="advisor",
                                             dealer_code="D001")
    assert who is None and "headquarters" in refusal
