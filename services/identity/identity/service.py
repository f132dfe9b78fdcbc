"""identity's entrypoints: parse and authorise → one use case (`identity.use_cases`) → render.

Runs in every stack, each for its own people: at a dealer site its staff sign in there (the WAN
link to headquarters may be down); at headquarters its staff, the owners (a code by SMS), the
partners (OAuth2 client credentials) and, where configured, people of the car maker's own
OpenID Connect provider. Every other service checks the tokens against the keys published at
`/.well-known/jwks.json`. The framework commits each call's unit of work before the answer
leaves, refusals included (they count failed attempts and write the audit log).
"""

from __future__ import annotations

from datetime import UTC, datetime

from nameko.timer import timer
from werkzeug.wrappers import Request, Response

from chassis.db import Database
from chassis.errors import MalformedRequest
from chassis.http import PUBLIC, http, identity_of, json_response, load_json, load_query
from chassis.identity import Role
from chassis.service import EVERY, OwnSettings, PlatformService
from chassis.unit_of_work import UnitOfWorkProvider
from identity import models, use_cases
from identity import schemas as s
from identity.answers import (
    NO_STORE,
    InvalidTokenRequest,
    client_address,
    client_credentials,
    oauth_answer,
    token_answer,
)
from identity.delegation import CarMakerProvider
from identity.metrics import OWNER_CODES, SIGN_INS, counted
from identity.settings import IdentitySettings
from identity.sms import OneTimeCodeSender
from identity.store import IdentityUnitOfWork, identity_resources

# Who manages accounts (a site's dealer manager, headquarters' operator: `domain` decides
# which where) and who reads the audit log.
MANAGERS = {Role.DEALER_MANAGER, Role.OPERATOR}
HOUSEKEEPING_SECONDS = 60


def _now() -> datetime:
    return datetime.now(UTC)


