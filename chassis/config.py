"""Settings for one service process: a YAML file, overridden by environment variables.

Every setting is checked at start; a missing or wrong one stops the process with one line
naming it, so an operator never meets a half-configured service at 3 a.m.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from chassis.identity import HEADQUARTERS_SCOPE, SITE_SCOPE, TrustedIssuer
from chassis.registry import EVERY, HEADQUARTERS, SITE, STACKS, stack_of

ENV_PREFIX = "AFTERSALES_"
DEALER_CODE = re.compile(r"^[A-Z0-9]{2,12}$")
SERVICE_NAME = re.compile(r"^[a-z][a-z_]*$")


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it in one line."""


@dataclass(frozen=True)
class RetryPolicy:
    """How a failing event handler is retried before its message is dead-lettered."""

    max_attempts: int = 5
    backoff_initial_seconds: float = 0.2
    backoff_max_seconds: float = 30.0
    backoff_multiplier: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        raw = self.backoff_initial_seconds * self.backoff_multiplier ** (attempt - 1)
        return min(raw, self.backoff_max_seconds)


@dataclass(frozen=True)
class Settings:
    service: str
    dealer_code: str
    database_url: str
    amqp_uri: str
    # The issuers whose tokens this service accepts (chassis.auth): its own stack's identity
    # service and, at a site, headquarters'. Nothing is shared between tenants but public keys.
    trust: tuple[TrustedIssuer, ...] = ()
    # `development` admits the published example keys of deploy/local; anything else refuses them.
    environment: str = "production"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    max_workers: int = 10
    prefetch_count: int = 200
    consumer_batch_size: int = 100
    relay_batch_size: int = 500
    relay_poll_seconds: float = 1.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    log_level: str = "INFO"
    # Where uploads (inspection photos, signatures) are kept, by content hash.
    media_dir: str = "var/media"
    # The site's IANA time zone: opening hours, quiet hours, "today" for the dealer.
    time_zone: str = "UTC"
    # Where the service runs (chassis.registry.SITE or HEADQUARTERS), as its class declares:
    # load_settings reads it from the installed service, the runner from the class it starts;
    # for a service of EVERY stack, from its settings (`stack:`).
    stack: str = SITE
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def site(self) -> str:
        """The CloudEvents `source` prefix: `dealer/D001` at a site, `hq` at headquarters."""
        return "hq" if self.at_headquarters else f"dealer/{self.dealer_code}"

    @property
    def at_headquarters(self) -> bool:
        return self.stack == HEADQUARTERS

    @property
    def source(self) -> str:
        return f"{self.site}/{self.service}"

    @property
    def embedded(self) -> bool:
        return self.amqp_uri.startswith("memory://")

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def nameko_config(self) -> dict[str, Any]:
        """The dict nameko's container expects, derived from these settings."""
        return {
            "AMQP_URI": self.amqp_uri,
            "WEB_SERVER_ADDRESS": f"{self.http_host}:{self.http_port}",
            "max_workers": self.max_workers,
            "serializer": "json",
            # Events are structured-mode CloudEvents (chassis.broker registers the type), so a
            # stock nameko @event_handler takes them as our own consumers do.
            "ACCEPT": ["json", "cloudevents"],
            # A service's events exchange must outlive its producer: consumers bind to it.
            "AUTO_DELETE_EVENT_EXCHANGES": False,
            "AFTERSALES": self,
        }


_INT_FIELDS = {"http_port", "max_workers", "prefetch_count", "consumer_batch_size",
               "relay_batch_size"}
_FLOAT_FIELDS = {"relay_poll_seconds"}
_RETRY_FIELDS = {"max_attempts": int, "backoff_initial_seconds": float,
                 "backoff_max_seconds": float, "backoff_multiplier": float}


