"""plates in the shared normal form (contracts.plate): what reception stored as typed

Until now reception kept the plate as the advisor typed it (`京a 12345`); it now keeps
`contracts.plate.normal_plate` of it (`京A12345`), the form crm searches. This brings the
plates already stored (repair orders, the vehicles seen here, expected arrivals) to it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 19:00:00
"""

import sqlalchemy as sa
from alembic import op

from contracts.plate import normal_plate

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

PAGE = 5000
TABLES = [sa.table("repair_orders", sa.column("id", sa.String), sa.column("plate", sa.String)),
          sa.table("vehicles", sa.column("vin", sa.String), sa.column("plate", sa.String)),
          sa.table("expected_arrivals", sa.column("appointment_id", sa.String),
                   sa.column("plate", sa.String))]


def upgrade() -> None:
    connection = op.get_bind()
    for table in TABLES:
        key = next(c for c in table.c if c.name != "plate")
        # A page at a time in key order, so a site's years of repair orders are never held
        # in memory at once.
        after = ""
        while True:
            page = connection.execute(
                sa.select(key, table.c.plate)
                .where(key > after, table.c.plate.is_not(None))
                .order_by(key).limit(PAGE)).all()
            if not page:
                break
            after = page[-1][0]
            # A plate whose normal form would not fit the column (none known) stays as it was.
            changed = [{"key": row[0], "normal": normal} for row in page
                       if (normal := normal_plate(row[1])) != row[1] and 2 <= len(normal) <= 16]
            if changed:
                connection.execute(table.update().where(key == sa.bindparam("key"))
                                   .values(plate=sa.bindparam("normal")), changed)


def downgrade() -> None:
    pass  # the plates as typed are not kept; the normal form serves the old code as well
