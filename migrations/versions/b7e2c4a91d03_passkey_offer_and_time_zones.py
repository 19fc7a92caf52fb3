"""passkey offer and time zones: clients.passkey_offer, users' offer answers and time zone

Expand only: nullable columns, and the client's flag with a server default (on).

Revision ID: b7e2c4a91d03
Revises: 9d4f1b7e3c52
Create Date: 2026-11-30 21:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e2c4a91d03'
down_revision = '9d4f1b7e3c52'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('passkey_offer', sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('passkey_offer_declined_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('passkey_offer_snoozed_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
        batch_op.drop_column('passkey_offer_snoozed_until')
        batch_op.drop_column('passkey_offer_declined_at')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('passkey_offer')
