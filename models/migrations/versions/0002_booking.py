"""Booking: company settings, per-console job numbers, persistent drafts.

Revision ID: 0002_booking
Revises: 0001_initial
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_booking'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('company_settings',
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_company_settings'))
    )
    op.create_table('drafts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drafts'))
    )
    with op.batch_alter_table('client_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('job_prefix', sa.String(length=8), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('next_job_no', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    with op.batch_alter_table('client_state', schema=None) as batch_op:
        batch_op.drop_column('next_job_no')
        batch_op.drop_column('job_prefix')
    op.drop_table('drafts')
    op.drop_table('company_settings')