def load_settings(service: str, path: str | os.PathLike[str] | None = None,
                  env: dict[str, str] | None = None, stack: str | None = None) -> Settings:
    """Read settings for `service` from YAML (optional) and the environment.

    Precedence: environment > the service's own section of the YAML > the YAML's top level.
    Environment names: AFTERSALES_DEALER_CODE, AFTERSALES_AMQP_URI,
    AFTERSALES_<SERVICE>_DATABASE_URL (or AFTERSALES_DATABASE_URL), AFTERSALES_<SERVICE>_HTTP_PORT …
    The stack is the one the installed service's class declares, unless `stack` is given.
    """
    env = dict(os.environ if env is None else env)
    if not SERVICE_NAME.match(service):
        raise ConfigError(f"service: {service!r} is not a service name")
    if stack is not None and stack not in STACKS:
        raise ConfigError(f"stack: {stack!r} is not {' or '.join(STACKS)}")
    declared = stack or stack_of(service)
    raw: dict[str, Any] = {}
    path = path or env.get(f"{ENV_PREFIX}CONFIG")
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"config file {path}: {exc}".splitlines()[0]) from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path}: the top level must be a mapping")
        services = loaded.pop("services", {}) or {}
        raw.update({k: v for k, v in loaded.items()})
        raw.update(services.get(service, {}) or {})

    names = ["dealer_code", "database_url", "amqp_uri", "trust", "environment", "http_host",
             "log_level", "media_dir", "time_zone", "stack",
             *sorted(_INT_FIELDS), *sorted(_FLOAT_FIELDS)]
    for name in names:
        for key in (f"{ENV_PREFIX}{service.upper()}_{name.upper()}", f"{ENV_PREFIX}{name.upper()}"):
            if key in env:
                raw[name] = _structured(key, env[key])
                break
    # A service's own settings beyond the common ones (keys, channel secrets) come from the
    # environment too, as AFTERSALES_<SERVICE>_<NAME>: containers take secrets that way.
    own = f"{ENV_PREFIX}{service.upper()}_"
    for key, value in env.items():
        name = key[len(own):].lower()
        if key.startswith(own) and name not in names and not name.startswith("retry"):
            raw[name] = _structured(key, value)
    retry_raw = dict(raw.pop("retry", {}) or {})
    for name in _RETRY_FIELDS:
        key = f"{ENV_PREFIX}RETRY_{name.upper()}"
        if key in env:
            retry_raw[name] = env[key]
    return _validated(service, raw, retry_raw, _stack(service, declared, raw.pop("stack", None)))


def _stack(service: str, declared: str, configured: Any) -> str:
    """The stack this process is: the one the service declares, or for a service of EVERY
    stack (identity) the `stack:` its settings give, which must then be there."""
    if configured in (None, ""):
        if declared == EVERY:
            raise ConfigError(f"stack: missing ({service} runs in every stack; say which this "
                              f"is, {' or '.join(STACKS)})")
        return declared
    if configured not in STACKS:
        raise ConfigError(f"stack: {configured!r} is not {' or '.join(STACKS)}")
    if declared != EVERY and configured != declared:
        raise ConfigError(f"stack: {service} runs at {declared} only, not {configured}")
    return str(configured)


def _structured(key: str, value: str) -> Any:
    """A nested setting (e.g. notify's `channels`) comes from the environment as JSON."""
    if not value.lstrip().startswith(("{", "[")):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ConfigError(f"{key}: not valid JSON ({exc})") from None


