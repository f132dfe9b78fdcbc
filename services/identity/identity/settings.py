"""identity's own settings (`services.identity` in the YAML, or AFTERSALES_IDENTITY_<NAME>),
read once at start and checked there: a bad value stops the start with one line naming it.

Its secrets are its own stack's (`chassis.config.own_secret`): `key_encryption_key` seals the
signing keys and keys the phone index and one-time codes; the OpenID Connect client secret is
the one the car maker's provider issued to headquarters.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chassis.config import ConfigError, bounds, own_secret, typed_settings
from identity.domain import Backoff, CodePolicy

OIDC_KEYS = {"issuer", "client_id", "client_secret", "client_secret_file", "redirect_uri",
             "scopes", "role_claim", "dealer_claim"}


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    scopes: tuple[str, ...] = ("openid", "profile", "email", "aftersales")
    role_claim: str = "aftersales_role"
    dealer_claim: str = "aftersales_dealer"


@dataclass(frozen=True)
class IdentitySettings:
    # This identity's issuer URL: the `iss` of its tokens, and where its keys are published
    # (`<issuer>/.well-known/jwks.json`); every service that trusts it names the same URL.
    issuer: str = ""
    # Access tokens live minutes: sign-out and deactivation reach every service within this.
    access_token_seconds: int = field(default=300, metadata=bounds(30, 3600))
    partner_token_seconds: int = field(default=600, metadata=bounds(30, 3600))
    # How long a staff sign-in lasts (its refresh tokens), from the moment of signing in.
    session_hours: float = field(default=12.0, metadata=bounds(0.1, 720))
    owner_session_days: float = field(default=30.0, metadata=bounds(0.01, 365))
    lockout_threshold: int = field(default=5, metadata=bounds(1, 100))
    lockout_first_seconds: int = field(default=30, metadata=bounds(1, 86400))
    lockout_longest_seconds: int = field(default=3600, metadata=bounds(1, 86400))
    lockout_forget_minutes: float = field(default=15.0, metadata=bounds(0.1, 10080))
    # A client address gets more failures than one user name: a counter's shared terminal.
    address_lockout_threshold: int = field(default=20, metadata=bounds(1, 10000))
    owner_code_minutes: float = field(default=5.0, metadata=bounds(1, 30))
    owner_code_attempts: int = field(default=5, metadata=bounds(1, 10))
    owner_code_interval_seconds: int = field(default=60, metadata=bounds(1, 3600))
    owner_codes_per_phone_per_hour: int = field(default=5, metadata=bounds(1, 100))
    owner_codes_per_address_per_hour: int = field(default=20, metadata=bounds(1, 10000))
    # After a partner's secret is rotated, the previous one still works this long (0: never).
    partner_secret_overlap_hours: float = field(default=24.0, metadata=bounds(0, 720))
    # argon2id cost (RFC 9106's second recommendation by default: 64 MiB, 3 passes).
    password_time_cost: int = field(default=3, metadata=bounds(1, 20))
    password_memory_kib: int = field(default=65536, metadata=bounds(1024, 1048576))
    password_parallelism: int = field(default=4, metadata=bounds(1, 16))
    notify_timeout_seconds: float = field(default=5.0, metadata=bounds(0.1, 60))
    oidc: OidcSettings | None = None
    key_encryption_key: str = field(default="", repr=False)

    @classmethod
    def from_settings(cls, settings: Any) -> IdentitySettings:
        extra = {k: v for k, v in settings.extra.items() if k != "oidc"}
        options = typed_settings(cls, extra, oidc=None, key_encryption_key="")
        _check_url("issuer", options.issuer)
        oidc = _oidc(settings)
        return dataclasses.replace(
            options, oidc=oidc, key_encryption_key=own_secret(settings, "key_encryption_key"))

    @property
    def lockout(self) -> Backoff:
        return Backoff(threshold=self.lockout_threshold,
                       first_lock=timedelta(seconds=self.lockout_first_seconds),
                       longest_lock=timedelta(seconds=self.lockout_longest_seconds),
                       forget_after=timedelta(minutes=self.lockout_forget_minutes))

    @property
    def address_lockout(self) -> Backoff:
        return dataclasses.replace(self.lockout, threshold=self.address_lockout_threshold)

    @property
    def codes(self) -> CodePolicy:
        return CodePolicy(lifetime=timedelta(minutes=self.owner_code_minutes),
                          attempts=self.owner_code_attempts,
                          interval=timedelta(seconds=self.owner_code_interval_seconds),
                          per_phone_per_hour=self.owner_codes_per_phone_per_hour,
                          per_address_per_hour=self.owner_codes_per_address_per_hour)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.session_hours)

    @property
    def owner_session_lifetime(self) -> timedelta:
        return timedelta(days=self.owner_session_days)

    @property
    def partner_secret_overlap(self) -> timedelta:
        return timedelta(hours=self.partner_secret_overlap_hours)

    @property
    def longest_token(self) -> timedelta:
        """The longest an access token of this issuer lives: a rotated-out key is published
        at least this long after rotation."""
        return timedelta(seconds=max(self.access_token_seconds, self.partner_token_seconds))


def _check_url(name: str, value: str) -> None:
    if not value:
        raise ConfigError(f"{name}: missing (this identity's issuer URL, e.g. "
                          "https://id.d001.example.cn)")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or value.endswith("/"):
        raise ConfigError(f"{name}: {value!r} is not an http(s) URL without a trailing slash")


def _oidc(settings: Any) -> OidcSettings | None:
    raw = settings.extra.get("oidc")
    if not raw:
        return None
    if not isinstance(raw, dict):
        raise ConfigError("oidc: must be a mapping {issuer, client_id, client_secret, "
                          "redirect_uri}")
    if not settings.at_headquarters:
        raise ConfigError("oidc: only headquarters delegates sign-in to the car maker's "
                          "provider; a site's staff sign in with their password")
    unknown = set(raw) - OIDC_KEYS
    if unknown:
        raise ConfigError(f"oidc.{sorted(unknown)[0]}: unknown setting")
    for key in ("issuer", "client_id", "redirect_uri"):
        if not raw.get(key):
            raise ConfigError(f"oidc.{key}: missing")
    if urlsplit(str(raw["issuer"])).scheme not in ("http", "https"):
        raise ConfigError(f"oidc.issuer: {raw['issuer']!r} is not an http(s) URL")
    secret = _client_secret(raw)
    scopes = raw.get("scopes") or OidcSettings.scopes
    if isinstance(scopes, str):
        scopes = scopes.split()
    return OidcSettings(issuer=str(raw["issuer"]), client_id=str(raw["client_id"]),
                        client_secret=secret, redirect_uri=str(raw["redirect_uri"]),
                        scopes=tuple(str(s) for s in scopes),
                        role_claim=str(raw.get("role_claim") or OidcSettings.role_claim),
                        dealer_claim=str(raw.get("dealer_claim") or OidcSettings.dealer_claim))


def _client_secret(raw: dict[str, Any]) -> str:
    """The provider issued it, so no stand-in and no length rule of ours: given, or read from
    the file `client_secret_file` names (a Kubernetes Secret)."""
    value, path = raw.get("client_secret"), raw.get("client_secret_file")
    if value in (None, "") and path:
        try:
            value = Path(str(path)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"oidc.client_secret_file: cannot read {path} "
                              f"({exc.strerror})") from None
    if value in (None, ""):
        raise ConfigError("oidc.client_secret: missing (set it, or client_secret_file)")
    return str(value)
