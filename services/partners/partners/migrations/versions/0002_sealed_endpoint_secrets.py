"""endpoints' signing secrets sealed at rest (Fernet under secret_encryption_key)

The column grows to hold a Fernet token, and every secret still stored in clear (`whsec_...`)
is sealed. The key comes from the settings `aftersales migrate` / `run --migrate` hand the
migration (`chassis.db.migrate(..., settings=...)`); a database with no plain secret needs
none. The downgrade opens them again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 03:00:00
"""

import sqlalchemy as sa
from alembic import op

from chassis.config import own_secret
from chassis.sealing import Sealer

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

PLAIN_PREFIX = "whsec_"
# Frozen here: partners.store.ENDPOINT_SECRETS_PURPOSE is, and must stay, the same label.
PURPOSE = b"partners webhook endpoint secrets"

_secrets = sa.table("endpoint_secrets", sa.column("secret_id", sa.String),
                    sa.column("secret", sa.String))


def _sealer() -> Sealer:
    settings = op.get_context().config.attributes.get("settings")
    if settings is None:
        raise RuntimeError("partners 0002 seals the endpoints' secrets with the stack's "
                           "secret_encryption_key: migrate with the service's settings "
                           "(aftersales --config ... migrate partners)")
    return Sealer(own_secret(settings, "secret_encryption_key"), PURPOSE,
                  name="this secret_encryption_key")


def _rewrite(change, wanted) -> None:  # type: ignore[no-untyped-def]
    bind = op.get_bind()
    rows = [(r.secret_id, r.secret) for r in bind.execute(
        sa.select(_secrets.c.secret_id, _secrets.c.secret))]
    rows = [(secret_id, secret) for secret_id, secret in rows if wanted(secret)]
    if not rows:
        return
    sealer = _sealer()
    for secret_id, secret in rows:
        bind.execute(_secrets.update().where(_secrets.c.secret_id == secret_id)
                     .values(secret=change(sealer, secret)))


def upgrade() -> None:
    with op.batch_alter_table('endpoint_secrets') as batch:
        batch.alter_column('secret', existing_type=sa.String(length=120),
                           type_=sa.String(length=400), existing_nullable=False)
    _rewrite(lambda sealer, s: sealer.seal(s), lambda s: s.startswith(PLAIN_PREFIX))


def downgrade() -> None:
    _rewrite(lambda sealer, s: sealer.unseal(s), lambda s: not s.startswith(PLAIN_PREFIX))
    with op.batch_alter_table('endpoint_secrets') as batch:
        batch.alter_column('secret', existing_type=sa.String(length=400),
                           type_=sa.String(length=120), existing_nullable=False)
