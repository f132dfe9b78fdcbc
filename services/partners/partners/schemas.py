"""marshmallow schemas of partners' HTTP payloads and views. Unknown fields are refused
(RAISE); every error names its field."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from contracts.fields import ID, Pattern, StrictBoolean
from partners.models import STATUSES

IDENT = Pattern(ID, error="must be 1-64 characters A-Z a-z 0-9 . _ : - "
                          "starting with a letter or digit")
PARTNER_ID = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                             error="must be 1-64 characters A-Z a-z 0-9 . _ - "
                                   "starting with a letter or digit")
DEALER_CODE = validate.Regexp(r"^[A-Z0-9]{2,12}$", error="must be 2-12 upper-case letters "
                                                          "or digits")
VIN = validate.Regexp(r"^[A-HJ-NPR-Z0-9]{17}$", error="must be a 17-character VIN")
REGION = validate.Length(min=1, max=40)


class EntitlementsSchema(Schema):
    """What the partner may receive. `dealers` and `regions` absent (or null): every
    dealer; `all_vehicles` false: only `vins` and the cars of owners who consented."""

    event_types = fields.List(fields.String(validate=validate.Length(min=1, max=120)),
                              required=True, validate=validate.Length(min=1, max=60))
    dealers = fields.List(fields.String(validate=DEALER_CODE), allow_none=True,
                          validate=validate.Length(max=1000))
    regions = fields.List(fields.String(validate=REGION), allow_none=True,
                          validate=validate.Length(max=100))
    all_vehicles = StrictBoolean(load_default=True)
    vins = fields.List(fields.String(validate=VIN), validate=validate.Length(max=100000))


class PartnerCreateSchema(Schema):
    partner_id = fields.String(validate=PARTNER_ID)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    client_id = fields.String(required=True, validate=IDENT,
                              metadata={"description": "The client id identity issued the "
                                                       "partner's system (POST /partners)"})
    entitlements = fields.Nested(EntitlementsSchema, required=True)


class ActiveSchema(Schema):
    active = StrictBoolean(required=True)


class RegionSchema(Schema):
    region = fields.String(required=True, validate=REGION)


class EndpointCreateSchema(Schema):
    url = fields.String(required=True, validate=validate.Length(min=8, max=2000))
    event_types = fields.List(fields.String(validate=validate.Length(min=1, max=120)),
                              allow_none=True, validate=validate.Length(min=1, max=60))
    rate_per_second = fields.Float(validate=validate.Range(min=0.01, max=10000))


class RotationSchema(Schema):
    overlap_hours = fields.Float(validate=validate.Range(min=0, max=720),
                                 metadata={"description": "How long the previous secrets "
                                                          "still sign (default 24)"})


class ReplaySchema(Schema):
    """One of: `event_id`; `from` and `to` (when the events reached headquarters);
    `failed_since` (every FAILED delivery of events since then)."""

    endpoint_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    event_id = fields.UUID()
    from_ = fields.AwareDateTime(data_key="from")
    to = fields.AwareDateTime()
    failed_since = fields.AwareDateTime()

    @validates_schema
    def one_kind(self, data: dict, **kwargs: object) -> None:
        given = [bool(data.get("event_id")), "from_" in data or "to" in data,
                 "failed_since" in data]
        if sum(given) != 1:
            raise ValidationError("give one of: event_id; from and to; failed_since",
                                  field_name="endpoint_id")
        if given[1] and not ("from_" in data and "to" in data):
            raise ValidationError("from and to go together", field_name="to")


class DeliveryQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class FeedQuerySchema(Schema):
    after = fields.String(load_default="0", validate=validate.Regexp(
        r"^[0-9]{1,18}$", error="must be a cursor this feed gave"))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


# -- views --------------------------------------------------------------------------------------


class EndpointView(Schema):
    endpoint_id = fields.String()
    partner_id = fields.String()
    url = fields.String()
    event_types = fields.List(fields.String(), allow_none=True)
    status = fields.String()
    disabled_because = fields.String(allow_none=True)
    disabled_at = fields.DateTime(allow_none=True)
    failing_since = fields.DateTime(allow_none=True)
    rate_per_second = fields.Float()
    rate_burst = fields.Float()
    created_at = fields.DateTime()
    secret = fields.String(metadata={"description": "Only when made: whsec_..., shown once"})
    previous_secrets_expire_at = fields.DateTime()


class EntitlementsView(Schema):
    event_types = fields.List(fields.String())
    dealers = fields.List(fields.String(), allow_none=True)
    regions = fields.List(fields.String(), allow_none=True)
    all_vehicles = fields.Boolean()
    vins = fields.List(fields.String())


class PartnerView(Schema):
    partner_id = fields.String()
    name = fields.String()
    client_id = fields.String()
    active = fields.Boolean()
    entitlements = fields.Nested(EntitlementsView)
    endpoints = fields.List(fields.Nested(EndpointView))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PartnerListView(Schema):
    items = fields.List(fields.Nested(PartnerView))


class RegionView(Schema):
    dealer_code = fields.String()
    region = fields.String()


class RegionListView(Schema):
    items = fields.List(fields.Nested(RegionView))


class DeliveryView(Schema):
    delivery_id = fields.Integer()
    endpoint_id = fields.String()
    partner_id = fields.String()
    event_id = fields.String()
    event_type = fields.String()
    subject_key = fields.String()
    sequence = fields.Integer()
    status = fields.String()
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime()
    last_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    settled_at = fields.DateTime(allow_none=True)


class DeliveryListView(Schema):
    items = fields.List(fields.Nested(DeliveryView))


class AttemptView(Schema):
    attempt = fields.Integer()
    started_at = fields.DateTime()
    outcome = fields.String()
    status_code = fields.Integer(allow_none=True)
    latency_ms = fields.Float()
    response_excerpt = fields.String(allow_none=True)
    error = fields.String(allow_none=True)


class AttemptListView(Schema):
    items = fields.List(fields.Nested(AttemptView))


class ReplayView(Schema):
    replayed = fields.Integer()
    delivery_ids = fields.List(fields.Integer())


class DispatchRunView(Schema):
    sent = fields.Integer()
    delivered = fields.Integer()
    retrying = fields.Integer()
    exhausted = fields.Integer()
    gone = fields.Integer()
    disabled = fields.Integer()


class FeedView(Schema):
    events = fields.List(fields.Dict(), metadata={"description": "CloudEvents (structured "
                                                                 "JSON), personal fields "
                                                                 "removed without consent"})
    cursor = fields.String(metadata={"description": "Pass as `after` for what follows"})
    count = fields.Integer()


class NoticeView(Schema):
    notice_id = fields.Integer()
    endpoint_id = fields.String(allow_none=True)
    kind = fields.String()
    text = fields.String()
    created_at = fields.DateTime()


class NoticeListView(Schema):
    items = fields.List(fields.Nested(NoticeView))


PARTNER_CREATE = PartnerCreateSchema()
ENTITLEMENTS = EntitlementsSchema()
ACTIVE = ActiveSchema()
REGION_REQUEST = RegionSchema()
ENDPOINT_CREATE = EndpointCreateSchema()
ROTATION = RotationSchema()
REPLAY = ReplaySchema()
DELIVERY_QUERY = DeliveryQuerySchema()
FEED_QUERY = FeedQuerySchema()
