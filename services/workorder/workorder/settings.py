"""Workorder's own settings, read once at start and checked there (a bad one stops the start
with one line naming it).

The names are the ones sites already use in their config files and environment
(`labour_rate`, or AFTERSALES_WORKORDER_LABOUR_RATE), without a prefix.

Online payment (WeChat Pay API v3, H5) is offered only at a site that sets it up: its
identifiers (`wechatpay_base_url`, `wechatpay_mchid`, `wechatpay_appid`,
`wechatpay_merchant_serial`, optionally `wechatpay_platform_serial`), `payment_notify_url`,
and its keys, read as secrets (`chassis.config.given_secret`: the setting, or `<name>_file`, or
AFTERSALES_WORKORDER_<NAME>[_FILE]): `wechatpay_merchant_private_key` (PEM),
`wechatpay_platform_public_key` (PEM) and `wechatpay_apiv3_key` (32 characters). None set:
online payment answers 409 (pay at the counter). Some set and not all, or a key that does not
parse: the start stops naming it. No key has a development stand-in: a published key would
let anyone forge a payment notification.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from chassis.config import ConfigError, bounds, given_secret, typed_settings
from workorder.domain.grants import QUOTE_TTL_HOURS, QUOTE_TTL_SECONDS
from workorder.domain.inspection import MAX_PHOTO_BYTES, REPORT_TTL_SECONDS
from workorder.payments import (
    APIV3_KEY_BYTES,
    WechatPayConfig,
    WechatPayV3,
    load_private_key,
    load_public_key,
)

DEFAULT_LABOUR_RATE = "300.00"
# The settings that set online payment up (the keys are secrets, read apart).
WECHATPAY_IDS = ("wechatpay_base_url", "wechatpay_mchid", "wechatpay_appid",
                 "wechatpay_merchant_serial", "payment_notify_url")
WECHATPAY_SECRETS = ("wechatpay_merchant_private_key", "wechatpay_platform_public_key",
                     "wechatpay_apiv3_key")


@dataclass(frozen=True)
class WorkorderSettings:
    # The site's labour rate per flat-rate hour (CNY, VAT included) for labour lines that
    # name none.
    labour_rate: str = DEFAULT_LABOUR_RATE
    # The owner portal's https base URL: events name the owner's report page under it, and
    # the quote page with its signed link (`/quote-links/<grant>`).
    owner_portal_url: str = ""
    max_photo_bytes: int = field(default=MAX_PHOTO_BYTES, metadata=bounds(1, None))
    # How long an inspection report link opens the report.
    report_link_ttl_hours: float = field(default=REPORT_TTL_SECONDS / 3600,
                                         metadata=bounds(0.01, None))
    # How long a quote link decides its round (it is refused sooner once the round is decided).
    quote_link_ttl_hours: float = field(default=QUOTE_TTL_SECONDS / 3600,
                                        metadata=bounds(*QUOTE_TTL_HOURS))
    # Online payment through WeChat Pay (API v3, H5): the API's base URL
    # (https://api.mch.weixin.qq.com), the merchant id, the app id the merchant pays under,
    # the serial of the merchant's API certificate, and the platform key's serial (its public
    # key id), which every signed answer and notification must name ("" checks none).
    wechatpay_base_url: str = ""
    wechatpay_mchid: str = ""
    wechatpay_appid: str = ""
    wechatpay_merchant_serial: str = ""
    wechatpay_platform_serial: str = ""
    wechatpay_timeout_seconds: float = field(default=10.0, metadata=bounds(0.5, 60))
    # Where the provider notifies workorder of a payment: this site's public https address of
    # POST /payment-notifications/wechatpay.
    payment_notify_url: str = ""
    # The adapter built from the settings above, None when the site takes no online payment.
    payment_provider: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def from_settings(cls, settings: Any) -> WorkorderSettings:
        extra = dict(settings.extra)
        if extra.get("owner_portal_url") is None:
            extra.pop("owner_portal_url", None)  # `owner_portal_url:` left empty in YAML
        options = typed_settings(cls, extra)
        try:
            rate = Decimal(str(options.labour_rate))
        except InvalidOperation:
            rate = None
        if rate is None or not rate.is_finite() or rate <= 0:
            raise ConfigError(f"labour_rate: {options.labour_rate!r} is not a positive amount")
        provider = _wechatpay(options, settings)
        return dataclasses.replace(options, payment_provider=provider) if provider else options

    @property
    def default_labour_rate(self) -> Decimal:
        return Decimal(self.labour_rate)

    @property
    def report_link_ttl_seconds(self) -> int:
        return int(float(self.report_link_ttl_hours) * 3600)

    @property
    def quote_link_ttl_seconds(self) -> int:
        return int(float(self.quote_link_ttl_hours) * 3600)


def _wechatpay(options: WorkorderSettings, settings: Any) -> WechatPayV3 | None:
    """The WeChat Pay adapter, when the site sets online payment up (all of it, or none)."""
    given = {name: str(getattr(options, name) or "").strip() for name in WECHATPAY_IDS}
    keys = {name: given_secret(settings, name) for name in WECHATPAY_SECRETS}
    if not any(given.values()) and not any(keys.values()):
        return None
    for name, value in [*given.items(), *keys.items()]:
        if not value:
            raise ConfigError(f"{name}: missing (online payment is set up only with every "
                              f"one of {', '.join(WECHATPAY_IDS + WECHATPAY_SECRETS)})")
    development = getattr(settings, "environment", "production") == "development"
    for name in ("wechatpay_base_url", "payment_notify_url"):
        url = urlsplit(given[name])
        if url.scheme not in (("https", "http") if development else ("https",)) or not url.netloc:
            raise ConfigError(f"{name}: {given[name]!r} is not an https URL")
    if urlsplit(given["payment_notify_url"]).query:
        raise ConfigError("payment_notify_url: WeChat Pay takes a notify URL without a query")
    try:
        private_key = load_private_key(str(keys["wechatpay_merchant_private_key"]))
    except ValueError as exc:
        raise ConfigError(f"wechatpay_merchant_private_key: not a PEM RSA private key "
                          f"({str(exc).splitlines()[0][:80]})") from None
    try:
        public_key = load_public_key(str(keys["wechatpay_platform_public_key"]))
    except ValueError as exc:
        raise ConfigError(f"wechatpay_platform_public_key: not a PEM RSA public key or "
                          f"certificate ({str(exc).splitlines()[0][:80]})") from None
    apiv3_key = str(keys["wechatpay_apiv3_key"]).encode()
    if len(apiv3_key) != APIV3_KEY_BYTES:
        raise ConfigError(f"wechatpay_apiv3_key: must be {APIV3_KEY_BYTES} characters (the "
                          "APIv3 key set in the merchant platform)")
    return WechatPayV3(WechatPayConfig(
        base_url=given["wechatpay_base_url"], mchid=given["wechatpay_mchid"],
        appid=given["wechatpay_appid"], merchant_serial=given["wechatpay_merchant_serial"],
        notify_url=given["payment_notify_url"], merchant_private_key=private_key,
        platform_public_key=public_key, apiv3_key=apiv3_key,
        platform_serial=options.wechatpay_platform_serial.strip(),
        timeout_seconds=float(options.wechatpay_timeout_seconds)))
