"""distinct counts per kind and programme (tally_reach slices)

Revision ID: a41c7e2d9b10
Revises: 308a790c04f7
Create Date: 2026-12-05 12:30:00

tally_reach gains the slice it counts in (kind_id, program_id; -1 = every kind / every
programme), so the tally page answers a kind or programme filter from pre-aggregated rows. The
rows already there are the all-activities slice (-1, -1), unchanged; the other slices are
derived data the migration cannot compute without the application's code: run
`flask tallies rebuild` once after upgrading (`flask tallies verify` reports them missing until
then; `make run` does it by itself).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a41c7e2d9b10"
down_revision = "308a790c04f7"
branch_labels = None
depends_on = None

NEW_KEY = ["unit_id", "entity", "kind_id", "program_id", "month", "prev_month", "run_start"]
OLD_KEY = ["unit_id", "entity", "month", "prev_month", "run_start"]


def upgrade():
    with op.batch_alter_table("tally_reach", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind_id", sa.Integer(), nullable=False, server_default="-1"))
        batch_op.add_column(
            sa.Column("program_id", sa.Integer(), nullable=False, server_default="-1")
        )
        batch_op.drop_constraint("pk_tally_reach", type_="primary")
        batch_op.create_primary_key("pk_tally_reach", NEW_KEY)
    with op.batch_alter_table("tally_reach", schema=None) as batch_op:
        batch_op.alter_column("kind_id", server_default=None)
        batch_op.alter_column("program_id", server_default=None)


def downgrade():
    op.execute("DELETE FROM tally_reach WHERE kind_id <> -1 OR program_id <> -1")
    with op.batch_alter_table("tally_reach", schema=None) as batch_op:
        batch_op.drop_constraint("pk_tally_reach", type_="primary")
        batch_op.create_primary_key("pk_tally_reach", OLD_KEY)
        batch_op.drop_column("program_id")
        batch_op.drop_column("kind_id")
