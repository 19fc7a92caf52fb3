"""cache versions: workers cache clients in process and drop them when the counter moves

Revision ID: 7c1a9e4b2d10
Revises: e5a9c3f1b702
Create Date: 2026-11-30 19:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c1a9e4b2d10'
down_revision = 'e5a9c3f1b702'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table('cache_versions',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.bulk_insert(table, [{'name': 'clients', 'version': 0}])


def downgrade():
    op.drop_table('cache_versions')
