"""jwt access tokens: clients.access_token_format, tokens.jti and authentication, revoked jtis

Expand only: new nullable columns (the client's with a server default) and a new table.

Revision ID: 9d4f1b7e3c52
Revises: 7c1a9e4b2d10
Create Date: 2026-11-30 20:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9d4f1b7e3c52'
down_revision = '7c1a9e4b2d10'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_token_format', sa.String(length=10), nullable=True, server_default='opaque'))
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('jti', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('authentication', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_tokens_jti'), ['jti'], unique=False)
    op.create_table('revoked_access_tokens',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('jti')
    )
    with op.batch_alter_table('revoked_access_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revoked_access_tokens_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('revoked_access_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revoked_access_tokens_expires_at'))
    op.drop_table('revoked_access_tokens')
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tokens_jti'))
        batch_op.drop_column('authentication')
        batch_op.drop_column('jti')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('access_token_format')
