"""back-channel and front-channel logout, session clients, known browsers

Revision ID: 7c2d4e6f8a10
Revises: 3b7e5c0d9a21
Create Date: 2026-12-06 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c2d4e6f8a10'
down_revision = '3b7e5c0d9a21'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('backchannel_logout_uri', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('backchannel_logout_session_required', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('frontchannel_logout_uri', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('frontchannel_logout_session_required', sa.Boolean(), nullable=True))

    op.create_table('session_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('first_at', sa.DateTime(), nullable=False),
    sa.Column('last_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sid', 'client_id', name='uq_session_clients_sid_client')
    )
    with op.batch_alter_table('session_clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_clients_sid'), ['sid'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_clients_user_id'), ['user_id'], unique=False)

    op.create_table('logout_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('claim', sa.String(length=32), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('jti', sa.String(length=64), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('logout_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_logout_deliveries_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_logout_deliveries_client', ['client_id', 'created_at'], unique=False)

    op.create_table('known_browsers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('device_hash', sa.String(length=64), nullable=False),
    sa.Column('agent', sa.String(length=100), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('notice_hash', sa.String(length=64), nullable=True),
    sa.Column('notice_expires_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'device_hash', name='uq_known_browsers_device'),
    sa.UniqueConstraint('notice_hash')
    )
    with op.batch_alter_table('known_browsers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_known_browsers_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('known_browsers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_known_browsers_user_id'))
    op.drop_table('known_browsers')
    with op.batch_alter_table('logout_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_logout_deliveries_client')
        batch_op.drop_index('ix_logout_deliveries_due')
    op.drop_table('logout_deliveries')
    with op.batch_alter_table('session_clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_clients_user_id'))
        batch_op.drop_index(batch_op.f('ix_session_clients_sid'))
    op.drop_table('session_clients')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('frontchannel_logout_session_required')
        batch_op.drop_column('frontchannel_logout_uri')
        batch_op.drop_column('backchannel_logout_session_required')
        batch_op.drop_column('backchannel_logout_uri')
