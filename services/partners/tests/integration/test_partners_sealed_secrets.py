"""Endpoints' signing secrets are sealed at rest: migration 0002 seals the plain `whsec_` rows
a database already holds with the stack's secret_encryption_key (and the downgrade opens them
again), and the service then signs with them as before (real PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from chassis.db import migrate
from chassis.runner import migrations_dir
from chassis.sealing import SealingError
from chassis.testing import make_settings
from partners import models
from partners.service import PartnersService
from partners.store import endpoint_sealer

KEY = "a-secret-encryption-key-of-this-stack-0123456789"
PLAIN = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _settings(url: str):  # type: ignore[no-untyped-def]
    return make_settings("partners", url, "amqp://unused", dealer_code="HQ",
                         environment="production", extra={"secret_encryption_key": KEY})


def _downgrade(url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir(PartnersService)))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["settings"] = _settings(url)
    command.downgrade(config, revision)


def _insert_plain(engine: sa.Engine) -> None:
    """An endpoint and its secret as 0001 stored them: in clear."""
    with engine.begin() as conn:
        conn.execute(models.partners.insert().values(
            partner_id="ptn_a", name="A", client_id="ptn_0123456789abcdef", active=True,
            entitlements={}, created_at=NOW, updated_at=NOW))
        conn.execute(models.endpoints.insert().values(
            endpoint_id="e1", partner_id="ptn_a", url="https://hooks.example.com/in",
            status="ACTIVE", rate_per_second=50.0, rate_burst=100.0, created_at=NOW))
        conn.execute(models.endpoint_secrets.insert().values(
            secret_id="s1", endpoint_id="e1", secret=PLAIN, created_at=NOW))


def test_the_migration_seals_plain_secrets_and_the_downgrade_opens_them(database) -> None:
    url = database("partners_sealing")
    migrate(url, migrations_dir(PartnersService), revision="0001")
    engine = sa.create_engine(url)
    s = models.endpoint_secrets
    try:
        _insert_plain(engine)
        migrate(url, migrations_dir(PartnersService), settings=_settings(url))
        with engine.connect() as conn:
            stored = conn.scalar(sa.select(s.c.secret).where(s.c.secret_id == "s1"))
        assert not stored.startswith("whsec_") and PLAIN not in stored
        assert endpoint_sealer(KEY).unseal(stored) == PLAIN
        with pytest.raises(SealingError):
            endpoint_sealer("another-stacks-secret-encryption-key-000000").unseal(stored)

        _downgrade(url, "0001")
        with engine.connect() as conn:
            assert conn.scalar(sa.select(s.c.secret).where(s.c.secret_id == "s1")) == PLAIN
    finally:
        engine.dispose()


def test_plain_secrets_are_not_sealed_without_the_stacks_key(database) -> None:
    url = database("partners_sealing_nokey")
    migrate(url, migrations_dir(PartnersService), revision="0001")
    engine = sa.create_engine(url)
    try:
        _insert_plain(engine)
        with pytest.raises(RuntimeError, match="secret_encryption_key"):
            migrate(url, migrations_dir(PartnersService))
        with engine.connect() as conn:  # the upgrade rolled back whole: still 0001, in clear
            assert conn.scalar(sa.select(models.endpoint_secrets.c.secret)) == PLAIN
    finally:
        engine.dispose()
