"""marshmallow schemas of identity's HTTP payloads, and the views it answers with.

Unknown fields are refused (marshmallow's default, RAISE); every error names its field.
Nothing secret is ever in a view but the one answer that hands it out (tokens, a partner's
new secret).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from identity.domain import (
    DEALER_CODE,
    PASSWORD_MAX_LENGTH,
    PASSWORD_ROLES,
    STAFF_ID,
    Audit,
    PartnerClient,
    StaffAccount,
)

PHONE = validate.Regexp(r"^\+?\d{6,15}$", error="must be 6-15 digits, optionally after +")
CODE = validate.Regexp(r"^\d{6}$", error="must be the 6 digits sent by SMS")
SECRET = validate.Length(min=1, max=512)


class SignInSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True,
                             validate=validate.Length(min=1, max=PASSWORD_MAX_LENGTH))


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, validate=SECRET)


class TokenView(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})
    refresh_token = fields.String(metadata={
        "description": "Opaque; good for one refresh (POST /refresh), then spent"})


class SignedOutView(Schema):
    signed_out = fields.Boolean(required=True)


class AccountCreateSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=3, max=64))
    password = fields.String(required=True,
                             validate=validate.Length(min=1, max=PASSWORD_MAX_LENGTH))
    role = fields.String(required=True, validate=validate.OneOf(sorted(PASSWORD_ROLES)))
    dealer_code = fields.String(validate=validate.Regexp(DEALER_CODE), metadata={
        "description": "Dealer staff's dealer (a site's own by default); none for "
                       "headquarters roles"})
    display_name = fields.String(validate=validate.Length(min=1, max=100))
    staff_id = fields.String(validate=validate.Regexp(STAFF_ID), metadata={
        "description": "The id the other services know the person by (an appointment's "
                       "advisor, a job's technician): the subject of their tokens. A new "
                       "UUID when left out"})


class AccountView(Schema):
    id = fields.String(required=True)
    username = fields.String(required=True)
    display_name = fields.String(allow_none=True)
    role = fields.String(required=True)
    dealer_code = fields.String(allow_none=True)
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    created_by = fields.String(required=True)
    deactivated_at = fields.DateTime(allow_none=True)
    deactivated_by = fields.String(allow_none=True)


class DeactivatedView(AccountView):
    sessions_revoked = fields.Integer(required=True)


class AccountQuerySchema(Schema):
    active = fields.Boolean()
    dealer_code = fields.String(validate=validate.Regexp(DEALER_CODE))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class AccountListView(Schema):
    items = fields.List(fields.Nested(AccountView), required=True)
    count = fields.Integer(required=True)


class OwnerCodeSchema(Schema):
    phone = fields.String(required=True, validate=PHONE)


class OwnerCodeSentView(Schema):
    sent = fields.Boolean(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


class OwnerSignInSchema(Schema):
    phone = fields.String(required=True, validate=PHONE)
    code = fields.String(required=True, validate=CODE)


class PartnerCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class PartnerView(Schema):
    client_id = fields.String(required=True)
    name = fields.String(required=True)
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    secret_rotated_at = fields.DateTime(allow_none=True)
    previous_secret_valid_until = fields.DateTime(allow_none=True, metadata={
        "description": "Until then the previous secret is still accepted"})


class PartnerCredentialsView(PartnerView):
    client_secret = fields.String(required=True, metadata={
        "description": "Shown this once: identity keeps only its hash"})


class ClientCredentialsSchema(Schema):
    """RFC 6749 §4.4, form-encoded; the client authenticates with HTTP Basic or the form's
    client_id and client_secret (not both)."""

    grant_type = fields.String(required=True, metadata={"example": "client_credentials"})
    client_id = fields.String()
    client_secret = fields.String()
    scope = fields.String()


class PartnerTokenView(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class AuditQuerySchema(Schema):
    kind = fields.List(fields.String(validate=validate.OneOf([a.value for a in Audit])))
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()
    before = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "Continue from the `next_before` of the previous page"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class ActorView(Schema):
    subject = fields.String(required=True, metadata={
        "description": "`anonymous` for a failed sign-in, `console` for an operator command"})
    role = fields.String(required=True)
    dealer_code = fields.String(allow_none=True)
    issuer = fields.String(allow_none=True)


class AuditEntryView(Schema):
    id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    kind = fields.String(required=True)
    actor = fields.Nested(ActorView, required=True)
    subject = fields.String(required=True)
    client_address = fields.String(allow_none=True)
    detail = fields.Dict(required=True)


class AuditListView(Schema):
    items = fields.List(fields.Nested(AuditEntryView), required=True)
    next_before = fields.Integer(allow_none=True)


class JwksView(Schema):
    keys = fields.List(fields.Dict(), required=True)


class DiscoveryView(Schema):
    issuer = fields.String(required=True)
    jwks_uri = fields.String(required=True)
    token_endpoint = fields.String(required=True)
    grant_types_supported = fields.List(fields.String())
    token_endpoint_auth_methods_supported = fields.List(fields.String())
    id_token_signing_alg_values_supported = fields.List(fields.String())


SIGN_IN = SignInSchema()
REFRESH = RefreshSchema()
ACCOUNT_CREATE = AccountCreateSchema()
ACCOUNT_QUERY = AccountQuerySchema()
OWNER_CODE = OwnerCodeSchema()
OWNER_SIGN_IN = OwnerSignInSchema()
PARTNER_CREATE = PartnerCreateSchema()


def account_view(account: StaffAccount, **extra: Any) -> dict[str, Any]:
    view = (DeactivatedView if extra else AccountView)()
    return view.dump({**account.__dict__, "role": account.role.value, **extra})


def accounts_view(found: list[StaffAccount]) -> dict[str, Any]:
    items = [account_view(a) for a in found]
    return {"items": items, "count": len(items)}


def partner_view(client: PartnerClient, secret: str | None = None) -> dict[str, Any]:
    values = {**client.__dict__, "previous_secret_valid_until": client.previous_valid_until}
    if secret is None:
        return PartnerView().dump(values)
    return PartnerCredentialsView().dump({**values, "client_secret": secret})


def audit_view(entries: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    items = AuditEntryView(many=True).dump(entries)
    return {"items": items, "next_before": entries[-1]["id"] if len(entries) == limit else None}


def audit_query(args: Any) -> dict[str, Any]:
    """The query string, `kind` repeatable (`?kind=SIGNED_IN&kind=LOCKED_OUT`)."""
    raw: dict[str, Any] = args.to_dict()
    if "kind" in raw:
        raw["kind"] = args.getlist("kind")
    return AuditQuerySchema().load(raw)


def discovery(issuer: str, *, partners: bool) -> dict[str, Any]:
    """OpenID Connect Discovery, minimal: where the keys are and where tokens are asked for."""
    return DiscoveryView().dump({
        "issuer": issuer, "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "token_endpoint": f"{issuer}/oauth/token" if partners else f"{issuer}/sign-in",
        "grant_types_supported": ["client_credentials"] if partners else [],
        "token_endpoint_auth_methods_supported": (
            ["client_secret_basic", "client_secret_post"] if partners else []),
        "id_token_signing_alg_values_supported": ["EdDSA"]})

