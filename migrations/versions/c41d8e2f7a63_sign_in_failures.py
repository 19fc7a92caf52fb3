"""failed password attempts per (account, source)

Revision ID: c41d8e2f7a63
Revises: 3b7e2c9d1a40
Create Date: 2026-11-30 19:30:00

Expand only: a new table the previous release never reads.
"""
from alembic import op
import sqlalchemy as sa


revision = 'c41d8e2f7a63'
down_revision = '3b7e2c9d1a40'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sign_in_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('last_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash', 'source')
    )
    with op.batch_alter_table('sign_in_failures') as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_failures_key_hash'), ['key_hash'], unique=False)


def downgrade():
    op.drop_table('sign_in_failures')
