"""password reset cooling-off for users whose only factor is the mailbox

Revision ID: a7c3e1d90b21
Revises: 5b1e7c2a9d40
Create Date: 2026-11-30 19:40:00

Expand only: two nullable columns, so the previous release keeps working beside this one.
"""
from alembic import op
import sqlalchemy as sa


revision = 'a7c3e1d90b21'
down_revision = '5b1e7c2a9d40'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('password_resets') as batch:
        batch.add_column(sa.Column('cooling_until', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('cancel_hash', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('password_resets') as batch:
        batch.drop_column('cancel_hash')
        batch.drop_column('cooling_until')
