"""Tables owned by the portal alone: the sessions of people signed in through its pages.

The portal keeps no business data (that is the services'); a session holds the tokens the
person's sign-in gave, sealed with the portal's own secret, under the hash of the random
cookie value (a stolen table opens no session).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

_TIME = sa.DateTime(timezone=True)

sessions = sa.Table(
    "sessions", metadata,
    sa.Column("session_hash", sa.String(64), primary_key=True),  # sha256 of the cookie value
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("subject", sa.String(64), nullable=False),       # user id; an owner's customer id
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("issuer_url", sa.String(300), nullable=False),   # where the tokens refresh
    sa.Column("tokens", sa.Text, nullable=False),              # sealed {access, refresh, expires}
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("expires_at", _TIME, nullable=False),
    sa.Index("ix_sessions_expires_at", "expires_at"),
)
