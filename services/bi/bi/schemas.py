"""marshmallow schemas of BI's HTTP payloads and query strings.

Unknown fields are refused (RAISE); every error names its field; a bad range is a 422.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from bi.dashboard import LANGUAGES
from bi.kpis import KPIS
from bi.reports import GRAINS

MAX_RANGE = timedelta(days=3 * 366)  # three years of dealer-days per question
DEALER = validate.Regexp(r"^[A-Z0-9]{2,12}$", error="must be 2-12 upper-case letters or digits")
REGION = validate.Regexp(r"^[A-Z0-9_]{1,40}$",
                         error="must be 1-40 upper-case letters, digits or _")
KPI_NAME = validate.OneOf(sorted(KPIS), error="must be one of {choices}")


class _RangeQuery(Schema):
    from_ = fields.Date(required=True, data_key="from",
                        metadata={"description": "First day (dealer-local), included"})
    to = fields.Date(required=True, metadata={"description": "Last day, included"})

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        first, last = data.get("from_"), data.get("to")
        if first and last:
            if last < first:
                raise ValidationError("must not be before from", "to")
            if last - first > MAX_RANGE:
                raise ValidationError("must be at most three years after from", "to")


class KpiQuerySchema(_RangeQuery):
    dealer = fields.String(validate=DEALER, metadata={"description": "One dealer's code"})
    region = fields.String(validate=REGION, metadata={"description": "Region (UNASSIGNED …)"})


class RankingQuerySchema(_RangeQuery):
    kpi = fields.String(required=True, validate=KPI_NAME)
    region = fields.String(validate=REGION)


class SeriesQuerySchema(KpiQuerySchema):
    kpi = fields.String(required=True, validate=KPI_NAME)
    grain = fields.String(load_default="day", validate=validate.OneOf(GRAINS))


class DashboardQuerySchema(Schema):
    """What the dashboard page opens with; its script reads the same parameters."""

    lang = fields.String(load_default="zh-CN", validate=validate.OneOf(LANGUAGES))
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    dealer = fields.String(validate=DEALER, metadata={"description": "Open this dealer's view"})
    region = fields.String(validate=REGION)
    kpi = fields.String(validate=KPI_NAME, metadata={"description": "The KPI charted"})


class DealerRequestSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    region = fields.String(required=True, validate=REGION)


class DealerSchema(Schema):
    dealer_code = fields.String()
    name = fields.String()
    region = fields.String()


class DealerListSchema(Schema):
    items = fields.List(fields.Nested(DealerSchema))


class KpiReportSchema(Schema):
    dealer = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    kpis = fields.Dict(keys=fields.String(), metadata={
        "description": "KPI name → value (decimal string, integer, or null without data)"})


class RankingEntrySchema(Schema):
    rank = fields.Integer(allow_none=True)
    dealer_code = fields.String()
    name = fields.String(allow_none=True)
    region = fields.String()
    value = fields.String(allow_none=True)


class RankingSchema(Schema):
    kpi = fields.String()
    items = fields.List(fields.Nested(RankingEntrySchema))


class SeriesPointSchema(Schema):
    period = fields.Date()
    value = fields.String(allow_none=True)


class SeriesSchema(Schema):
    kpi = fields.String()
    grain = fields.String()
    items = fields.List(fields.Nested(SeriesPointSchema))


class RebuildSchema(Schema):
    replayed = fields.Integer()


# -- recall completion ------------------------------------------------------------------------


class RecallQuerySchema(Schema):
    campaign = fields.String(validate=validate.Regexp(
        r"^[A-Z0-9][A-Z0-9_.-]{0,31}$", error="must be a campaign code (1-32 A-Z 0-9 _ . -)"),
        metadata={"description": "One campaign's code; default: every campaign"})


class _Completion(Schema):
    cars = fields.Integer()
    completed = fields.Integer()
    completion_rate = fields.String(allow_none=True, metadata={
        "description": "completed / cars, decimal text to four places; null without cars"})


class _DealerCompletion(_Completion):
    dealer_code = fields.String()
    region = fields.String()


class _RegionCompletion(_Completion):
    region = fields.String()


class RecallCampaignCompletionSchema(_Completion):
    campaign_code = fields.String()
    title = fields.String()
    kind = fields.String(allow_none=True)
    starts_on = fields.Date()
    dealers = fields.List(fields.Nested(_DealerCompletion), metadata={
        "description": "Per dealer: of the campaign's cars it delivered since the start (or "
                       "did the campaign on), those it did the campaign on"})
    regions = fields.List(fields.Nested(_RegionCompletion))


class RecallCompletionSchema(Schema):
    items = fields.List(fields.Nested(RecallCampaignCompletionSchema))