def _validated(service: str, raw: dict[str, Any], retry_raw: dict[str, Any],
               stack: str) -> Settings:
    def required(name: str) -> str:
        value = raw.get(name)
        if value in (None, ""):
            raise ConfigError(
                f"{name}: missing (set {ENV_PREFIX}{name.upper()} or '{name}' in the config file)")
        return str(value)

    dealer_code = required("dealer_code")
    if not DEALER_CODE.match(dealer_code):
        raise ConfigError(f"dealer_code: {dealer_code!r} must be 2-12 upper-case letters or digits")
    database_url = required("database_url")
    if not re.match(r"^(postgresql(\+psycopg2)?|sqlite)://", database_url):
        raise ConfigError("database_url: must start with postgresql:// or sqlite://")
    database_url = postgres_driver(database_url)
    amqp_uri = required("amqp_uri")
    if not re.match(r"^(amqp|pyamqp|amqps|memory)://", amqp_uri):
        raise ConfigError("amqp_uri: must start with amqp:// (or memory:// for embedded mode)")

    trust = _trusted_issuers(raw.get("trust"), stack, dealer_code)
    environment = str(raw.get("environment", "production"))
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"environment: {environment!r} is not {' or '.join(ENVIRONMENTS)}")

    values: dict[str, Any] = {}
    for name in _INT_FIELDS | _FLOAT_FIELDS:
        if name in raw:
            kind = int if name in _INT_FIELDS else float
            values[name] = _number(name, raw[name], kind, minimum=1 if kind is int else 0.01)
    if "http_port" in values and values["http_port"] > 65535:
        raise ConfigError(f"http_port: {values['http_port']} is not a TCP port")
    retry = RetryPolicy(**{
        name: _number(f"retry.{name}", value, _RETRY_FIELDS[name], minimum=0.001)
        for name, value in retry_raw.items() if name in _RETRY_FIELDS
    })
    unknown_retry = set(retry_raw) - set(_RETRY_FIELDS)
    if unknown_retry:
        raise ConfigError(f"retry.{sorted(unknown_retry)[0]}: unknown setting")
    log_level = str(raw.get("log_level", "INFO")).upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"log_level: {log_level!r} is not DEBUG, INFO, WARNING or ERROR")
    time_zone = str(raw.get("time_zone", "UTC"))
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"time_zone: {time_zone!r} is not an IANA time zone, "
                          "e.g. Asia/Shanghai") from None
    known = {"dealer_code", "database_url", "amqp_uri", "trust", "environment", "http_host",
             "log_level", "media_dir", "time_zone",
             *_INT_FIELDS, *_FLOAT_FIELDS}
    extra = {k: v for k, v in raw.items() if k not in known}
    return Settings(service=service, dealer_code=dealer_code, database_url=database_url,
                    amqp_uri=amqp_uri, trust=trust, environment=environment,
                    http_host=str(raw.get("http_host", "127.0.0.1")),
                    media_dir=str(raw.get("media_dir", "var/media")), time_zone=time_zone,
                    retry=retry, log_level=log_level, stack=stack, extra=extra, **values)


ENVIRONMENTS = ("production", "development")
SECRET_MIN_LENGTH = 32


def development_secret(service: str, name: str) -> str:
    """The published stand-in for a secret, admitted only in `environment: development`."""
    return f"development-only-{service}-{name}-not-a-secret".replace("_", "-")


def given_secret(settings: Settings, name: str) -> str | None:
    """`<name>`, else the content of the file `<name>_file` names; None when neither is set."""
    value = settings.extra.get(name)
    path = settings.extra.get(f"{name}_file")
    if value in (None, "") and path:
        try:
            value = Path(str(path)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{name}_file: cannot read {path} ({exc.strerror})") from None
    return None if value in (None, "") else str(value)


def own_secret(settings: Settings, name: str) -> str:
    """A secret of the service's own settings, from `<name>` or the file named by `<name>_file`
    (a Kubernetes Secret, a compose secret), or AFTERSALES_<SERVICE>_<NAME>[_FILE].

    Missing, short or the published development value: a ConfigError, unless the settings
    say `environment: development` (then the development value stands in for a missing one).
    Each stack signs with its own secrets: none is shared between tenants.
    """
    value = given_secret(settings, name)
    published = development_secret(settings.service, name)
    if settings.environment == "development":
        return value if value is not None else published
    if value is None:
        raise ConfigError(f"{name}: missing (set it, or {name}_file, from the secret store)")
    if str(value) == published:
        raise ConfigError(f"{name}: the published development value; give a secret of your own")
    if len(str(value)) < SECRET_MIN_LENGTH:
        raise ConfigError(f"{name}: must be at least {SECRET_MIN_LENGTH} characters")
    return str(value)


def _trusted_issuers(raw: Any, stack: str, dealer_code: str) -> tuple[TrustedIssuer, ...]:
    """`trust:` — a list of {issuer, scope: headquarters|site, dealer, jwks_url | jwks}.

    Checked against where the service runs: headquarters trusts headquarters' issuer alone,
    and a site no other site's issuer, so a configuration cannot open one tenant to another.
    """
    if not raw:
        raise ConfigError("trust: missing (the issuers whose tokens this service accepts, "
                          "e.g. [{issuer: ..., scope: site, dealer: D001, jwks_url: ...}])")
    if not isinstance(raw, list):
        raise ConfigError("trust: must be a list of issuers")
    issuers = []
    for number, entry in enumerate(raw):
        where = f"trust[{number}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a mapping")
        unknown = set(entry) - {"issuer", "scope", "dealer", "jwks_url", "jwks"}
        if unknown:
            raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown setting")
        issuer, scope = str(entry.get("issuer") or ""), entry.get("scope")
        if not issuer:
            raise ConfigError(f"{where}.issuer: missing")
        if scope not in (HEADQUARTERS_SCOPE, SITE_SCOPE):
            raise ConfigError(f"{where}.scope: {scope!r} is not headquarters or site")
        dealer = entry.get("dealer")
        if scope == SITE_SCOPE:
            if stack == HEADQUARTERS:
                raise ConfigError(f"{where}: headquarters trusts no site's issuer "
                                  "(dealer staff reach headquarters with its own tokens)")
            if dealer != dealer_code:
                raise ConfigError(f"{where}.dealer: a site trusts its own issuer only "
                                  f"({dealer_code}), not {dealer!r}")
        elif dealer:
            raise ConfigError(f"{where}.dealer: headquarters' issuer names no dealer")
        jwks, jwks_url = entry.get("jwks"), entry.get("jwks_url")
        if (jwks is None) == (jwks_url is None):
            raise ConfigError(f"{where}: give either jwks_url or jwks")
        if jwks is not None and not isinstance(jwks, str):
            jwks = json.dumps(jwks)
        issuers.append(TrustedIssuer(issuer=issuer, scope=scope, dealer_code=dealer,
                                     jwks_url=jwks_url, jwks=jwks))
    return tuple(issuers)


