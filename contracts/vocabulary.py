"""The contract's vocabulary: the value sets and patterns every event and every service uses.

Pure (the standard library only), so a domain module can use the trade's codes without the
schema machinery; `contracts.payloads` and `contracts.fields` build their schemas from these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

# -- patterns ---------------------------------------------------------------------------

ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
DEALER_CODE = r"^[A-Z0-9]{2,12}$"
VIN = r"^[A-HJ-NPR-Z0-9]{17}$"
PHONE = r"^\+?[0-9]{6,20}$"
MONEY = r"^(0|[1-9][0-9]{0,11})\.[0-9]{2}$"
QUANTITY = r"^(0|[1-9][0-9]{0,6})(\.[0-9]{1,3})?$"
# Same as QUANTITY but not zero ("0", "0.0", "0.000").
POSITIVE_QUANTITY = r"^(?!0(\.0{1,3})?$)(0|[1-9][0-9]{0,6})(\.[0-9]{1,3})?$"
HOURS = r"^(0|[1-9][0-9]{0,3})(\.[0-9]{1,2})?$"
CODE = r"^[A-Z0-9][A-Z0-9_.-]{0,31}$"
PART_NUMBER = r"^[A-Z0-9][A-Z0-9.-]{1,39}$"
SHA256 = r"^[0-9a-f]{64}$"
HTTPS_URL = r"^https://[!-~]+$"
# An owner's link on a demo or test machine, whose portal is served over plain http on the
# machine itself: loopback only (127.0.0.1 or localhost, any port), never another host.
LOOPBACK_HTTP_URL = r"^http://(127\.0\.0\.1|localhost)(:[0-9]{1,5})?/[!-~]*$"
# What an owner's link in an event (QuoteIssued.quote_url, InspectionUploaded.report_url)
# may be: https, or http on loopback.
OWNER_LINK_URLS = (HTTPS_URL, LOOPBACK_HTTP_URL)
MAX_OWNER_LINK_LENGTH = 512
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# A partner (franchise shop) at the partners service: the operator's id, or the one partners
# makes (`ptn_` and 12 hex digits).
PARTNER_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# The consent purpose "share my personal data with this partner": `partner:<partner id>`.
PARTNER_PURPOSE = r"^partner:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

# -- value sets (STAR names where STAR has one) ---------------------------------------------

PAY_TYPES = ("CUSTOMER_PAY", "WARRANTY", "INTERNAL")
CHANNELS = ("APP", "WECHAT", "PHONE", "WEB", "WALK_IN")
CURRENCIES = ("CNY",)
APPOINTMENT_STATUSES = ("SCHEDULED", "CONFIRMED")  # status right after booking / rescheduling
SERVICE_TYPES = (
    "MAINTENANCE",
    "REPAIR",
    "DIAGNOSIS",
    "RECALL",
    "BODY_AND_PAINT",
    "TYRES",
    "INSPECTION",
    "OTHER",
)
CANCEL_REASONS = (
    "CUSTOMER_REQUEST",
    "VEHICLE_SOLD",
    "SERVICED_ELSEWHERE",
    "DEALER_UNAVAILABLE",
    "DUPLICATE",
    "OTHER",
)
PARTIES = ("CUSTOMER", "DEALER")
INSPECTION_STATUSES = ("GREEN", "YELLOW", "RED")
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "video/mp4")
LINE_KINDS = ("LABOUR", "PART")
# LINK: the owner approved through the site's signed quote link, without signing in.
APPROVAL_CHANNELS = ("APP", "WECHAT", "WEB", "PHONE", "IN_PERSON", "LINK")
QC_STAGES = ("SELF", "INSPECTOR")
DELIVERY_MODES = ("COUNTER", "HOME_DELIVERY")
UNITS = ("EA", "SET", "L", "KG", "M")
REMINDER_REASONS = ("MAINTENANCE", "INSURANCE", "ANNUAL_INSPECTION", "DECLINED_WORK", "RECALL")
CAMPAIGN_KINDS = ("RECALL", "SERVICE_CAMPAIGN")
# VINs one RecallCampaignPublished carries: a 100,000-car recall travels as 20 events.
CAMPAIGN_VINS_PER_EVENT = 5000
# What a customer consents to (crm owns consent; notify applies it): the purposes of the
# messages sent to them, on these channels.
CONSENT_PURPOSES = ("SERVICE", "MARKETING")
CONSENT_CHANNELS = ("SMS", "WECHAT", "PHONE", "APP", "EMAIL")
# Besides those, ConsentChanged carries data sharing: purpose `partner:<partner id>`
# (PARTNER_PURPOSE; the partners service applies it), always on the one channel DATA, which
# means "my personal data" and never a way of reaching the customer. No message purpose uses
# DATA, and a partner purpose uses nothing else.
CONSENT_DATA_CHANNEL = "DATA"
# Where a consent change was made: the call centre at crm, or the owner at notify.
CONSENT_VIA = ("CALL_CENTRE", "SMS_REPLY", "UNSUBSCRIBE_LINK", "PREFERENCES")
# The consent purpose of each reminder reason: one rule for crm (who is chosen) and notify
# (what is sent). A reminder invites the owner to buy a service (a booking, a renewal, the
# work they declined, the dealer's inspection errand), so it is a marketing message under the
# market's rules: it needs an opt-in, carries the 退订 path, and 退订 stops it. A recall is
# different: a safety notice the maker owes every owner of the car, so it is a service message
# (sent until the customer withdraws service messages at the call centre).
REMINDER_PURPOSE: Mapping[str, str] = MappingProxyType(
    {
        "MAINTENANCE": "MARKETING",
        "INSURANCE": "MARKETING",
        "ANNUAL_INSPECTION": "MARKETING",
        "DECLINED_WORK": "MARKETING",
        "RECALL": "SERVICE",
    }
)


def is_partner_purpose(purpose: object) -> bool:
    """Whether a consent purpose is `partner:<partner id>` (data sharing, not messages)."""
    return isinstance(purpose, str) and re.fullmatch(PARTNER_PURPOSE, purpose) is not None


def is_owner_link(url: object) -> bool:
    """Whether `url` may go to the owner as a link in an event (`OWNER_LINK_URLS`): https, or
    plain http to the machine's own loopback (the demo, tests), at most 512 characters."""
    return isinstance(url, str) and len(url) <= MAX_OWNER_LINK_LENGTH and any(
        re.fullmatch(pattern, url) is not None for pattern in OWNER_LINK_URLS)


# Why partners stopped calling a partner's webhook endpoint: it answered 410 Gone, or every
# delivery attempt failed for too long.
ENDPOINT_DISABLED_REASONS = ("GONE", "FAILING")
# A partner's webhook address: https in production; http only where partners allows private
# endpoints (development, the demo, tests).
ENDPOINT_URL = r"^https?://[!-~]+$"

SURVEY_CHANNELS = ("APP", "WECHAT", "SMS", "PHONE", "WEB")

MAX_MILEAGE_KM = 2_000_000
