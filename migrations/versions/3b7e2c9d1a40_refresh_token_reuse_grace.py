"""refresh token reuse grace: tokens know their parent and whether rotation spent them

Revision ID: 3b7e2c9d1a40
Revises: a7c3e1d90b21
Create Date: 2026-11-30 19:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3b7e2c9d1a40'
down_revision = 'a7c3e1d90b21'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('refresh_rotated_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_tokens_parent_id'), ['parent_id'], unique=False)
    # Rotation spent only the refresh token; every other revocation also revoked the access
    # token. So existing rotated tokens are still recognised when replayed.
    op.execute(
        "UPDATE tokens SET refresh_rotated_at = refresh_revoked_at"
        " WHERE refresh_revoked_at IS NOT NULL AND access_revoked_at IS NULL"
    )


def downgrade():
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tokens_parent_id'))
        batch_op.drop_column('refresh_rotated_at')
        batch_op.drop_column('parent_id')
