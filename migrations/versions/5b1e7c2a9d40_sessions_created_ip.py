"""sessions.created_ip: bound the unfinished sign-ins one address keeps

Revision ID: 5b1e7c2a9d40
Revises: 0dab51e9b54a
Create Date: 2026-11-29 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b1e7c2a9d40'
down_revision = '0dab51e9b54a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_ip', sa.String(length=45), nullable=True))
        batch_op.create_index(batch_op.f('ix_sessions_created_ip'), ['created_ip'], unique=False)


def downgrade():
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_created_ip'))
        batch_op.drop_column('created_ip')
