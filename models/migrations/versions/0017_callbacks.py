"""callback queue: one item per Abandoned call with a caller number (docs/phone.md)

Revision ID: 0017_callbacks
Revises: 0016_availability
"""
from alembic import op
import sqlalchemy as sa


revision = '0017_callbacks'
down_revision = '0016_availability'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('callbacks',
    sa.Column('call_id', sa.String(length=32), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=True),
    sa.Column('voicemail', sa.Boolean(), nullable=False),
    sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('claimed_by', sa.String(length=32), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_callbacks_call_id_calls')),
    sa.ForeignKeyConstraint(['claimed_by'], ['users.id'], name=op.f('fk_callbacks_claimed_by_users')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_callbacks_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callbacks')),
    sa.UniqueConstraint('call_id', name=op.f('uq_callbacks_call_id')),
    )
    op.create_index(op.f('ix_callbacks_status'), 'callbacks', ['status'], unique=False)
    op.create_index(op.f('ix_callbacks_waiting_since'), 'callbacks', ['waiting_since'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_callbacks_waiting_since'), table_name='callbacks')
    op.drop_index(op.f('ix_callbacks_status'), table_name='callbacks')
    op.drop_table('callbacks')
