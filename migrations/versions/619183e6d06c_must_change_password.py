"""must change password; searchable account names

Revision ID: 619183e6d06c
Revises: 6bc82e544a7a
Create Date: 2026-11-28 00:00:50.731807

`must_change_password` is set when an administrator gives an account a temporary password.
`search_name` holds the full name folded (no marks, lower case) for the admin account search;
existing rows are filled in here.
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "619183e6d06c"
down_revision = "6bc82e544a7a"
branch_labels = None
depends_on = None


def _fold(text):
    """A frozen copy of webapp.text.fold as of this revision (a migration must not change
    when the application code does)."""
    if not text:
        return ""
    text = text.replace("đ", "d").replace("Đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(stripped.lower().split())


def upgrade():
    # server_default: rows that already exist get a value, on SQLite (batch copy) and PostgreSQL.
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("search_name", sa.String(length=120), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )

    app_user = sa.table(
        "app_user",
        sa.column("id", sa.Integer),
        sa.column("full_name", sa.String),
        sa.column("search_name", sa.String),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(app_user.c.id, app_user.c.full_name)).all()
    if rows:
        conn.execute(
            app_user.update()
            .where(app_user.c.id == sa.bindparam("user_id"))
            .values(search_name=sa.bindparam("folded")),
            [{"user_id": row.id, "folded": _fold(row.full_name)} for row in rows],
        )


def downgrade():
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
        batch_op.drop_column("search_name")
