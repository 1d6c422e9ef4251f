"""phone seats: each CSR's SIP seat (registrar, user, transport, devices, the address the phone company dials)

Revision ID: 0011_phone_seats
Revises: 0009_sync_problems
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_phone_seats'
down_revision = '0009_sync_problems'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('phone_seats',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('sip_address', sa.String(length=200), nullable=False),
    sa.Column('registrar', sa.String(length=200), nullable=False),
    sa.Column('proxy', sa.String(length=200), nullable=False),
    sa.Column('sip_user', sa.String(length=80), nullable=False),
    sa.Column('transport', sa.String(length=4), nullable=False),
    sa.Column('input_device', sa.String(length=120), nullable=False),
    sa.Column('output_device', sa.String(length=120), nullable=False),
    sa.Column('ring_device', sa.String(length=120), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_phone_seats_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_phone_seats'))
    )


def downgrade() -> None:
    op.drop_table('phone_seats')
