"""identity's use cases against a fake unit of work: the stores in memory, the real crypto (cheap
argon2), no database, broker or network."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from chassis.auth import TokenVerifier, jwks_of
from chassis.config import Settings
from chassis.errors import Conflict, Forbidden, NotFound, ServiceUnavailable
from chassis.identity import HEADQUARTERS_SCOPE, SITE_SCOPE, Identity, Role, TrustedIssuer
from contracts.customer import customer_id_for
from identity import use_cases
from identity.domain import Audit, DelegatedUser, DelegationFailed, PendingDelegation, Place
from identity.settings import IdentitySettings
from identity.use_cases import Granted, Refusal, Refused
from services.identity.tests.unit.fakes import (
    ISSUER,
    FakeIdentityUnitOfWork,
    RecordingSms,
)

NOW = datetime.now(UTC).replace(microsecond=0)  # tokens are checked against the clock


@pytest.fixture(autouse=True)
def _clock() -> None:
    """Each test's "now" is the wall clock when it starts: a run may reach this file long
    after collecting it, and the tokens it verifies live minutes."""
    global NOW
    NOW = datetime.now(UTC).replace(microsecond=0)
HQ = Place(at_headquarters=True, dealer_code="HQ")
OPTIONS = IdentitySettings(issuer=ISSUER, key_encryption_key="unused")
MANAGER = Identity("m-1", Role.DEALER_MANAGER, "D001")
OPERATOR = Identity("ops-1", Role.OPERATOR, None)
PASSWORD = "correct horse battery"
ADDRESS = "10.0.0.7"


@pytest.fixture
def uow() -> FakeIdentityUnitOfWork:
    return FakeIdentityUnitOfWork()


@pytest.fixture
def hq() -> FakeIdentityUnitOfWork:
    return FakeIdentityUnitOfWork(HQ)


def advisor(uow: FakeIdentityUnitOfWork, name: str = "li.na"):
    return use_cases.create_account(uow, by=MANAGER, username=name, password=PASSWORD,
                                    role=Role.ADVISOR, now=NOW)


def sign_in(uow, name: str = "li.na", password: str = PASSWORD, *, at: datetime | None = None,
            address: str = ADDRESS):
    return use_cases.sign_in(uow, OPTIONS, username=name, password=password, address=address,
                             now=at or NOW)


def verifier(uow: FakeIdentityUnitOfWork, scope: str = SITE_SCOPE) -> TokenVerifier:
    keys = use_cases.published_keys(uow, OPTIONS, now=NOW)
    return TokenVerifier([TrustedIssuer(ISSUER, scope, "D001" if scope == SITE_SCOPE else None,
                                        jwks=json.dumps({"keys": keys}))])


# -- staff sign-in -----------------------------------------------------------------------------

def test_staff_sign_in_gives_a_token_another_service_verifies(uow):
    account = advisor(uow)
    granted = sign_in(uow, "  LI.NA ")
    assert isinstance(granted, Granted) and granted.refresh_token
    assert granted.expires_in == 300
    who = verifier(uow).verify(granted.access_token)
    assert (who.subject, who.role, who.dealer_code) == (account.id, Role.ADVISOR, "D001")
    assert uow.audit_log.kinds() == [Audit.USER_CREATED, Audit.KEY_CREATED, Audit.SIGNED_IN]
    assert granted.refresh_token not in str(uow.sessions.tokens)  # kept hashed


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(uow):
    advisor(uow)
    wrong, nobody = sign_in(uow, password="not the password"), sign_in(uow, "nobody")
    assert wrong == nobody == Refused(Refusal.INVALID_CREDENTIALS, use_cases.WRONG)
    reasons = [e["detail"]["reason"] for e in uow.audit_log.entries
               if e["kind"] == Audit.SIGN_IN_FAILED]
    assert reasons == ["wrong password", "no such user"]  # the operator may know which


def test_five_failures_lock_the_name_with_growing_back_off(uow):
    advisor(uow)
    for _ in range(5):
        assert sign_in(uow, password="wrong").reason is Refusal.INVALID_CREDENTIALS
    locked = sign_in(uow)  # the right password, but locked: not even checked
    assert (locked.reason, locked.retry_after) == (Refusal.LOCKED, 30)
    assert Audit.LOCKED_OUT in uow.audit_log.kinds()
    later = NOW + timedelta(seconds=31)
    assert sign_in(uow, password="wrong", at=later).reason is Refusal.INVALID_CREDENTIALS
    assert sign_in(uow, at=later).retry_after == 60  # the next lock is twice as long
    assert isinstance(sign_in(uow, at=later + timedelta(seconds=61)), Granted)
    assert uow.throttles.get("username", "li.na").failures == 0  # a success forgives


def test_an_unknown_name_locks_like_a_known_one(uow):
    for _ in range(5):
        sign_in(uow, "nobody", "wrong")
    assert sign_in(uow, "nobody", "wrong").reason is Refusal.LOCKED


def test_one_address_trying_many_names_is_locked_too(uow):
    advisor(uow)
    for number in range(20):
        sign_in(uow, f"guess{number}", "wrong")
    refused = sign_in(uow)  # a real user's right password, from that address
    assert refused.reason is Refusal.LOCKED
    assert isinstance(sign_in(uow, address="10.0.0.8"), Granted)


def test_a_deactivated_account_cannot_sign_in(uow):
    account = advisor(uow)
    use_cases.deactivate_account(uow, by=MANAGER, user_id=account.id, now=NOW)
    assert sign_in(uow).reason is Refusal.INVALID_CREDENTIALS


# -- refresh, reuse, sign-out, deactivation ----------------------------------------------------

def refresh(uow, token: str, at: datetime | None = None):
    return use_cases.refresh(uow, OPTIONS, refresh_token=token, address=ADDRESS, now=at or NOW)


def test_a_refresh_token_rotates_on_every_use(uow):
    advisor(uow)
    first = sign_in(uow)
    second = refresh(uow, first.refresh_token, NOW + timedelta(minutes=4))
    assert isinstance(second, Granted) and second.refresh_token != first.refresh_token
    third = refresh(uow, second.refresh_token, NOW + timedelta(minutes=8))
    assert isinstance(third, Granted)
    assert len(uow.sessions.rows) == 1  # one family


def test_a_used_refresh_token_coming_back_revokes_the_whole_family(uow):
    advisor(uow)
    first = sign_in(uow)
    second = refresh(uow, first.refresh_token)  # the rightful client
    stolen = refresh(uow, first.refresh_token)  # a copy of the spent one
    assert stolen.reason is Refusal.REUSED
    assert refresh(uow, second.refresh_token).reason is Refusal.REVOKED  # both lose it
    (family,) = uow.sessions.rows.values()
    assert family.revoked_reason == "refresh_reused"
    assert Audit.REFRESH_REUSED in uow.audit_log.kinds()


def test_sign_out_ends_the_session(uow):
    advisor(uow)
    granted = sign_in(uow)
    assert use_cases.sign_out(uow, refresh_token=granted.refresh_token, address=ADDRESS,
                              now=NOW)
    assert refresh(uow, granted.refresh_token).reason is Refusal.REVOKED
    assert not use_cases.sign_out(uow, refresh_token="never issued", address=ADDRESS, now=NOW)


def test_deactivation_revokes_the_accounts_sessions(uow):
    account = advisor(uow)
    phone, tablet = sign_in(uow), sign_in(uow)
    _, revoked = use_cases.deactivate_account(uow, by=MANAGER, user_id=account.id, now=NOW)
    assert revoked == 2
    assert refresh(uow, phone.refresh_token).reason is Refusal.REVOKED
    assert refresh(uow, tablet.refresh_token).reason is Refusal.REVOKED


def test_a_session_ends_after_its_lifetime(uow):
    advisor(uow)
    granted = sign_in(uow)
    assert refresh(uow, granted.refresh_token, NOW + timedelta(hours=12)).reason is \
        Refusal.EXPIRED


# -- accounts ----------------------------------------------------------------------------------

def test_a_sites_manager_adds_staff_of_their_dealer_only(uow):
    account = advisor(uow)
    assert account.dealer_code == "D001"  # a site's own by default
    with pytest.raises(Forbidden):
        use_cases.create_account(uow, by=MANAGER, username="boss", password=PASSWORD,
                                 role=Role.OPERATOR, now=NOW)
    with pytest.raises(Forbidden):
        use_cases.create_account(uow, by=MANAGER, username="other", password=PASSWORD,
                                 role=Role.ADVISOR, dealer_code="D002", now=NOW)
    with pytest.raises(Forbidden):  # an advisor adds nobody
        use_cases.create_account(uow, by=account.identity, username="friend",
                                 password=PASSWORD, role=Role.ADVISOR, now=NOW)
    with pytest.raises(Conflict):
        advisor(uow)


def test_the_console_creates_a_sites_first_manager_but_nothing_the_site_may_not_keep(uow):
    first = use_cases.create_account(uow, by=None, username="zhang.wei", password=PASSWORD,
                                     role=Role.DEALER_MANAGER, now=NOW)
    assert (first.dealer_code, first.created_by) == ("D001", "console")
    with pytest.raises(Forbidden):
        use_cases.create_account(uow, by=None, username="ops", password=PASSWORD,
                                 role=Role.OPERATOR, now=NOW)


def test_headquarters_keeps_its_roles_and_the_dealer_staff_it_grants(hq):
    analyst = use_cases.create_account(hq, by=OPERATOR, username="oskar", password=PASSWORD,
                                       role=Role.OEM_ANALYST, now=NOW)
    manager = use_cases.create_account(hq, by=OPERATOR, username="d2.manager",
                                       password=PASSWORD, role=Role.DEALER_MANAGER,
                                       dealer_code="D002", now=NOW)
    assert (analyst.dealer_code, manager.dealer_code) == (None, "D002")
    with pytest.raises(Forbidden):  # dealer staff at headquarters name their dealer
        use_cases.create_account(hq, by=OPERATOR, username="nodealer", password=PASSWORD,
                                 role=Role.ADVISOR, now=NOW)
    with pytest.raises(Forbidden):
        use_cases.create_account(hq, by=MANAGER, username="x.y.z", password=PASSWORD,
                                 role=Role.ADVISOR, dealer_code="D001", now=NOW)


def test_a_manager_lists_their_dealers_accounts(uow):
    advisor(uow)
    assert [a.username for a in use_cases.accounts(uow, by=MANAGER)] == ["li.na"]
    with pytest.raises(Forbidden):
        use_cases.accounts(uow, by=Identity("sa", Role.ADVISOR, "D001"))
    with pytest.raises(NotFound):
        use_cases.deactivate_account(uow, by=MANAGER, user_id="nobody", now=NOW)


# -- signing keys ------------------------------------------------------------------------------

def test_keys_rotate_the_previous_one_verifying_until_retired(uow):
    advisor(uow)
    before = sign_in(uow).access_token
    published = {k["kid"] for k in use_cases.published_keys(uow, OPTIONS, now=NOW)}
    assert len(published) == 2  # the current key and the next one, published ahead
    current, previous = use_cases.rotate_keys(uow, OPTIONS, now=NOW)
    assert current in published and previous == jwt.get_unverified_header(before)["kid"]
    after = sign_in(uow).access_token
    assert jwt.get_unverified_header(after)["kid"] == current
    check = verifier(uow)
    assert check.verify(before).subject == check.verify(after).subject
    # Retired on its own once the longest token has expired, with the clock skew on top.
    later = NOW + OPTIONS.longest_token + timedelta(seconds=61)
    assert use_cases.retire_keys(uow, OPTIONS, now=NOW) == []
    assert use_cases.retire_keys(uow, OPTIONS, now=later) == [previous]
    assert uow.keys.rows[previous].sealed is None  # its private half is gone
    with pytest.raises(Exception, match="key its issuer does not publish"):
        verifier(uow).verify(before)


def test_every_previous_key_can_be_retired_at_once(uow):
    use_cases.rotate_keys(uow, OPTIONS, now=NOW)
    use_cases.rotate_keys(uow, OPTIONS, now=NOW + timedelta(seconds=1))
    retired = use_cases.retire_keys(uow, OPTIONS, now=NOW, every_previous=True)
    assert len(retired) == 1
    assert len(use_cases.published_keys(uow, OPTIONS, now=NOW)) == 2  # current and next


def test_a_private_key_is_sealed_at_rest(uow):
    advisor(uow)
    sign_in(uow)
    for key in uow.keys.rows.values():
        assert "PRIVATE KEY" not in key.sealed
        assert "PRIVATE KEY" in uow.crypto.unseal(key.sealed)


# -- owners ------------------------------------------------------------------------------------

PHONE = "13812345678"


def send(hq, sms, *, at: datetime | None = None, address: str = ADDRESS, phone: str = PHONE):
    return use_cases.send_owner_code(hq, OPTIONS, sms, phone=phone, address=address,
                                     now=at or NOW)


def owner_sign_in(hq, code: str, *, at: datetime | None = None, address: str = ADDRESS):
    return use_cases.owner_sign_in(hq, OPTIONS, phone=PHONE, code=code, address=address,
                                   now=at or NOW)


def test_an_owner_signs_in_with_the_code_sent_to_their_phone(hq):
    sms = RecordingSms()
    sent = send(hq, sms)
    assert sent.expires_in == 300
    ((phone, code, minutes),) = sms.sent
    assert (phone, len(code), minutes) == (PHONE, 6, 5)
    assert code not in json.dumps([c.__dict__ for c, _ in hq.codes.rows], default=str)
    granted = owner_sign_in(hq, code)
    claims = jwt.decode(granted.access_token, options={"verify_signature": False})
    assert (claims["sub"], claims["role"], claims["phone"]) == (
        customer_id_for(PHONE), "owner", PHONE)
    assert verifier(hq, HEADQUARTERS_SCOPE).verify(granted.access_token).is_owner
    assert owner_sign_in(hq, code).reason is Refusal.INVALID_CODE  # once only
    # A refreshed owner token still carries the phone it confirmed.
    again = refresh(hq, granted.refresh_token)
    assert jwt.decode(again.access_token, options={"verify_signature": False})["phone"] == PHONE


def test_wrong_codes_burn_the_code_and_count_against_the_address(hq):
    sms = RecordingSms()
    send(hq, sms)
    code = sms.sent[0][1]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert owner_sign_in(hq, wrong).reason is Refusal.INVALID_CODE
    assert owner_sign_in(hq, code).reason is Refusal.INVALID_CODE  # burnt
    assert hq.throttles.get("owner_address", ADDRESS).failures == 6


def test_codes_are_rate_limited_per_phone_and_per_address(hq):
    sms = RecordingSms()
    send(hq, sms)
    again = send(hq, sms, at=NOW + timedelta(seconds=10))
    assert (again.reason, again.retry_after) == (Refusal.RATE_LIMITED, 50)
    for minute in range(1, 5):
        assert not isinstance(send(hq, sms, at=NOW + timedelta(minutes=minute)), Refused)
    sixth = send(hq, sms, at=NOW + timedelta(minutes=5))
    assert sixth.retry_after == 55 * 60
    assert len(sms.sent) == 5
    assert Audit.OWNER_CODE_REFUSED in hq.audit_log.kinds()


def test_a_new_code_makes_the_earlier_one_useless(hq):
    sms = RecordingSms()
    send(hq, sms)
    send(hq, sms, at=NOW + timedelta(minutes=1))
    first, second = sms.sent[0][1], sms.sent[1][1]
    at = NOW + timedelta(minutes=2)
    if first != second:
        assert owner_sign_in(hq, first, at=at).reason is Refusal.INVALID_CODE
    assert isinstance(owner_sign_in(hq, second, at=at), Granted)


def test_an_sms_that_cannot_be_sent_is_an_error_the_framework_rolls_back(hq):
    sms = RecordingSms()
    sms.fail = True
    with pytest.raises(ServiceUnavailable):
        send(hq, sms)


def test_owners_sign_in_at_headquarters_only(uow):
    with pytest.raises(NotFound):
        send(uow, RecordingSms())


# -- partners ----------------------------------------------------------------------------------

def token(hq, client_id: str, secret: str, *, at: datetime | None = None,
          grant_type: str = "client_credentials"):
    return use_cases.partner_token(hq, OPTIONS, grant_type=grant_type, client_id=client_id,
                                   client_secret=secret, address=ADDRESS, now=at or NOW)


def test_a_partner_gets_tokens_with_its_secret(hq):
    made = use_cases.register_partner(hq, by=OPERATOR, name="Quick Fix 快修", address=None,
                                      now=NOW)
    assert made.client_secret not in str(hq.partners.rows)  # only its hash is kept
    granted = token(hq, made.client.client_id, made.client_secret)
    assert (granted.identity.role, granted.identity.subject, granted.expires_in) == (
        Role.PARTNER, made.client.client_id, 600)
    assert verifier(hq, HEADQUARTERS_SCOPE).verify(granted.access_token).role is Role.PARTNER
    assert token(hq, made.client.client_id, "wrong").reason is Refusal.INVALID_CLIENT
    assert token(hq, "ptn_unknown", made.client_secret).reason is Refusal.INVALID_CLIENT
    assert token(hq, made.client.client_id, made.client_secret,
                 grant_type="password").reason is Refusal.UNSUPPORTED_GRANT_TYPE


def test_a_rotated_secret_leaves_the_old_one_for_the_overlap(hq):
    made = use_cases.register_partner(hq, by=OPERATOR, name="Shop", address=None, now=NOW)
    client_id = made.client.client_id
    rotated = use_cases.rotate_partner_secret(hq, OPTIONS, by=OPERATOR, client_id=client_id,
                                              address=None, now=NOW)
    assert isinstance(token(hq, client_id, made.client_secret), Granted)
    assert isinstance(token(hq, client_id, rotated.client_secret), Granted)
    after = NOW + timedelta(hours=24)
    assert token(hq, client_id, made.client_secret, at=after).reason is Refusal.INVALID_CLIENT
    assert isinstance(token(hq, client_id, rotated.client_secret, at=after), Granted)
    use_cases.deactivate_partner(hq, by=OPERATOR, client_id=client_id, address=None, now=after)
    assert token(hq, client_id, rotated.client_secret, at=after).reason is \
        Refusal.INVALID_CLIENT


def test_partners_are_registered_at_headquarters_only(uow):
    with pytest.raises(NotFound):
        use_cases.register_partner(uow, by=OPERATOR, name="Shop", address=None, now=NOW)


# -- the car maker's provider ------------------------------------------------------------------

class FakeProvider:
    def __init__(self, user: DelegatedUser | None = None) -> None:
        self.user = user

    def start(self, now: datetime) -> PendingDelegation:
        return PendingDelegation("state-1", "nonce-1", "verifier", "https://idp/auth?x", now)

    def finish(self, pending, *, code, state, iss, now) -> DelegatedUser:
        if self.user is None:
            raise DelegationFailed("the id_token is not valid")
        return self.user


def delegate(hq, provider, state: str = "state-1"):
    return use_cases.finish_delegation(hq, OPTIONS, provider, code="c", state=state, iss=None,
                                       address=ADDRESS, now=NOW)


def test_the_providers_analyst_signs_in_with_our_tokens(hq):
    provider = FakeProvider(DelegatedUser("abc", "https://idp", "oem_analyst", None))
    assert use_cases.start_delegation(hq, provider, now=NOW) == "https://idp/auth?x"
    granted = delegate(hq, provider)
    assert (granted.identity.subject, granted.identity.role) == ("oidc:abc", Role.OEM_ANALYST)
    assert delegate(hq, provider).reason is Refusal.DELEGATION_FAILED  # a state answers once


def test_the_provider_may_not_make_an_owner_or_a_roleless_person(hq):
    for user in (DelegatedUser("o", "https://idp", "owner", None),
                 DelegatedUser("n", "https://idp", None, None)):
        provider = FakeProvider(user)
        use_cases.start_delegation(hq, provider, now=NOW)
        assert delegate(hq, provider).reason is Refusal.ROLE_NOT_GRANTED
    provider = FakeProvider(None)
    use_cases.start_delegation(hq, provider, now=NOW)
    assert delegate(hq, provider).reason is Refusal.DELEGATION_FAILED
    assert hq.audit_log.kinds().count(Audit.OIDC_REFUSED) == 3


def test_without_a_provider_there_is_nothing_to_start(hq):
    with pytest.raises(NotFound):
        use_cases.start_delegation(hq, None, now=NOW)


# -- the audit log -----------------------------------------------------------------------------

def test_the_audit_log_filters_by_kind_and_pages_newest_first(uow):
    advisor(uow)
    sign_in(uow)
    sign_in(uow, password="wrong")
    kinds = [Audit.SIGNED_IN.value, Audit.SIGN_IN_FAILED.value]
    page = use_cases.audit_entries(uow, by=MANAGER, kinds=kinds, limit=1)
    assert [e["kind"] for e in page] == ["SIGN_IN_FAILED"]
    rest = use_cases.audit_entries(uow, by=MANAGER, kinds=kinds, before_id=page[-1]["id"])
    assert [e["kind"] for e in rest] == ["SIGNED_IN"]
    with pytest.raises(Forbidden):
        use_cases.audit_entries(uow, by=Identity("sa", Role.ADVISOR, "D001"))


# -- settings ----------------------------------------------------------------------------------

def test_settings_need_an_issuer_and_keep_oidc_to_headquarters():
    from chassis.config import ConfigError

    base = Settings(service="identity", dealer_code="D001", database_url="sqlite://",
                    amqp_uri="memory:///x", environment="development",
                    extra={"issuer": "https://id.d001.example.cn"})
    assert IdentitySettings.from_settings(base).key_encryption_key  # the development stand-in
    with pytest.raises(ConfigError, match="^issuer: missing"):
        IdentitySettings.from_settings(replace(base, extra={}))
    oidc = {"issuer": "https://idp", "client_id": "c", "client_secret": "s",
            "redirect_uri": "https://id/oidc/callback"}
    with pytest.raises(ConfigError, match="only headquarters"):
        IdentitySettings.from_settings(replace(base, extra={**base.extra, "oidc": oidc}))
    at_hq = replace(base, stack="headquarters", extra={**base.extra, "oidc": oidc})
    assert IdentitySettings.from_settings(at_hq).oidc.client_id == "c"
    with pytest.raises(ConfigError, match="key_encryption_key: missing"):
        IdentitySettings.from_settings(replace(base, environment="production"))


def test_jwks_of_the_chassis_and_ours_agree(uow):
    advisor(uow)
    sign_in(uow)
    keys = use_cases.published_keys(uow, OPTIONS, now=NOW)
    assert all(k["alg"] == "EdDSA" and k["kty"] == "OKP" for k in keys)
    assert jwks_of([]) == {"keys": []}


def test_a_staff_id_is_the_subject_the_other_services_know(uow):
    account = use_cases.create_account(uow, by=MANAGER, username="sa-017", password=PASSWORD,
                                       role=Role.ADVISOR, staff_id="SA-017", now=NOW)
    assert account.id == "SA-017"
    token = sign_in(uow, "SA-017").access_token
    assert verifier(uow).verify(token).subject == "SA-017"
    with pytest.raises(Conflict):
        use_cases.create_account(uow, by=MANAGER, username="another", password=PASSWORD,
                                 role=Role.ADVISOR, staff_id="SA-017", now=NOW)
