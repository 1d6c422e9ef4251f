"""routing marks: a call sent to voicemail or whose caller asked for a callback; the callback item of a
caller who asked (docs/phone.md)

Revision ID: 0018_voicemail_callback
Revises: 0017_callbacks
"""
from alembic import op
import sqlalchemy as sa


revision = '0018_voicemail_callback'
down_revision = '0017_callbacks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls') as batch:
        batch.add_column(sa.Column('routed_to', sa.String(length=20), nullable=False, server_default=''))
    with op.batch_alter_table('callbacks') as batch:
        batch.add_column(sa.Column('requested', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('callbacks') as batch:
        batch.drop_column('requested')
    with op.batch_alter_table('calls') as batch:
        batch.drop_column('routed_to')