def postgres_driver(url: str) -> str:
    """Pin psycopg2: SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3."""
    return re.sub(r"^postgresql://", "postgresql+psycopg2://", url)


def _number(name: str, value: Any, kind: type, minimum: float) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {value!r} is not a {kind.__name__}") from None
    if number < minimum:
        raise ConfigError(f"{name}: {number} is below the minimum {minimum}")
    return number


# -- a service's own settings ----------------------------------------------------------------

def bounds(low: float | None = None, high: float | None = None) -> dict[str, Any]:
    """`field(default=48, metadata=bounds(1, 720))`: the range a number setting must be in."""
    return {"low": low, "high": high}


def typed_settings(kind: type, extra: dict[str, Any], *, prefix: str = "",
                   **computed: Any) -> Any:
    """Build a service's own settings dataclass from `Settings.extra`.

    Each field `name` is read from `<prefix><name>` (else its default) and converted by its
    annotation (int, float, str, bool, dict, list, tuple); a wrong value or one out of its
    `bounds` raises ConfigError naming the setting. `computed` gives fields built elsewhere
    (keys, objects), passed through unchecked.
    """
    values: dict[str, Any] = dict(computed)
    for spec in dataclasses.fields(kind):
        if spec.name in computed or not spec.init:
            continue
        key = f"{prefix}{spec.name}"
        if key not in extra:
            continue
        values[spec.name] = _typed(key, extra[key], str(spec.type), spec.metadata)
    return kind(**values)


_CONVERSIONS: dict[str, Any] = {
    "int": int, "float": float, "str": str, "dict": dict, "list": list, "tuple": tuple}


def _typed(key: str, raw: Any, annotation: str, metadata: Any) -> Any:
    base = annotation.split("[", 1)[0].strip()
    if base == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text not in {"true", "false", "1", "0", "yes", "no"}:
            raise ConfigError(f"{key}: {raw!r} is not true or false")
        return text in {"true", "1", "yes"}
    convert = _CONVERSIONS.get(base)
    if convert is None:
        return raw
    if base in {"dict", "list", "tuple"}:
        raw = _structured(key, raw) if isinstance(raw, str) else raw
        if not isinstance(raw, dict if base == "dict" else (list, tuple)):
            raise ConfigError(f"{key}: must be a {'mapping' if base == 'dict' else 'list'}")
        return convert(raw)
    if base in {"int", "float"}:
        if isinstance(raw, bool):
            raise ConfigError(f"{key}: {raw!r} is not a {base}")
        try:
            value = convert(raw)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{key}: {raw!r} is not a {'whole number' if base == 'int' else 'number'}"
            ) from None
        low, high = metadata.get("low"), metadata.get("high")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(f"{key}: {value} is not between {low} and {high}")
        return value
    return str(raw)
