"""user sessions

Revision ID: 308a790c04f7
Revises: 619183e6d06c
Create Date: 2026-12-05 08:13:03.298104

Signed-in sessions kept on the server (webapp/auth/sessions.py): the cookie carries a random
token naming one row, so signing out ends the session even for a copy of the cookie. Cookies
from before this revision name no row: those browsers and phones sign in once more (entries
waiting on a phone stay there and are sent after that sign-in).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '308a790c04f7'
down_revision = '619183e6d06c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_session',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_user_session_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_user_session_token_hash'))
    )
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_session_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_session_user_id'))

    op.drop_table('user_session')
