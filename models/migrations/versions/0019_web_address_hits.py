"""the Web Scheduler's per-address POST counts, shared by every server instance (docs/web-scheduler.md)

Revision ID: 0019_web_address_hits
Revises: 0018_voicemail_callback
"""
from alembic import op
import sqlalchemy as sa


revision = '0019_web_address_hits'
down_revision = "0018_voicemail_callback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_address_hits',
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('minute', sa.Integer(), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('address', 'minute', name=op.f('pk_web_address_hits')),
    )


def downgrade() -> None:
    op.drop_table('web_address_hits')
