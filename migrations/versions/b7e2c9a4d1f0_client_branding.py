"""client branding: colour, support contact, logo (stored, served from our origin)

Expand only: new nullable columns on clients and a new table.

Revision ID: b7e2c9a4d1f0
Revises: b7e2c4a91d03
Create Date: 2026-11-30 21:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e2c9a4d1f0'
down_revision = 'b7e2c4a91d03'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('brand_color', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('support_email', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('support_phone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('support_url', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('logo_sha256', sa.String(length=64), nullable=True))
    op.create_table('client_logos',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=20), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('client_id')
    )


def downgrade():
    op.drop_table('client_logos')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('logo_sha256')
        batch_op.drop_column('support_url')
        batch_op.drop_column('support_phone')
        batch_op.drop_column('support_email')
        batch_op.drop_column('brand_color')
