"""Tables owned by identity alone: accounts, sessions and their refresh tokens, signing keys,
throttles, owners' one-time codes, partner clients, pending OpenID Connect sign-ins and the
audit log.

Nothing secret is stored as given: passwords as argon2id hashes, refresh tokens and partner
secrets as SHA-256 of their 256 random bits, one-time codes and phones as keyed hashes, and
private keys sealed with the key-encryption key (`identity.secrets`).
"""

from __future__ import annotations

import sqlalchemy as sa

from chassis.audit import define_audit_log
from chassis.db import define_backbone_tables

metadata = sa.MetaData()

_WHEN = sa.DateTime(timezone=True)

users = sa.Table(
    "users", metadata,
    # The staff id: the subject of the account's tokens, as the other services know the person.
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),  # lower case
    sa.Column("display_name", sa.String(100)),
    sa.Column("role", sa.String(24), nullable=False),
    sa.Column("dealer_code", sa.String(12)),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", _WHEN, nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("deactivated_at", _WHEN),
    sa.Column("deactivated_by", sa.String(100)),
    sa.Index("ix_users_dealer", "dealer_code", "username"),
)

# Failed attempts per key: kind `username` (whether or not an account has the name, so a lock
# says nothing about who exists), `address` (the client's), `owner_address`, `client_address`.
throttles = sa.Table(
    "throttles", metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", _WHEN),
    sa.Column("last_failure_at", _WHEN),
)

sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("role", sa.String(24), nullable=False),
    sa.Column("dealer_code", sa.String(12)),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("user_id", sa.String(64)),
    sa.Column("created_at", _WHEN, nullable=False),
    sa.Column("expires_at", _WHEN, nullable=False),
    sa.Column("revoked_at", _WHEN),
    sa.Column("revoked_reason", sa.String(32)),
    # Claims every token of the session carries (an owner's phone), sealed: personal data.
    sa.Column("claims_sealed", sa.Text),
    sa.Index("ix_sessions_user", "user_id"),
    sa.Index("ix_sessions_expires", "expires_at"),
)

refresh_tokens = sa.Table(
    "refresh_tokens", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("session_id", sa.String(36), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("issued_at", _WHEN, nullable=False),
    sa.Column("used_at", _WHEN),
    sa.Index("ix_refresh_tokens_session", "session_id"),
)

signing_keys = sa.Table(
    "signing_keys", metadata,
    sa.Column("kid", sa.String(32), primary_key=True),
    sa.Column("algorithm", sa.String(16), nullable=False),
    sa.Column("public_jwk", sa.JSON, nullable=False),
    # The PKCS#8 PEM sealed with the key-encryption key; emptied when the key retires.
    sa.Column("private_key_sealed", sa.Text),
    sa.Column("kek_fingerprint", sa.String(16), nullable=False),
    sa.Column("created_at", _WHEN, nullable=False),
    sa.Column("activated_at", _WHEN),  # None: the next key, published before it signs
    sa.Column("rotated_out_at", _WHEN),
    sa.Column("retired_at", _WHEN),
)

owner_codes = sa.Table(
    "owner_codes", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("phone_key", sa.String(64), nullable=False),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("client_address", sa.String(64), nullable=False),
    sa.Column("created_at", _WHEN, nullable=False),
    sa.Column("expires_at", _WHEN, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("consumed_at", _WHEN),
    sa.Index("ix_owner_codes_phone", "phone_key", "created_at"),
    sa.Index("ix_owner_codes_address", "client_address", "created_at"),
)

partner_clients = sa.Table(
    "partner_clients", metadata,
    sa.Column("client_id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("previous_secret_hash", sa.String(64)),
    sa.Column("previous_valid_until", _WHEN),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", _WHEN, nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("secret_rotated_at", _WHEN),
)

# A started OpenID Connect sign-in, by its state, until the browser comes back (10 minutes).
oidc_pending = sa.Table(
    "oidc_pending", metadata,
    sa.Column("state", sa.String(64), primary_key=True),
    sa.Column("nonce", sa.String(64), nullable=False),
    sa.Column("code_verifier", sa.String(128), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("created_at", _WHEN, nullable=False),
)

# The platform's audit log (`chassis.audit`): one shape in every service's database, append-only,
# read by `aftersales audit list identity` as by `GET /audit`. A failed sign-in's actor is
# `anonymous`: who tried is what the log is for, not something the caller proved.
audit_log = define_audit_log(metadata)

# The outbox and inbox every service database carries, so the platform's tools (outbox status,
# the demo's counts) read identity like the others; identity emits and consumes nothing yet.
define_backbone_tables(metadata)
