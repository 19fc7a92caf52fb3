"""users.webauthn_handle: a random server default, so code older than passkeys can add users

88fb7029ffa8 made the column NOT NULL with only a Python default: during a rolling upgrade
from a release before it, the old instances failed every sign-up. A column added to an
existing table is nullable or has a server default (docs/deploy.md, "Upgrades").

Revision ID: e5a9c3f1b702
Revises: 7c2d4e6f8a10
Create Date: 2026-12-01 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5a9c3f1b702'
down_revision = '7c2d4e6f8a10'
branch_labels = None
depends_on = None

# 64 hex characters from the database's cryptographic random source (the column holds 64):
# unique per row like the application's own handles, never derived from the user.
RANDOM_HANDLE = {
    # gen_random_uuid() is built in since PostgreSQL 13: two of them, 244 random bits.
    'postgresql': "replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '')",
    'sqlite': '(lower(hex(randomblob(32))))',
}


def upgrade():
    default = RANDOM_HANDLE[op.get_bind().dialect.name]
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column(
            'webauthn_handle',
            existing_type=sa.String(length=64),
            existing_nullable=False,
            server_default=sa.text(default),
        )


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column(
            'webauthn_handle',
            existing_type=sa.String(length=64),
            existing_nullable=False,
            server_default=None,
        )
