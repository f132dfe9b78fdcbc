"""plates in the shared normal form (contracts.plate): what was stored as typed is found

Until now crm kept a vehicle's plate as the site sent it (a walk-in typed `京a 12345`) but
searched for an upper-case, space-free form, so such a car could not be found. Searches now
use `contracts.plate.normal_plate`, which also folds full-width characters, separators,
pinyin provinces and O/I in the serial; this brings the stored plates to the same form.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 18:45:00
"""

import sqlalchemy as sa
from alembic import op

from contracts.plate import normal_plate

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

PAGE = 5000
vehicles = sa.table("vehicles", sa.column("vin", sa.String), sa.column("plate", sa.String))


def upgrade() -> None:
    # A page at a time in VIN order, so a fleet of millions is never held in memory.
    connection, after = op.get_bind(), ""
    while True:
        page = connection.execute(
            sa.select(vehicles.c.vin, vehicles.c.plate)
            .where(vehicles.c.vin > after, vehicles.c.plate.is_not(None))
            .order_by(vehicles.c.vin).limit(PAGE)).all()
        if not page:
            return
        after = page[-1].vin
        changed = [{"key": row.vin, "normal": normal_plate(row.plate)} for row in page]
        # A plate whose normal form would not fit the column (none known) stays as it was.
        changed = [c for c, row in zip(changed, page, strict=True)
                   if c["normal"] != row.plate and 2 <= len(c["normal"]) <= 16]
        if changed:
            connection.execute(
                vehicles.update().where(vehicles.c.vin == sa.bindparam("key"))
                .values(plate=sa.bindparam("normal")), changed)


def downgrade() -> None:
    pass  # the plates as typed are not kept; the normal form serves the old code as well