class IdentityService(PlatformService):
    name = "identity"
    stack = EVERY
    operator_commands = {"rotate-keys": "identity.commands:rotate_keys",
                         "retire-keys": "identity.commands:retire_keys",
                         "create-user": "identity.commands:create_user"}

    db = Database(models.metadata)
    uow = UnitOfWorkProvider(IdentityUnitOfWork, resources=identity_resources)
    options = OwnSettings(IdentitySettings)
    sms = OneTimeCodeSender()
    delegation = CarMakerProvider()

    # -- what the other services read ----------------------------------------------------------

    @http("GET", "/.well-known/jwks.json", roles=PUBLIC, response=s.JwksView,
          summary="The public keys tokens are signed with: current, next and previous")
    def jwks(self, request: Request) -> Response:
        keys = use_cases.published_keys(self.uow, self.options, now=_now())
        return json_response({"keys": keys}, headers={"Cache-Control": "max-age=60"})

    @http("GET", "/.well-known/openid-configuration", roles=PUBLIC, response=s.DiscoveryView,
          summary="Where this issuer's keys are, and where tokens are asked for")
    def discovery(self, request: Request) -> Response:
        return json_response(s.discovery(self.options.issuer,
                                         partners=self.settings.at_headquarters))

    # -- staff ---------------------------------------------------------------------------------

    @http("POST", "/sign-in", roles=PUBLIC, request=s.SignInSchema, response=s.TokenView,
          statuses=(401, 429), summary="Sign in with user name and password (staff)")
    def sign_in(self, request: Request) -> Response:
        body = load_json(request, s.SIGN_IN)
        result = use_cases.sign_in(self.uow, self.options, username=body["username"],
                                   password=body["password"], address=client_address(request),
                                   now=_now())
        return token_answer(counted("password", result))

    @http("POST", "/refresh", roles=PUBLIC, request=s.RefreshSchema, response=s.TokenView,
          statuses=(401,), summary="Trade a refresh token for a new access and refresh token")
    def refresh(self, request: Request) -> Response:
        body = load_json(request, s.REFRESH)
        result = use_cases.refresh(self.uow, self.options, refresh_token=body["refresh_token"],
                                   address=client_address(request), now=_now())
        return token_answer(counted("refresh", result))

    @http("POST", "/sign-out", roles=PUBLIC, request=s.RefreshSchema, response=s.SignedOutView,
          summary="End the session of a refresh token (its access tokens expire in minutes)")
    def sign_out(self, request: Request) -> Response:
        body = load_json(request, s.REFRESH)
        ended = use_cases.sign_out(self.uow, refresh_token=body["refresh_token"],
                                   address=client_address(request), now=_now())
        return json_response({"signed_out": ended}, headers=NO_STORE)

    @http("POST", "/users", roles=MANAGERS, request=s.AccountCreateSchema,
          response=s.AccountView, status=201, statuses=(409,),
          summary="Add a staff account (a site's manager: their staff; headquarters' operator)")
    def create_user(self, request: Request) -> Response:
        body = load_json(request, s.ACCOUNT_CREATE)
        account = use_cases.create_account(
            self.uow, by=identity_of(request), username=body["username"],
            password=body["password"], role=Role(body["role"]),
            dealer_code=body.get("dealer_code"), display_name=body.get("display_name"),
            staff_id=body.get("staff_id"), address=client_address(request), now=_now())
        return json_response(s.account_view(account), status=201,
                             headers={"Location": f"/users/{account.id}"})

    @http("GET", "/users", roles=MANAGERS, query=s.AccountQuerySchema,
          response=s.AccountListView, summary="The staff accounts the caller manages")
    def list_users(self, request: Request) -> Response:
        query = load_query(request, s.ACCOUNT_QUERY)
        found = use_cases.accounts(self.uow, by=identity_of(request), active=query.get("active"),
                                   dealer_code=query.get("dealer_code"), limit=query["limit"])
        return json_response(s.accounts_view(found))

    @http("POST", "/users/<string:user_id>/deactivate", roles=MANAGERS,
          response=s.DeactivatedView, statuses=(404, 409), body_optional=True,
          summary="Deactivate a staff account and revoke its sessions")
    def deactivate_user(self, request: Request, user_id: str) -> Response:
        account, revoked = use_cases.deactivate_account(
            self.uow, by=identity_of(request), user_id=user_id,
            address=client_address(request), now=_now())
        return json_response(s.account_view(account, sessions_revoked=revoked))

    # -- owners --------------------------------------------------------------------------------

    @http("POST", "/owner/codes", roles=PUBLIC, request=s.OwnerCodeSchema,
          response=s.OwnerCodeSentView, status=202, statuses=(404, 429, 503),
          summary="Send a one-time sign-in code to the owner's phone by SMS (headquarters)")
    def send_owner_code(self, request: Request) -> Response:
        body = load_json(request, s.OWNER_CODE)
        result = use_cases.send_owner_code(self.uow, self.options, self.sms, phone=body["phone"],
                                           address=client_address(request), now=_now())
        if isinstance(result, use_cases.Refused):
            OWNER_CODES.labels(result.reason.value).inc()
            return token_answer(result)
        OWNER_CODES.labels("sent").inc()
        return json_response({"sent": True, "expires_in": result.expires_in}, status=202)

    @http("POST", "/owner/sign-in", roles=PUBLIC, request=s.OwnerSignInSchema,
          response=s.TokenView, statuses=(401, 404, 429),
          summary="Sign an owner in with the code sent to their phone (headquarters)")
    def owner_sign_in(self, request: Request) -> Response:
        body = load_json(request, s.OWNER_SIGN_IN)
        result = use_cases.owner_sign_in(self.uow, self.options, phone=body["phone"],
                                         code=body["code"], address=client_address(request),
                                         now=_now())
        return token_answer(counted("owner_code", result))

    # -- partners ------------------------------------------------------------------------------

    @http("POST", "/partners", roles={Role.OPERATOR}, request=s.PartnerCreateSchema,
          response=s.PartnerCredentialsView, status=201, statuses=(404,),
          summary="Register a partner's system: its client_id and a secret shown once")
    def register_partner(self, request: Request) -> Response:
        body = load_json(request, s.PARTNER_CREATE)
        made = use_cases.register_partner(self.uow, by=identity_of(request), name=body["name"],
                                          address=client_address(request), now=_now())
        return json_response(s.partner_view(made.client, made.client_secret), status=201,
                             headers={"Location": f"/partners/{made.client.client_id}",
                                      **NO_STORE})

    @http("POST", "/partners/<string:client_id>/secret", roles={Role.OPERATOR},
          response=s.PartnerCredentialsView, statuses=(404, 409), body_optional=True,
          summary="A new secret for a partner (the previous one works for the overlap)")
    def rotate_partner_secret(self, request: Request, client_id: str) -> Response:
        made = use_cases.rotate_partner_secret(self.uow, self.options, by=identity_of(request),
                                               client_id=client_id,
                                               address=client_address(request), now=_now())
        return json_response(s.partner_view(made.client, made.client_secret), headers=NO_STORE)

    @http("POST", "/partners/<string:client_id>/deactivate", roles={Role.OPERATOR},
          response=s.PartnerView, statuses=(404,), body_optional=True,
          summary="No more tokens for a partner (those it holds expire within minutes)")
    def deactivate_partner(self, request: Request, client_id: str) -> Response:
        client = use_cases.deactivate_partner(self.uow, by=identity_of(request),
                                              client_id=client_id,
                                              address=client_address(request), now=_now())
        return json_response(s.partner_view(client))

    @http("POST", "/oauth/token", roles=PUBLIC, response=s.PartnerTokenView,
          statuses=(400, 401, 429),
          summary="OAuth2 client credentials (RFC 6749 §4.4, form-encoded): a partner token")
    def oauth_token(self, request: Request) -> Response:
        try:
            grant_type, client_id, secret = client_credentials(request)
        except InvalidTokenRequest as refused:
            SIGN_INS.labels("client_credentials", refused.error).inc()
            return oauth_answer(refused)
        result = use_cases.partner_token(self.uow, self.options, grant_type=grant_type,
                                         client_id=client_id, client_secret=secret,
                                         address=client_address(request), now=_now())
        return oauth_answer(counted("client_credentials", result))

    # -- the car maker's OpenID Connect provider -----------------------------------------------

    @http("GET", "/oidc/start", roles=PUBLIC, statuses=(302, 404),
          summary="Sign in at the car maker's provider: redirects there (headquarters)")
    def oidc_start(self, request: Request) -> Response:
        url = use_cases.start_delegation(self.uow, self.delegation, now=_now())
        return Response(status=302, headers={"Location": url, **NO_STORE})

    @http("GET", "/oidc/callback", roles=PUBLIC, response=s.TokenView,
          statuses=(400, 401, 403, 404),
          summary="Where the provider sends the browser back: answers with our tokens")
    def oidc_callback(self, request: Request) -> Response:
        code, state = request.args.get("code"), request.args.get("state")
        if not state or not (code or request.args.get("error")):
            raise MalformedRequest("the callback needs state and code (or error)")
        result = use_cases.finish_delegation(
            self.uow, self.options, self.delegation, code=code or "", state=state,
            iss=request.args.get("iss"), address=client_address(request), now=_now())
        return token_answer(counted("oidc", result))

    # -- operations ----------------------------------------------------------------------------

    @http("GET", "/audit", roles=MANAGERS, response=s.AuditListView, statuses=(422,),
          summary="The audit log, newest first, by kind and time (?kind=&since=&until=&before=)")
    def audit(self, request: Request) -> Response:
        query = s.audit_query(request.args)
        entries = use_cases.audit_entries(
            self.uow, by=identity_of(request), kinds=query.get("kind"),
            since=query.get("since"), until=query.get("until"), before_id=query.get("before"),
            limit=query["limit"])
        return json_response(s.audit_view(entries, query["limit"]))

    @timer(interval=HOUSEKEEPING_SECONDS)
    def housekeeping(self) -> None:
        use_cases.housekeeping(self.uow, self.options, now=_now())
