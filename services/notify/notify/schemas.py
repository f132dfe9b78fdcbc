"""marshmallow schemas of notify's HTTP payloads. Unknown fields are refused (RAISE); every
error names its field."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, ValidationError, fields, validate

from contracts.fields import ID, Pattern, StrictBoolean
from notify.domain import LANGUAGES, Channel, Status

IDENT = Pattern(ID, error="must be 1-64 characters A-Z a-z 0-9 . _ : - "
                          "starting with a letter or digit")


def _zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("must be an IANA time zone, e.g. Asia/Shanghai") from None


class PreferencesSchema(Schema):
    """What the customer chose: language, zone, channels, addresses, marketing consent."""

    language = fields.String(validate=validate.OneOf(LANGUAGES))
    time_zone = fields.String(validate=_zone)
    channels = fields.List(fields.String(validate=validate.OneOf([c.value for c in Channel])),
                           validate=validate.Length(min=1, max=4))
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    wechat_openid = fields.String(allow_none=True, validate=validate.Regexp(
        r"^[A-Za-z0-9_-]{6,64}$", error="must be a WeChat openid"))
    marketing_consent = StrictBoolean()


class ContactView(Schema):
    customer_id = fields.String()
    language = fields.String()
    time_zone = fields.String(allow_none=True)
    channels = fields.List(fields.String())
    email = fields.String(allow_none=True)
    wechat_openid = fields.String(allow_none=True)
    marketing_consent = fields.Boolean()
    unsubscribed = fields.Boolean()
    phone_known = fields.Boolean()


class DispatchRunView(Schema):
    sent = fields.Integer()
    failed = fields.Integer()
    retrying = fields.Integer()
    suppressed = fields.Integer()
    held = fields.Integer()


class DeliveryQuerySchema(Schema):
    customer = fields.String(validate=IDENT)
    status = fields.String(validate=validate.OneOf([s.value for s in Status]))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class DeliveryView(Schema):
    message_id = fields.String()
    kind = fields.String()
    purpose = fields.String()
    channel = fields.String()
    dealer_code = fields.String()
    customer_id = fields.String(allow_none=True)
    repair_order_id = fields.String(allow_none=True)
    appointment_id = fields.String(allow_none=True)
    reference = fields.String()
    event_id = fields.String()
    status = fields.String()
    reason = fields.String(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    due_at = fields.DateTime()
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class DeliveryListView(Schema):
    deliveries = fields.List(fields.Nested(DeliveryView))


class InboundSmsSchema(Schema):
    """The SMS gateway's webhook: a reply from a mobile number (MO message)."""

    from_ = fields.String(data_key="from", required=True,
                          validate=validate.Regexp(r"^\+?\d{6,15}$",
                                                   error="must be 6-15 digits"))
    text = fields.String(required=True, validate=validate.Length(max=1000))
    received_at = fields.DateTime()
    gateway_id = fields.String(validate=validate.Length(max=128))


class InboundSmsView(Schema):
    unsubscribe = fields.Boolean()
    customers = fields.Integer()


class UnsubscribedView(Schema):
    unsubscribed = fields.Boolean()
