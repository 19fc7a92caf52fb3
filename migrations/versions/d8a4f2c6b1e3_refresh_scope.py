"""refresh scope: a refresh token keeps its grant's scope when a refresh narrows the access token's

Expand only: a nullable column (None: the row's scope, as every existing row means).

Revision ID: d8a4f2c6b1e3
Revises: c3f5a7d9e1b2
Create Date: 2026-12-01 07:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd8a4f2c6b1e3'
down_revision = 'c3f5a7d9e1b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refresh_scope', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_column('refresh_scope')
