"""Indexes for the leads list (open leads by follow-up date, closed ones by age).

Revision ID: 0003_leads_indexes
Revises: 0002_booking
"""
from alembic import op


revision = '0003_leads_indexes'
down_revision = '0002_booking'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index('ix_leads_status_follow_up_on', ['status', 'follow_up_on'], unique=False)
        batch_op.create_index('ix_leads_status_created_at', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_status_created_at')
        batch_op.drop_index('ix_leads_status_follow_up_on')
